"""POST /api/quotes: a quote with its items, numbered and totalled, in one transaction."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.quotes import error_responses
from shared import db
from shared.context import Member
from shared.models.quotes import Quote, QuoteCreate

router = APIRouter(tags=["quotes"])


@router.post(
    "/api/quotes",
    status_code=201,
    response_model=Quote,
    summary="Create a quote with its items",
    description=(
        "One transaction (`create_quote`): the quote (a draft), its items, then the discount. "
        "The number comes from the organization's quote pattern and counter; a failed "
        "creation consumes no number. The currency is the client's; the issue date is "
        "today in the organization's time zone, `valid_until` 30 days later; the tax rate, "
        "template, notes and terms default to the organization's settings."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def create_quote(ctx: Member, body: QuoteCreate, response: Response) -> Quote:
    document = db.rpc(
        ctx.db,
        "create_quote",
        {
            "organization_id": str(ctx.organization_id),
            "quote": body.quote_json(),
            "items": body.items_json(),
        },
    )
    quote = Quote.model_validate(document)
    response.headers["Location"] = f"/api/quotes/{quote.id}"
    return quote
