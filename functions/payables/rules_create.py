"""POST /api/payables/approval-rules: a new approval rule (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import RULE_COLUMNS, error_responses, plain
from shared import db
from shared.context import Admin
from shared.models.payables import ApprovalRule, ApprovalRuleCreate

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/approval-rules",
    status_code=201,
    response_model=ApprovalRule,
    summary="Create an approval rule",
    description=(
        "`name`, `priority` (1-100000, unique in the organization), `steps` (1 to 5, in "
        'order: `{"approver_role": "owner|admin|member"}` (that role or above) or '
        '`{"approvers": [user ids]}` (members of the organization)); conditions, each '
        "optional: `currency` with `min_amount` (inclusive) / `max_amount` (exclusive) on "
        "the invoice total, `vendor_id`, `outcomes` (matched, matched_with_tolerance, "
        "resolved_exception); `active` (default true). Admins and owners."
    ),
    responses=error_responses(400, 401, 403, 409, 422),
)
async def create_rule(ctx: Admin, body: ApprovalRuleCreate) -> ApprovalRule:
    row = {**body.row(), "organization_id": str(ctx.organization_id)}
    created = db.run(ctx.db.from_("approval_rules").insert(row).select(RULE_COLUMNS)).data
    return ApprovalRule.model_validate(plain(created[0]))
