"""The JSON import routes (``POST /api/reconciliation/invoices``, ``/purchase-orders``,
``/receipts``): one body shape, the same validation as a CSV file, one RPC per call."""

# No `from __future__ import annotations`: the route's body annotation names the model
# made in json_import_router, which FastAPI must see as an object, not a string.
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path, Response
from pydantic import Field, create_model

from shared.context import Member
from shared.errors import ApiError, ErrorResponses
from shared.models import Input
from shared.models.imports import ImportReport
from shared.reconciliation import imports
from shared.reconciliation.ingest import JSON_LIST, Kind, Policy, validate_json

MAX_DOCUMENTS = 1000

ImportBatchId = Annotated[UUID, Path(alias="id", description="The import batch's id")]
PurchaseOrderId = Annotated[UUID, Path(alias="id", description="The purchase order's id")]

# The ``responses`` of the import and purchase-order routes for the OpenAPI document.
error_responses = ErrorResponses(
    {
        404: "No such row in the organization",
        422: "Invalid input (validation_failed, details list each field)",
        503: "The database or the file store is briefly unavailable; retry",
    }
)


# The JSON import routes' errors: what 403, 409 and 422 mean there.
_ERRORS = ErrorResponses(
    {
        403: "Role too weak, or not a member",
        409: "A document was stored concurrently by another import",
        422: (
            "validation_failed (the body's shape), or import_rejected: nothing was stored "
            "(all_or_nothing with a rejected document, or every document rejected); "
            "details.rejected lists each one, details.batch is the recorded batch"
        ),
    }
)(400, 401, 403, 409, 422)


def json_import_router(kind: Kind, path: str, summary: str, example: dict[str, Any]) -> APIRouter:
    """The router of one JSON import route."""
    name = JSON_LIST[kind]
    router = APIRouter(tags=["reconciliation"])

    documents_field: Any = Field(
        min_length=1,
        max_length=MAX_DOCUMENTS,
        description=f"1 to {MAX_DOCUMENTS} documents with their lines (docs/api.md)",
        json_schema_extra={"examples": [[example]]},
    )
    policy_field: Any = Field(
        default="all_or_nothing",
        description="all_or_nothing: one bad document stores nothing; accept_valid_rows: "
        "the good documents are stored, the bad ones reported",
    )
    fields: dict[str, Any] = {
        "policy": (Policy, policy_field),
        name: (list[dict[str, Any]], documents_field),
    }
    model: Any = create_model(f"{kind.title().replace('_', '')}Import", __base__=Input, **fields)

    @router.post(
        path,
        status_code=201,
        response_model=ImportReport,
        summary=summary,
        responses=_ERRORS,
    )
    async def import_documents(
        ctx: Member,
        response: Response,
        body: Annotated[model, Body()],
    ) -> ImportReport:
        policy: Policy = body.policy
        parsed = validate_json(kind, getattr(body, name), policy=policy)
        report = imports.store(ctx.db, ctx.organization_id, parsed, policy)
        result = imports.response_report(kind, report)
        response.headers["Location"] = f"/api/reconciliation/imports/{result.batch.id}"
        if result.batch.status == "rejected":
            raise ApiError(
                422,
                "import_rejected",
                result.batch.error or "nothing was imported",
                details={
                    "batch": result.batch.model_dump(mode="json"),
                    "rejected": [r.model_dump(mode="json") for r in result.rejected],
                },
                headers={"Location": response.headers["Location"]},
            )
        result.matching = imports.match_after(ctx.db, ctx.organization_id, kind, report)
        return result

    return router
