"""POST /api/organizations/{id}/transfer-ownership: another member becomes an owner."""

from __future__ import annotations

from fastapi import APIRouter

from functions.organizations import OrganizationId, OwnerOfOrganization, error_responses
from shared import db
from shared.context import SignedIn
from shared.models.organizations import Member, OwnershipTransfer

router = APIRouter(tags=["organizations"])


@router.post(
    "/api/organizations/{id}/transfer-ownership",
    response_model=Member,
    summary="Transfer the ownership",
    description=(
        "Owners only. The member named becomes an owner and the caller an admin, in one "
        "transaction. Answers the new owner's membership."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def transfer_ownership(
    user: SignedIn,
    organization_id: OrganizationId,
    mine: OwnerOfOrganization,
    body: OwnershipTransfer,
) -> Member:
    answer = db.rpc(
        user.db,
        "transfer_ownership",
        {"organization_id": str(organization_id), "user_id": str(body.user_id)},
    )
    return Member.model_validate(answer)
