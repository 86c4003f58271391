"""GET /api/refunds/{id}: one refund with its client, and its payment and invoice."""

from __future__ import annotations

from fastapi import APIRouter

from functions.credits import PathId, error_responses
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.credits import REFUND_SELECT, Refund

router = APIRouter(tags=["refunds"])


@router.get(
    "/api/refunds/{id}",
    response_model=Refund,
    summary="Get a refund",
    responses=error_responses(401, 403, 404, 422),
)
async def get_refund(ctx: Viewer, refund_id: PathId) -> Refund:
    rows = db.run(
        ctx.db.from_("refunds")
        .select(REFUND_SELECT)
        .eq("organization_id", str(ctx.organization_id))
        .eq("id", str(refund_id))
        .limit(1)
    ).data
    if not rows:
        raise not_found("refund")
    return Refund.model_validate(rows[0])
