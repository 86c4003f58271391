"""GET /api/quotes/{id}: one quote with its client, items and the invoice made from it."""

from __future__ import annotations

from fastapi import APIRouter

from functions.quotes import QuoteId, error_responses
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.quotes import Quote

router = APIRouter(tags=["quotes"])


@router.get(
    "/api/quotes/{id}",
    response_model=Quote,
    summary="One quote with its client and items",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_quote(ctx: Viewer, quote_id: QuoteId) -> Quote:
    quote = db.rpc(
        ctx.db,
        "get_quote",
        {"organization_id": str(ctx.organization_id), "quote_id": str(quote_id)},
    )
    if quote is None:
        raise not_found("quote")
    return Quote.model_validate(quote)
