"""GET /api/clients/{id}/credit: a client's credit per currency and its ledger."""

from __future__ import annotations

from fastapi import APIRouter

from functions.credits import PathId, error_responses
from shared import db
from shared.context import Viewer
from shared.models.credits import ClientCredit

router = APIRouter(tags=["client credit"])


@router.get(
    "/api/clients/{id}/credit",
    response_model=ClientCredit,
    summary="A client's credit",
    description=(
        "The balance per currency (credit notes' excess + overpayments - refunds from "
        "credit - credit applied) and the ledger's latest 100 entries, newest first."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def get_client_credit(ctx: Viewer, client_id: PathId) -> ClientCredit:
    return ClientCredit.model_validate(
        db.rpc(
            ctx.db,
            "client_credit",
            {"organization_id": str(ctx.organization_id), "client_id": str(client_id)},
        )
    )
