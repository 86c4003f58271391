"""POST /api/refunds: money returned to a client, from a payment or from client credit.

One SQL function (record_refund): a refund from a payment lowers what of it counts on its
invoice (the invoice opens again); one from credit lowers the client's credit balance.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.credits import error_responses
from shared import db
from shared.context import Member
from shared.models.credits import Refund, RefundCreate

router = APIRouter(tags=["refunds"])


@router.post(
    "/api/refunds",
    response_model=Refund,
    status_code=201,
    summary="Record a refund",
    description=(
        "`payment_id`: a refund from that payment, at most what of it still counts on its "
        "invoice (`applied_amount`), whose balance grows again by the refund. `client_id`: "
        "a refund from the client's credit, at most its balance. Above either: "
        "`422 rule_violation` naming the most."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def create_refund(body: RefundCreate, ctx: Member) -> Refund:
    doc = {k: v for k, v in body.to_json().items() if v is not None}
    return Refund.model_validate(
        db.rpc(
            ctx.db, "record_refund", {"organization_id": str(ctx.organization_id), "refund": doc}
        )
    )
