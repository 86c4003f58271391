"""GET /api/payments/{id}: one payment of the organization, with its invoice and client."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from functions.payments import error_responses
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.payments import PAYMENT_SELECT, Payment

router = APIRouter(tags=["payments"])


@router.get(
    "/api/payments/{id}",
    response_model=Payment,
    summary="Get a payment",
    responses=error_responses(401, 404, 422),
)
async def get_payment(id: UUID, ctx: Viewer) -> Payment:
    rows = db.run(
        ctx.db.from_("payments")
        .select(PAYMENT_SELECT)
        .eq("organization_id", str(ctx.organization_id))
        .eq("id", str(id))
        .limit(1)
    ).data
    if not rows:
        raise not_found("payment")
    return Payment.model_validate(rows[0])
