"""PUT /api/clients/{id}: a partial update of a client (200 with the whole client)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.clients import CLIENT_COLUMNS, ClientId, error_responses, opened, sealed
from shared import db
from shared.context import Member
from shared.errors import ApiError, not_found
from shared.models.clients import Client, ClientUpdate

router = APIRouter(tags=["clients"])


@router.put(
    "/api/clients/{id}",
    response_model=Client,
    summary="Update a client (the fields given)",
    description=(
        "Changes only the fields present; `null` clears an optional field. The totals are "
        "derived from invoices and cannot be written. The currency of a client that has "
        "invoices cannot change (409 `conflict`): its invoices are in that currency."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def update_client(ctx: Member, client_id: ClientId, body: ClientUpdate) -> Client:
    changes = body.changes()
    query = (
        ctx.db.from_("clients")
        .update(sealed(ctx.organization_id, changes))
        .eq("id", str(client_id))
        .eq("organization_id", str(ctx.organization_id))
        .select(CLIENT_COLUMNS)
    )
    try:
        rows = db.run(query).data
    except ApiError as error:
        # The only foreign key a client's update can break is its invoices' (their
        # organization, client and currency): the currency changed under invoices.
        if error.code == "invalid_reference" and "currency" in changes:
            raise ApiError(
                409,
                "conflict",
                "the client has invoices, so its currency cannot change: its invoices are "
                "in its current currency; create a new client to bill in another currency",
            ) from None
        raise
    if not rows:
        raise not_found("client")
    return Client.model_validate(opened(rows[0]))
