"""POST /api/api-keys: a key with its scopes, shown this once."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.integrations import error_responses
from shared import db
from shared.context import Admin
from shared.models.integrations import ApiKeyCreate, ApiKeyWithSecret

router = APIRouter(tags=["integrations"])


@router.post(
    "/api/api-keys",
    status_code=201,
    response_model=ApiKeyWithSecret,
    summary="Create an API key",
    description=(
        "Admins only. `scopes`: `read` or `write` for every area, or per area "
        "(`invoices:read`, `clients:write`, ...; areas: clients, invoices, payments, quotes, "
        "credit_notes, recurring, reconciliation, reports); write includes read. The key acts "
        "as a member of the organization (a viewer when it only reads) under the database's "
        "row-level security, never as an admin. `key` is shown this once; only its hash is kept."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def create_key(ctx: Admin, body: ApiKeyCreate, response: Response) -> ApiKeyWithSecret:
    created = db.rpc(
        ctx.db,
        "create_api_key",
        {"organization_id": str(ctx.organization_id), "name": body.name, "scopes": body.scopes},
    )
    key = ApiKeyWithSecret.model_validate(created)
    response.headers["Location"] = f"/api/api-keys/{key.id}"
    response.headers["Cache-Control"] = "no-store"
    return key
