"""DELETE /api/organizations/{id}: delete it, or close it when it holds financial records."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import OrganizationId, OwnerOfOrganization, error_responses
from shared import db
from shared.context import SignedIn
from shared.models.organizations import OrganizationDeleted

router = APIRouter(tags=["organizations"])


@router.delete(
    "/api/organizations/{id}",
    response_model=OrganizationDeleted,
    summary="Delete (or close) an organization",
    description=(
        "Owners only. An organization without financial records (invoices, quotes, credit "
        "notes, payments, refunds, recurring profiles, client credit, payables documents) is "
        "deleted with everything in it. One with records is **closed** (`closed: true`): kept "
        "for the retention period, read-only, no longer listed nor reachable through the API; "
        "its recurring profiles are paused and its pending invitations revoked."
    ),
    responses=error_responses(400, 401, 403, 404),
)
async def delete_organization(
    user: SignedIn, organization_id: OrganizationId, mine: OwnerOfOrganization
) -> OrganizationDeleted:
    answer = db.rpc(user.db, "delete_organization", {"organization_id": str(organization_id)})
    return OrganizationDeleted.model_validate(answer)
