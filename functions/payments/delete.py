"""DELETE /api/payments/{id}: removes a payment; a paid invoice goes back to sent
(or overdue when past due) with the payment's amount due again."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from functions.payments import error_responses
from shared import db
from shared.context import Member

router = APIRouter(tags=["payments"])


@router.delete(
    "/api/payments/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a payment",
    responses=error_responses(401, 403, 404),
)
async def delete_payment(id: UUID, ctx: Member) -> Response:
    db.rpc(
        ctx.db,
        "delete_payment",
        {"organization_id": str(ctx.organization_id), "payment_id": str(id)},
    )
    return Response(status_code=204)
