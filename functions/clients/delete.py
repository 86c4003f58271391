"""DELETE /api/clients/{id}: deletes a client that has no invoices (204).

A client with invoices is kept with its financial records (invoices -> clients is
ON DELETE RESTRICT): 409 `conflict`, set its status to inactive instead.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.clients import ClientId, error_responses, has_invoices
from shared import db
from shared.context import Member
from shared.errors import ApiError, not_found

router = APIRouter(tags=["clients"])


@router.delete(
    "/api/clients/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a client without invoices",
    description=(
        "Deletes the client and its activity timeline (the audit log keeps the record). "
        "A client that has invoices (any status) is refused with 409 `conflict`: "
        "set its status to `inactive` instead."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def delete_client(ctx: Member, client_id: ClientId) -> Response:
    query = (
        ctx.db.from_("clients")
        .delete()
        .eq("id", str(client_id))
        .eq("organization_id", str(ctx.organization_id))
        .select("id")
    )
    try:
        rows = db.run(query).data
    except ApiError as error:
        # Only invoices refer to clients without cascading (ON DELETE RESTRICT).
        if error.code == "invalid_reference":
            raise has_invoices() from None
        raise
    if not rows:
        raise not_found("client")
    return Response(status_code=204)
