"""POST /api/api-keys/{id}/revoke: the key stops working at once."""

from __future__ import annotations

from fastapi import APIRouter

from functions.integrations import KeyId, error_responses
from shared import db
from shared.context import Admin
from shared.models.integrations import ApiKey

router = APIRouter(tags=["integrations"])


@router.post(
    "/api/api-keys/{id}/revoke",
    response_model=ApiKey,
    summary="Revoke an API key",
    description=(
        "Admins only. The next request with the key is 401; its membership is removed and "
        "its account banned. Revoking twice answers the key as revoked the first time."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def revoke_key(ctx: Admin, key_id: KeyId) -> ApiKey:
    revoked = db.rpc(
        ctx.db,
        "revoke_api_key",
        {"organization_id": str(ctx.organization_id), "key_id": str(key_id)},
    )
    return ApiKey.model_validate(revoked)
