"""POST /api/quotes/{id}/accept and /decline: the client's answer, recorded by a member."""

from __future__ import annotations

from fastapi import APIRouter

from functions.quotes import QuoteId, error_responses
from shared import db
from shared.context import Context, Member
from shared.models.quotes import Quote

router = APIRouter(tags=["quotes"])

_RULE = (
    "Only a sent quote, through its `valid_until` day in the organization's time zone; "
    "after that it is expired (422 rule_violation)."
)


def _decide(ctx: Context, quote_id: QuoteId, decision: str) -> Quote:
    answer = db.rpc(
        ctx.db,
        "decide_quote",
        {
            "organization_id": str(ctx.organization_id),
            "quote_id": str(quote_id),
            "decision": decision,
        },
    )
    return Quote.model_validate(answer)


@router.post(
    "/api/quotes/{id}/accept",
    response_model=Quote,
    summary="Record that the client accepted a quote",
    description=_RULE + " An accepted quote can be converted into an invoice.",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def accept_quote(ctx: Member, quote_id: QuoteId) -> Quote:
    return _decide(ctx, quote_id, "accepted")


@router.post(
    "/api/quotes/{id}/decline",
    response_model=Quote,
    summary="Record that the client declined a quote",
    description=_RULE + " Declined is final.",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def decline_quote(ctx: Member, quote_id: QuoteId) -> Quote:
    return _decide(ctx, quote_id, "declined")
