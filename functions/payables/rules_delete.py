"""DELETE /api/payables/approval-rules/{id}: remove a rule (admins); the steps it opened
keep its name."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.payables import RuleId, error_responses
from shared import db
from shared.context import Admin
from shared.errors import not_found

router = APIRouter(tags=["payables"])


@router.delete(
    "/api/payables/approval-rules/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete an approval rule",
    responses=error_responses(400, 401, 403, 404),
)
async def delete_rule(ctx: Admin, rule_id: RuleId) -> Response:
    query = (
        ctx.db.from_("approval_rules")
        .delete()
        .eq("organization_id", str(ctx.organization_id))
        .eq("id", str(rule_id))
        .select("id")
    )
    if not db.run(query).data:
        raise not_found("approval rule")
    return Response(status_code=204)
