"""Payables (docs/api.md, "Payables: approvals and payment batches"; docs/payables.md):
approval rules, the approval queue and its decisions, payment batches and their bank files
(pain.001, CSV), the organization's debtor account and the vendors' bank accounts. One
Lambda function for the area (``api.py``), a module per route.

Who may decide what, separation of duties and the statuses live in SQL (migration
20261206150100_approvals.sql): the routes parse, call one function and answer its JSON.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import Path

from shared import db
from shared.context import Context
from shared.errors import ErrorResponses

InvoiceId = Annotated[UUID, Path(alias="id", description="The vendor invoice's id")]
RuleId = Annotated[UUID, Path(alias="id", description="The approval rule's id")]
BatchId = Annotated[UUID, Path(alias="id", description="The payment batch's id")]
VendorId = Annotated[UUID, Path(alias="id", description="The vendor's id")]
CreditNoteId = Annotated[UUID, Path(alias="id", description="The vendor credit note's id")]

RULE_COLUMNS = (
    "id,organization_id,name,priority,active,currency,min_amount::text,max_amount::text,"
    "vendor_id,outcomes,steps,created_by,created_at,updated_at"
)

error_responses = ErrorResponses(
    {
        403: (
            "Role too weak, not an approver of the step, or separation of duties (the "
            "importer, an exception's resolver, or the decider of an earlier step)"
        ),
        404: "No such id in the organization",
        409: "A rule with that priority already exists",
        422: (
            "Invalid input (validation_failed naming the field), or a refused change "
            "(rule_violation: not awaiting approval, not approved, already paid...)"
        ),
        503: "The database is briefly unavailable; retry",
    }
)


def plain(value: Any) -> Any:
    """The database's JSON with any Decimal as a string (money never becomes a float)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def call(ctx: Context, function: str, params: dict[str, Any]) -> Any:
    """One SQL function, the organization first, JSON-ready parameters."""
    payload: dict[str, Any] = {"organization_id": str(ctx.organization_id)}
    payload.update({k: (str(v) if isinstance(v, UUID) else v) for k, v in params.items()})
    answer = plain(db.rpc(ctx.db, function, payload))
    if function in _BATCH_FUNCTIONS:  # the IBANs sealed at rest, opened for the answer
        from shared.payables.bank_accounts import open_batch  # noqa: PLC0415

        answer = open_batch(ctx.organization_id, answer)
    return answer


# The functions answering a payment batch (its items' vendor IBANs, the debtor's).
_BATCH_FUNCTIONS = frozenset(
    {"payment_batch", "create_payment_batch", "cancel_payment_batch", "mark_payment_batch_paid"}
)
