"""PATCH /api/quotes/{id}: a partial update of a quote (and a draft's items), in one
transaction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.quotes import QuoteId, error_responses
from shared import db
from shared.context import Member
from shared.models.quotes import Quote, QuoteUpdate

router = APIRouter(tags=["quotes"])


@router.patch(
    "/api/quotes/{id}",
    response_model=Quote,
    summary="Change a quote",
    description=(
        "The fields present change (`null` clears notes and terms); `items` is the whole new "
        "list (a draft's only). A draft changes freely; a sent quote only its notes, terms, "
        "template and `valid_until` (the client may accept what they received: a different "
        "offer is a new quote); an accepted, declined, expired or converted quote only its "
        "notes. `status: sent` marks a draft sent without emailing it."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def update_quote(ctx: Member, quote_id: QuoteId, body: QuoteUpdate) -> Quote:
    params: dict[str, Any] = {
        "organization_id": str(ctx.organization_id),
        "quote_id": str(quote_id),
        "changes": body.changes_json(),
    }
    items = body.items_json()
    if items is not None:
        params["items"] = items
    return Quote.model_validate(db.rpc(ctx.db, "update_quote", params))
