"""POST /api/clients: a new client of the organization (201 with the client)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.clients import CLIENT_COLUMNS, error_responses, opened, sealed
from shared import db
from shared.context import Member
from shared.models.clients import Client, ClientCreate

router = APIRouter(tags=["clients"])


@router.post(
    "/api/clients",
    status_code=201,
    response_model=Client,
    summary="Create a client",
    description=(
        "The currency defaults to the organization's default currency; totals start at "
        "zero and follow the client's invoices. The client's timeline starts with a "
        "`new` activity."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def create_client(ctx: Member, body: ClientCreate) -> Client:
    row = {
        **sealed(ctx.organization_id, body.to_row()),
        "organization_id": str(ctx.organization_id),
    }
    created = db.run(ctx.db.from_("clients").insert(row).select(CLIENT_COLUMNS)).data
    return Client.model_validate(opened(created[0]))
