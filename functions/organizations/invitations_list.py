"""GET /api/organizations/{id}/invitations: the organization's invitations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from functions.organizations import AdminOfOrganization, OrganizationId, error_responses
from shared.context import SignedIn
from shared.listing import PageParams, fetch_page, page_params
from shared.models.common import Page, Pagination
from shared.models.organizations import Invitation

router = APIRouter(tags=["organizations"])

COLUMNS = (
    "id,organization_id,email,role,invited_by,created_at,expires_at,last_sent_at,send_count,"
    "accepted_at,revoked_at"
)


def _status(row: dict[str, Any], now: dt.datetime) -> str:
    if row.get("accepted_at"):
        return "accepted"
    if row.get("revoked_at"):
        return "revoked"
    expires = dt.datetime.fromisoformat(str(row["expires_at"]))
    return "expired" if expires <= now else "pending"


@router.get(
    "/api/organizations/{id}/invitations",
    response_model=Page[Invitation],
    summary="List an organization's invitations",
    description=(
        "Admins and owners; newest first. `status=pending` (the default) lists the live ones "
        "(neither accepted, revoked nor expired), `all` every invitation with its status."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def list_invitations(
    user: SignedIn,
    organization_id: OrganizationId,
    mine: AdminOfOrganization,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[
        Literal["pending", "all"], Query(description="pending (default) or all")
    ] = "pending",
) -> Page[Invitation]:
    now = dt.datetime.now(dt.UTC)
    query = (
        user.db.from_("invitations")
        .select(COLUMNS, count="exact")
        .eq("organization_id", str(organization_id))
    )
    if status == "pending":
        query = (
            query.is_("accepted_at", "null")
            .is_("revoked_at", "null")
            .gt("expires_at", now.isoformat())
        )
    query = query.order("created_at", desc=True).order("id")
    rows, pagination = fetch_page(query, page)
    return Page[Invitation](
        data=[Invitation.model_validate({**row, "status": _status(row, now)}) for row in rows],
        pagination=Pagination(**pagination),
    )
