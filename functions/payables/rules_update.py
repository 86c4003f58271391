"""PATCH /api/payables/approval-rules/{id}: change a rule (admins). Invoices already in
approval keep their steps; the rule applies to the next ones."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import RULE_COLUMNS, RuleId, error_responses, plain
from shared import db
from shared.context import Admin
from shared.errors import not_found
from shared.models.payables import ApprovalRule, ApprovalRuleUpdate

router = APIRouter(tags=["payables"])


@router.patch(
    "/api/payables/approval-rules/{id}",
    response_model=ApprovalRule,
    summary="Change an approval rule (the fields given)",
    description=(
        "The fields of POST /api/payables/approval-rules, each optional; a condition set "
        "to null no longer applies. Steps already opened for invoices are kept."
    ),
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def update_rule(ctx: Admin, rule_id: RuleId, body: ApprovalRuleUpdate) -> ApprovalRule:
    query = (
        ctx.db.from_("approval_rules")
        .update(body.row())
        .eq("organization_id", str(ctx.organization_id))
        .eq("id", str(rule_id))
        .select(RULE_COLUMNS)
    )
    rows = db.run(query).data
    if not rows:
        raise not_found("approval rule")
    return ApprovalRule.model_validate(plain(rows[0]))
