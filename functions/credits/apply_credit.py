"""POST /api/clients/{id}/credit/apply: client credit applied to an open invoice."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from functions.credits import PathId, error_responses
from shared import db
from shared.context import Member
from shared.errors import not_found, validation
from shared.models.credits import CreditApplied, CreditApply

router = APIRouter(tags=["client credit"])


@router.post(
    "/api/clients/{id}/credit/apply",
    response_model=CreditApplied,
    summary="Apply client credit to an invoice",
    description=(
        "The invoice must be the client's, sent or overdue, with a balance due; the amount "
        "(default: as much as the credit and the balance allow) at most both "
        "(`422 rule_violation` otherwise). The invoice's `amount_credited` grows and its "
        "balance falls; at zero it is paid."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def apply_client_credit(
    ctx: Member, client_id: PathId, body: Annotated[CreditApply | None, Body()] = None
) -> CreditApplied:
    body = body or CreditApply()
    if body.invoice_id is None:
        # Another organization's client is not found before the body is judged.
        if not db.run(
            ctx.db.from_("clients")
            .select("id")
            .eq("organization_id", str(ctx.organization_id))
            .eq("id", str(client_id))
            .limit(1)
        ).data:
            raise not_found("client")
        raise validation("invoice_id", "Field required", where="body")
    params = {
        "organization_id": str(ctx.organization_id),
        "client_id": str(client_id),
        "invoice_id": str(body.invoice_id),
        "amount": None if body.amount is None else str(body.amount),
    }
    return CreditApplied.model_validate(db.rpc(ctx.db, "apply_client_credit", params))
