"""DELETE /api/quotes/{id}: a draft is deleted; any other quote stays on record."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.quotes import QuoteId, error_responses
from shared import db
from shared.context import Member

router = APIRouter(tags=["quotes"])


@router.delete(
    "/api/quotes/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a draft quote",
    description=(
        "A draft is deleted with its items: 204. A quote that was sent stays on record "
        "(declined, expired or converted tells what became of it): 422 rule_violation."
    ),
    responses={
        204: {"description": "The draft was deleted"},
        **error_responses(400, 401, 403, 404, 422),
    },
)
async def delete_quote(ctx: Member, quote_id: QuoteId) -> Response:
    db.rpc(
        ctx.db,
        "delete_quote",
        {"organization_id": str(ctx.organization_id), "quote_id": str(quote_id)},
    )
    return Response(status_code=204)
