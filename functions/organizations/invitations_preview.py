"""GET /api/invitations/{token}: what an invitation link offers, before signing in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from functions.organizations import client_address, error_responses, token_hash
from shared import db
from shared.errors import ApiError, not_found, unavailable
from shared.models.organizations import InvitationPreview
from shared.settings import Settings, get_settings

router = APIRouter(tags=["organizations"])

# Previews a client address may ask for in a minute (wrong tokens included).
PREVIEWS_PER_MINUTE = 30


async def _settings() -> Settings:
    return get_settings()


@router.get(
    "/api/invitations/{token}",
    response_model=InvitationPreview,
    summary="Preview an invitation (no login)",
    description=(
        'Public: the page of the link shows "X invites you to Y as viewer" from this. '
        "Minimal data: the organization's name, the role, who invited, the address masked "
        "and the expiry. A wrong, used, revoked or expired token is the same `404`; "
        f"{PREVIEWS_PER_MINUTE} previews a minute per client address, then `429`."
    ),
    responses=error_responses(404, 429, 503),
)
async def preview_invitation(
    request: Request,
    token: Annotated[str, Path(min_length=1, max_length=200, description="The link's token")],
    settings: Annotated[Settings, Depends(_settings)],
) -> InvitationPreview:
    key = settings.supabase_service_role_key
    if not key:
        raise unavailable("invitations cannot be looked up here (no service role configured)")
    answer = db.rpc(
        db.rest(settings, service=key),
        "invitation_preview",
        {
            "token_hash": token_hash(token),
            "client_address": client_address(request),
            "address_limit": PREVIEWS_PER_MINUTE,
        },
    )
    if answer.get("limited"):
        retry = str(int(answer.get("retry_after") or 60))
        raise ApiError(
            429,
            "rate_limited",
            f"too many invitation lookups; retry in {retry} s",
            details={"retry_after": int(retry)},
            headers={"Retry-After": retry},
        )
    if not answer.get("found"):
        raise not_found("invitation")
    return InvitationPreview.model_validate(answer)
