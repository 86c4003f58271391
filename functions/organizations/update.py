"""PATCH /api/organizations/{id}: rename the organization (admins and owners)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import AdminOfOrganization, OrganizationId, error_responses
from shared import db
from shared.context import SignedIn
from shared.errors import not_found
from shared.models.organizations import Organization, OrganizationUpdate

router = APIRouter(tags=["organizations"])


@router.patch(
    "/api/organizations/{id}",
    response_model=Organization,
    summary="Rename an organization",
    description="Admins and owners. The business details are `PUT /api/settings/business`.",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def update_organization(
    user: SignedIn,
    organization_id: OrganizationId,
    mine: AdminOfOrganization,
    body: OrganizationUpdate,
) -> Organization:
    rows = db.run(
        user.db.from_("organizations")
        .update({"name": body.name})
        .eq("id", str(organization_id))
        .is_("closed_at", "null")
    ).data
    if not rows:
        raise not_found("organization")
    return Organization.model_validate({**rows[0], "role": mine.role})
