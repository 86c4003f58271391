"""GET /api/payables/approval-rules: the organization's approval rules, by priority."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import RULE_COLUMNS, error_responses, plain
from shared import db
from shared.context import Viewer
from shared.models.payables import ApprovalRule

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/approval-rules",
    response_model=list[ApprovalRule],
    summary="List the approval rules",
    description=(
        "By `priority` (lowest first: the first active rule that applies to an invoice "
        "decides its steps; none applies: one step, any admin)."
    ),
    responses=error_responses(400, 401, 403),
)
async def list_rules(ctx: Viewer) -> list[ApprovalRule]:
    query = (
        ctx.db.from_("approval_rules")
        .select(RULE_COLUMNS)
        .eq("organization_id", str(ctx.organization_id))
        .order("priority")
        .limit(500)
    )
    return [ApprovalRule.model_validate(r) for r in plain(db.run(query).data)]
