"""The reconciliation routes (docs/api.md, "Reconciliation: vendors, matching and
exceptions"): a module per route, served by the area's function (api.py), the JSON imports'
(json_imports.py) or, for starting a CSV import and matching, functions of their own.

The SQL functions of supabase/migrations/20261206101400_matching.sql do the work (one
round trip each) and answer JSON whose amounts are decimal strings; what the routes
share lives here, kept small.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import Path

from shared import db
from shared.context import Context
from shared.errors import ErrorResponses, not_found

VendorId = Annotated[UUID, Path(alias="id", description="The vendor's id")]
VendorInvoiceId = Annotated[UUID, Path(alias="id", description="The vendor invoice's id")]
ExceptionId = Annotated[UUID, Path(alias="id", description="The exception's id")]

error_responses = ErrorResponses(
    {
        404: "No such id in the organization",
        409: "A name already taken (an alias of another vendor), or a duplicate invoice number",
        413: "The body is larger than the function's limit",
        422: (
            "Invalid input (validation_failed, details list each field), a refused change "
            "(rule_violation), or a reference that is not the organization's "
            "(invalid_reference)"
        ),
        503: "The database is briefly unavailable; retry",
    }
)


def plain(value: Any) -> Any:
    """JSON from the database with any number that has a fraction as a decimal string
    (money and quantities never pass through a float on the way out)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def call(ctx: Context, function: str, params: dict[str, Any]) -> Any:
    """One SQL function, the organization first, JSON-ready parameters."""
    payload = {"organization_id": str(ctx.organization_id)}
    payload.update({k: (str(v) if isinstance(v, UUID) else v) for k, v in params.items()})
    return plain(db.rpc(ctx.db, function, payload))


def found(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise not_found(what)
    return value
