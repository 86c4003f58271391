"""GET /api/payments: the organization's payments, each with its invoice and client."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.payments import error_responses
from shared.context import Viewer
from shared.errors import validation
from shared.listing import (
    PageParams,
    comma_values,
    escape_like,
    fetch_page,
    one_of,
    order_by,
    page_params,
    ranges,
    uuids,
)
from shared.models.common import Page
from shared.models.payments import (
    PAYMENT_METHODS,
    PAYMENT_SELECT,
    PAYMENT_SELECT_BY_CLIENT,
    Payment,
)

router = APIRouter(tags=["payments"])

SORTABLE = {"payment_date", "amount", "created_at"}
DEFAULT_SORT = "-payment_date,-created_at"


def _currencies(raw: str | None) -> list[str]:
    codes = [code.upper() for code in comma_values("currency", raw)]
    if not all(len(code) == 3 and code.isascii() and code.isalpha() for code in codes):
        raise validation("currency", "give three-letter currency codes, e.g. USD,EUR")
    return codes


@router.get(
    "/api/payments",
    response_model=Page[Payment],
    summary="List payments",
    description=(
        "Filters: `invoice_id`, `client_id` (the invoice's client), `payment_method` and "
        "`currency` (comma-separated values), `payment_date_from`/`_to`, `amount_from`/`_to` "
        "(inclusive). `q` searches the reference number and the notes. Sort by "
        "`payment_date`, `amount`, `created_at` (default `-payment_date,-created_at`)."
    ),
    responses=error_responses(401, 403, 422),
)
async def list_payments(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    sort: Annotated[str | None, Query(description="e.g. -payment_date,amount")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="search in reference and notes")
    ] = None,
    invoice_id: Annotated[str | None, Query(description="invoice ids, comma-separated")] = None,
    client_id: Annotated[str | None, Query(description="client ids, comma-separated")] = None,
    payment_method: Annotated[
        str | None, Query(description="comma-separated: " + ", ".join(PAYMENT_METHODS))
    ] = None,
    currency: Annotated[str | None, Query(description="currency codes, comma-separated")] = None,
    payment_date_from: date | None = None,
    payment_date_to: date | None = None,
    amount_from: Annotated[Decimal | None, Query(allow_inf_nan=False)] = None,
    amount_to: Annotated[Decimal | None, Query(allow_inf_nan=False)] = None,
) -> Page[Payment]:
    clients = uuids("client_id", client_id)
    query = (
        ctx.db.from_("payments")
        .select(PAYMENT_SELECT_BY_CLIENT if clients else PAYMENT_SELECT, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    if invoices := uuids("invoice_id", invoice_id):
        query = query.in_("invoice_id", invoices)
    if clients:
        query = query.in_("invoice.client_id", clients)
    if methods := one_of("payment_method", payment_method, PAYMENT_METHODS):
        query = query.in_("payment_method", methods)
    if currencies := _currencies(currency):
        query = query.in_("currency", currencies)
    query = ranges(
        query,
        {
            "payment_date": (payment_date_from, payment_date_to),
            "amount": (amount_from, amount_to),
        },
        refuse_reversed=True,
    )
    if q and (term := escape_like(q.strip())):
        query = query.or_(f"reference_number.ilike.*{term}*,notes.ilike.*{term}*")
    query = order_by(query, sort, SORTABLE, DEFAULT_SORT)
    rows, pagination = fetch_page(query, page)
    return Page[Payment].model_validate({"data": rows, "pagination": pagination})
