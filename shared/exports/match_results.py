"""The reconciliation match results for the export (``public.reconciliation_match_rows``):
one row per vendor invoice line with its invoice's outcome and the line's evidence, in
keyset pages on ``invoice_date desc, vendor_invoice_id desc, line_number``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared import db
from shared.errors import validation
from shared.exports import reading
from shared.exports.reading import CONVERTERS, ReportQuery, and_filter, subtitle
from shared.exports.table import Column, Row, Table
from shared.listing import one_of, ranges, uuids

MATCH_OUTCOMES = ("matched", "matched_with_tolerance", "exception")
MATCH_COLUMNS = [
    Column("invoice_date", "Date", "date", 12),
    Column("invoice_number", "Invoice", "text", 13),
    Column("vendor_name", "Vendor", "text", 20),
    Column("po_number", "PO", "text", 12, in_pdf=False),
    Column("invoice_outcome", "Outcome", "text", 25),
    Column("invoice_status", "Status", "text", 14, in_pdf=False),
    Column("currency", "Cur.", "text", 6),
    Column("total_amount", "Total", "money", 13),
    Column("total_variance", "Total var.", "money", 12, in_pdf=False),
    Column("open_exceptions", "Open exc.", "int", 10, in_pdf=False),
    Column("line_number", "Line", "int", 7),
    Column("line_outcome", "Line outcome", "text", 25),
    Column("rule", "Rule", "text", 20),
    Column("matched_by", "Matched by", "text", 12, in_pdf=False),
    Column("ordered_quantity", "Ordered", "decimal", 10, in_pdf=False),
    Column("received_quantity", "Received", "decimal", 10, in_pdf=False),
    Column("previously_billed_quantity", "Prev. billed", "decimal", 12, in_pdf=False),
    Column("billed_quantity", "Qty", "decimal", 8),
    Column("allowed_quantity", "Allowed qty", "decimal", 10, in_pdf=False),
    # Unit prices and their variance keep every decimal (a unit price may have more
    # than the currency's minor unit): decimals, not money.
    Column("po_unit_price", "PO price", "decimal", 11, in_pdf=False),
    Column("billed_unit_price", "Billed price", "decimal", 11, in_pdf=False),
    Column("price_variance", "Price var.", "decimal", 11),
    Column("price_allowance", "Price allow.", "decimal", 11, in_pdf=False),
    Column("expected_amount", "Expected", "money", 13, in_pdf=False),
    Column("billed_amount", "Billed", "money", 12),
    Column("amount_variance", "Amt var.", "money", 11),
    Column("matched_at", "Matched at", "datetime", 20, in_pdf=False),
    Column("vendor_invoice_id", "Invoice id", "text", 38, in_pdf=False),
    Column("vendor_id", "Vendor id", "text", 38, in_pdf=False),
    Column("purchase_order_id", "PO id", "text", 38, in_pdf=False),
    Column("purchase_order_line_id", "PO line id", "text", 38, in_pdf=False),
]
MATCH_SELECT = ",".join(c.key for c in MATCH_COLUMNS)


def match_results(query: ReportQuery) -> Table:
    """The reconciliation match results (``public.reconciliation_match_rows``): one row
    per vendor invoice line with its invoice's outcome and the line's evidence (an
    invoice without line evidence is one row, its line columns empty); ``from``/``to``
    are the invoice date range, ``outcome`` the invoice's outcomes, ``vendor_id`` its
    vendors. Newest invoice first, its lines in order, read in keyset pages on
    ``(invoice_date desc, vendor_invoice_id desc, line_number)``."""
    o = query.options
    outcomes = one_of("outcome", o.get("outcome"), MATCH_OUTCOMES)
    vendors = uuids("vendor_id", o.get("vendor_id"))
    low, high = query.date_from, query.date_to
    if low is not None and high is not None and low > high:  # pragma: no cover - the route
        raise validation("from", "is after to")
    converters = [CONVERTERS[c.kind] for c in MATCH_COLUMNS]

    def page(after: dict[str, Any] | None, count: bool) -> db.Result:
        q = (
            query.client.from_("reconciliation_match_rows")
            .select(MATCH_SELECT, count="exact" if count else None)
            .eq("organization_id", str(query.organization_id))
        )
        if outcomes:
            q = q.in_("invoice_outcome", outcomes)
        if vendors:
            q = q.in_("vendor_id", vendors)
        q = ranges(q, {"invoice_date": (low, high)}, refuse_reversed=True)
        if after is not None:
            day, invoice, line = (
                after["invoice_date"],
                after["vendor_invoice_id"],
                after["line_number"],
            )
            q = q.lte("invoice_date", day)
            later = (
                f",and(invoice_date.eq.{day},vendor_invoice_id.eq.{invoice},line_number.gt.{line})"
                if line is not None
                else ""  # an invoice without line evidence is a single row
            )
            q = and_filter(
                q,
                f"or(invoice_date.lt.{day},"
                f"and(invoice_date.eq.{day},vendor_invoice_id.lt.{invoice}){later})",
            )
        q = (
            q.order("invoice_date", desc=True)
            .order("vendor_invoice_id", desc=True)
            .order("line_number", nullsfirst=True)
            .limit(reading.PAGE_ROWS)
        )
        return db.run(q)

    first = page(None, True)  # errors (403, 422) before any file is started

    def after(last: dict[str, Any]) -> list[dict[str, Any]]:
        following: list[dict[str, Any]] = page(last, False).data
        return following or []

    def rows() -> Iterator[Row]:
        for found in reading.read_ahead(first.data or [], after, reading.PAGE_ROWS):
            for doc in found:
                yield tuple(
                    convert(doc.get(c.key))
                    for c, convert in zip(MATCH_COLUMNS, converters, strict=True)
                )

    span = f"invoices dated {low or 'any time'} to {high or 'today'}"
    return Table(
        name="match-results",
        title="Reconciliation match results",
        subtitle=subtitle(span, o),
        columns=MATCH_COLUMNS,
        rows=rows(),
        total=first.count,
        date_from=low,
        date_to=high,
    )
