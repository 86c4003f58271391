"""POST /api/organizations: a new organization with the caller as its owner."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.organizations import error_responses
from shared import db
from shared.context import SignedIn
from shared.models.organizations import Organization, OrganizationCreate

router = APIRouter(tags=["organizations"])


@router.post(
    "/api/organizations",
    status_code=201,
    response_model=Organization,
    summary="Create an organization",
    description="Any signed-in user; the caller becomes its owner.",
    responses=error_responses(400, 401, 422),
)
async def create_organization(
    user: SignedIn, body: OrganizationCreate, response: Response
) -> Organization:
    created = db.rpc(user.db, "create_organization", {"name": body.name})
    organization = Organization.model_validate({**created, "role": "owner"})
    response.headers["Location"] = f"/api/organizations/{organization.id}"
    return organization
