"""POST /api/quotes/{id}/convert: an accepted quote made into a draft invoice, in one
transaction (``convert_quote``)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.quotes import QuoteId, error_responses
from shared import db
from shared.context import Member
from shared.models.quotes import QuoteConversion

router = APIRouter(tags=["quotes"])


@router.post(
    "/api/quotes/{id}/convert",
    status_code=201,
    response_model=QuoteConversion,
    summary="Convert an accepted quote into an invoice",
    description=(
        "One transaction: a draft invoice with the quote's client, currency, items, "
        "discount, tax rate, template, notes and terms (empty ones take the organization's "
        "defaults), numbered by the invoice counter and dated today in the organization's "
        "time zone; the invoice's `quote_id` and the quote's `invoice_id` link them and the "
        "quote becomes converted. Converting twice is 409 (racing conversions make one "
        "invoice); a draft, sent, declined or expired quote is 422. Deleting the draft "
        "invoice makes the quote accepted again."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def convert_quote(ctx: Member, quote_id: QuoteId, response: Response) -> QuoteConversion:
    answer = db.rpc(
        ctx.db,
        "convert_quote",
        {"organization_id": str(ctx.organization_id), "quote_id": str(quote_id)},
    )
    result = QuoteConversion.model_validate(answer)
    response.headers["Location"] = f"/api/invoices/{result.invoice.id}"
    return result
