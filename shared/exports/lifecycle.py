"""The billing lifecycle's documents for the export: quotes, credit notes, refunds,
recurring profiles and the client credit ledger, each with the filters of its list route
(``GET /api/quotes``, ``/api/credit-notes``, ``/api/refunds``, ``/api/recurring-profiles``;
the ledger's are those of ``GET /api/clients/{id}/credit`` widened to every client), newest
first, read in keyset pages through PostgREST with the caller's JWT
(`shared.exports.reading.keyset_pages`): ``from``/``to`` are the issue date (quotes, credit
notes), the refund date, the start date (recurring profiles) or the entry's day (ledger).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from shared.errors import validation
from shared.exports.reading import (
    ReportQuery,
    keyset_pages,
    subtitle,
    to_bool,
    to_date,
    to_datetime,
    to_int,
    to_money,
    to_text,
)
from shared.exports.table import Column, Row, Table
from shared.listing import comma_values, escape_like, one_of, ranges, uuids
from shared.models.credits import CREDIT_NOTE_KINDS, REFUND_SOURCES
from shared.models.quotes import STATUSES as QUOTE_STATUSES
from shared.models.recurring import STATUSES as RECURRING_STATUSES

ENTRY_KINDS = ("credit_note", "overpayment", "refund", "applied")
FREQUENCIES = ("monthly", "quarterly", "annually", "custom")


def _range(query: ReportQuery, name: str) -> tuple[date | None, date | None]:
    """``<name>_from``/``<name>_to`` among the options, else ``from``/``to``."""
    o = query.options
    low = o.get(f"{name}_from") or query.date_from
    high = o.get(f"{name}_to") or query.date_to
    if low is not None and high is not None and low > high:
        raise validation(f"{name}_from", f"is after {name}_to")
    return low, high


def _currencies(raw: Any) -> list[str]:
    found = [c.upper() for c in comma_values("currency", raw)]
    if not all(len(c) == 3 and c.isascii() and c.isalpha() for c in found):
        raise validation("currency", "give three-letter currency codes, e.g. USD,EUR")
    return found


def _table(
    query: ReportQuery,
    *,
    name: str,
    title: str,
    span: str,
    columns: list[Column],
    build: Callable[..., Any],
    date_column: str,
    row: Callable[[dict[str, Any]], Row],
    dates: tuple[date | None, date | None],
) -> Table:
    build()  # the filters' errors (422) before any file is started
    total, pages = keyset_pages(build, date_column)

    def rows() -> Iterator[Row]:
        for page in pages:
            for doc in page:
                yield row(doc)

    return Table(
        name=name,
        title=title,
        subtitle=subtitle(span, query.options),
        columns=columns,
        rows=rows(),
        total=total,
        date_from=dates[0],
        date_to=dates[1],
    )


def _name(doc: dict[str, Any], key: str, field: str) -> Any:
    return to_text((doc.get(key) or {}).get(field))


# --------------------------------------------------------------------------------------
# Quotes
# --------------------------------------------------------------------------------------

QUOTE_COLUMNS = [
    Column("quote_number", "Number", "text", 14),
    Column("client_company_name", "Client", "text", 30),
    Column("status", "Status", "text", 10),
    Column("issue_date", "Issued", "date", 12),
    Column("valid_until", "Valid until", "date", 12),
    Column("currency", "Cur.", "text", 9),
    Column("subtotal", "Subtotal", "money", 14, in_pdf=False),
    Column("discount", "Discount", "money", 12, in_pdf=False),
    Column("tax_rate", "Tax %", "decimal", 8, in_pdf=False),
    Column("tax_amount", "Tax", "money", 12, in_pdf=False),
    Column("total_amount", "Total", "money", 14),
    Column("invoice_id", "Invoice id", "text", 38, in_pdf=False),
    Column("sent_at", "Sent at", "datetime", 20, in_pdf=False),
    Column("client_id", "Client id", "text", 38, in_pdf=False),
    Column("id", "Id", "text", 38, in_pdf=False),
]


def quotes(query: ReportQuery) -> Table:
    """The quote list: the filters of ``GET /api/quotes``, newest issue date first."""
    o = query.options
    statuses = one_of("status", o.get("status"), QUOTE_STATUSES)
    clients = uuids("client_id", o.get("client_id"))
    issued = _range(query, "issue_date")
    term = escape_like(str(o.get("q") or "").strip())

    def build(count: bool = False) -> Any:
        q = (
            query.client.from_("quote_list")
            .select(",".join(c.key for c in QUOTE_COLUMNS), count="exact" if count else None)
            .eq("organization_id", str(query.organization_id))
        )
        if statuses:
            q = q.in_("status", statuses)
        if clients:
            q = q.in_("client_id", clients)
        q = ranges(
            q,
            {
                "issue_date": issued,
                "valid_until": (o.get("valid_until_from"), o.get("valid_until_to")),
                "total_amount": (o.get("total_from"), o.get("total_to")),
            },
            refuse_reversed=True,
        )
        if term:
            q = q.or_(f"quote_number.ilike.*{term}*,client_company_name.ilike.*{term}*")
        return q

    def row(doc: dict[str, Any]) -> Row:
        return tuple(
            {"money": to_money, "decimal": to_money, "date": to_date, "datetime": to_datetime}.get(
                c.kind, to_text
            )(doc.get(c.key))
            for c in QUOTE_COLUMNS
        )

    return _table(
        query,
        name="quotes",
        title="Quotes",
        span=f"issued {issued[0] or 'any time'} to {issued[1] or 'today'}",
        columns=QUOTE_COLUMNS,
        build=build,
        date_column="issue_date",
        row=row,
        dates=issued,
    )


# --------------------------------------------------------------------------------------
# Credit notes
# --------------------------------------------------------------------------------------

CREDIT_NOTE_COLUMNS = [
    Column("credit_note_number", "Number", "text", 14),
    Column("invoice_number", "Invoice", "text", 14),
    Column("client_name", "Client", "text", 30),
    Column("kind", "Kind", "text", 9),
    Column("issue_date", "Issued", "date", 12),
    Column("currency", "Cur.", "text", 9),
    Column("subtotal", "Subtotal", "money", 14, in_pdf=False),
    Column("tax_amount", "Tax", "money", 12, in_pdf=False),
    Column("total_amount", "Total", "money", 14),
    Column("credit_amount", "To credit", "money", 14),
    Column("reason", "Reason", "text", 30, in_pdf=False),
    Column("sent_at", "Sent at", "datetime", 20, in_pdf=False),
    Column("invoice_id", "Invoice id", "text", 38, in_pdf=False),
    Column("client_id", "Client id", "text", 38, in_pdf=False),
    Column("id", "Id", "text", 38, in_pdf=False),
]
CREDIT_NOTE_EXPORT_SELECT = (
    "id,credit_note_number,kind,issue_date,currency,subtotal,tax_amount,total_amount,"
    "credit_amount,reason,sent_at,invoice_id,client_id,"
    "invoice:invoices(invoice_number),client:clients(company_name)"
)


def credit_notes(query: ReportQuery) -> Table:
    """The credit note list: the filters of ``GET /api/credit-notes``, newest first."""
    o = query.options
    invoices = uuids("invoice_id", o.get("invoice_id"))
    clients = uuids("client_id", o.get("client_id"))
    kinds = one_of("kind", o.get("kind"), CREDIT_NOTE_KINDS)
    issued = _range(query, "issue_date")
    term = escape_like(str(o.get("q") or "").strip())

    def build(count: bool = False) -> Any:
        q = (
            query.client.from_("credit_notes")
            .select(CREDIT_NOTE_EXPORT_SELECT, count="exact" if count else None)
            .eq("organization_id", str(query.organization_id))
        )
        if invoices:
            q = q.in_("invoice_id", invoices)
        if clients:
            q = q.in_("client_id", clients)
        if kinds:
            q = q.in_("kind", kinds)
        q = ranges(q, {"issue_date": issued})
        if term:
            q = q.ilike("credit_note_number", f"*{term}*")
        return q

    def row(doc: dict[str, Any]) -> Row:
        return (
            doc["credit_note_number"],
            _name(doc, "invoice", "invoice_number"),
            _name(doc, "client", "company_name"),
            doc["kind"],
            to_date(doc["issue_date"]),
            doc["currency"],
            to_money(doc["subtotal"]),
            to_money(doc["tax_amount"]),
            to_money(doc["total_amount"]),
            to_money(doc["credit_amount"]),
            doc.get("reason"),
            to_datetime(doc.get("sent_at")),
            doc["invoice_id"],
            doc["client_id"],
            doc["id"],
        )

    return _table(
        query,
        name="credit-notes",
        title="Credit notes",
        span=f"issued {issued[0] or 'any time'} to {issued[1] or 'today'}",
        columns=CREDIT_NOTE_COLUMNS,
        build=build,
        date_column="issue_date",
        row=row,
        dates=issued,
    )


# --------------------------------------------------------------------------------------
# Refunds
# --------------------------------------------------------------------------------------

REFUND_COLUMNS = [
    Column("refund_date", "Date", "date", 12),
    Column("client_name", "Client", "text", 30),
    Column("source", "From", "text", 9),
    Column("invoice_number", "Invoice", "text", 14),
    Column("refund_method", "Method", "text", 14),
    Column("reference_number", "Reference", "text", 18),
    Column("currency", "Cur.", "text", 9),
    Column("amount", "Amount", "money", 14),
    Column("notes", "Notes", "text", 30, in_pdf=False),
    Column("payment_id", "Payment id", "text", 38, in_pdf=False),
    Column("invoice_id", "Invoice id", "text", 38, in_pdf=False),
    Column("client_id", "Client id", "text", 38, in_pdf=False),
    Column("id", "Id", "text", 38, in_pdf=False),
]
REFUND_EXPORT_SELECT = (
    "id,refund_date,source,refund_method,reference_number,currency,amount,notes,payment_id,"
    "invoice_id,client_id,client:clients(company_name),invoice:invoices(invoice_number)"
)


def refunds(query: ReportQuery) -> Table:
    """The refund list: the filters of ``GET /api/refunds``, newest first."""
    o = query.options
    ids = {
        column: uuids(column, o.get(column)) for column in ("client_id", "invoice_id", "payment_id")
    }
    sources = one_of("source", o.get("source"), REFUND_SOURCES)
    refunded = _range(query, "refund_date")

    def build(count: bool = False) -> Any:
        q = (
            query.client.from_("refunds")
            .select(REFUND_EXPORT_SELECT, count="exact" if count else None)
            .eq("organization_id", str(query.organization_id))
        )
        for column, values in ids.items():
            if values:
                q = q.in_(column, values)
        if sources:
            q = q.in_("source", sources)
        return ranges(q, {"refund_date": refunded})

    def row(doc: dict[str, Any]) -> Row:
        return (
            to_date(doc["refund_date"]),
            _name(doc, "client", "company_name"),
            doc["source"],
            _name(doc, "invoice", "invoice_number"),
            doc["refund_method"],
            doc.get("reference_number"),
            doc["currency"],
            to_money(doc["amount"]),
            doc.get("notes"),
            doc.get("payment_id"),
            doc.get("invoice_id"),
            doc["client_id"],
            doc["id"],
        )

    return _table(
        query,
        name="refunds",
        title="Refunds",
        span=f"refunded {refunded[0] or 'any time'} to {refunded[1] or 'today'}",
        columns=REFUND_COLUMNS,
        build=build,
        date_column="refund_date",
        row=row,
        dates=refunded,
    )


# --------------------------------------------------------------------------------------
# Recurring profiles
# --------------------------------------------------------------------------------------

RECURRING_COLUMNS = [
    Column("name", "Name", "text", 20),
    Column("client_company_name", "Client", "text", 30),
    Column("status", "Status", "text", 9),
    Column("frequency", "Frequency", "text", 11),
    Column("interval_unit", "Unit", "text", 7, in_pdf=False),
    Column("interval_count", "Every", "int", 7, in_pdf=False),
    Column("currency", "Cur.", "text", 9),
    Column("start_date", "Starts", "date", 12),
    Column("end_date", "Ends", "date", 12, in_pdf=False),
    Column("max_cycles", "Cycles max", "int", 10, in_pdf=False),
    Column("next_billing_date", "Next", "date", 12),
    Column("cycles_issued", "Issued", "int", 8),
    Column("auto_send", "Auto-send", "bool", 10, in_pdf=False),
    Column("client_id", "Client id", "text", 38, in_pdf=False),
    Column("id", "Id", "text", 38, in_pdf=False),
]


def recurring_profiles(query: ReportQuery) -> Table:
    """The recurring profiles: the filters of ``GET /api/recurring-profiles`` (``from``/
    ``to`` narrow the start date), latest start first."""
    o = query.options
    statuses = one_of("status", o.get("status"), RECURRING_STATUSES)
    clients = uuids("client_id", o.get("client_id"))
    frequencies = one_of("frequency", o.get("frequency"), FREQUENCIES)
    started = _range(query, "start_date")
    term = escape_like(str(o.get("q") or "").strip())
    convert = {"int": to_int, "date": to_date, "bool": to_bool}

    def build(count: bool = False) -> Any:
        q = (
            query.client.from_("recurring_profile_list")
            .select(",".join(c.key for c in RECURRING_COLUMNS), count="exact" if count else None)
            .eq("organization_id", str(query.organization_id))
        )
        if statuses:
            q = q.in_("status", statuses)
        if clients:
            q = q.in_("client_id", clients)
        if frequencies:
            q = q.in_("frequency", frequencies)
        q = ranges(q, {"start_date": started})
        if term:
            q = q.or_(f"name.ilike.*{term}*,client_company_name.ilike.*{term}*")
        return q

    def row(doc: dict[str, Any]) -> Row:
        return tuple(convert.get(c.kind, to_text)(doc.get(c.key)) for c in RECURRING_COLUMNS)

    return _table(
        query,
        name="recurring-profiles",
        title="Recurring profiles",
        span=f"starting {started[0] or 'any time'} to {started[1] or 'any time'}",
        columns=RECURRING_COLUMNS,
        build=build,
        date_column="start_date",
        row=row,
        dates=started,
    )


# --------------------------------------------------------------------------------------
# Client credit ledger
# --------------------------------------------------------------------------------------

LEDGER_COLUMNS = [
    Column("created_at", "When", "datetime", 20),
    Column("client_name", "Client", "text", 30),
    Column("kind", "Kind", "text", 12),
    Column("currency", "Cur.", "text", 9),
    Column("amount", "Amount", "money", 14),
    Column("credit_note_number", "Credit note", "text", 14),
    Column("invoice_number", "Invoice", "text", 14),
    Column("credit_note_id", "Credit note id", "text", 38, in_pdf=False),
    Column("payment_id", "Payment id", "text", 38, in_pdf=False),
    Column("refund_id", "Refund id", "text", 38, in_pdf=False),
    Column("invoice_id", "Invoice id", "text", 38, in_pdf=False),
    Column("client_id", "Client id", "text", 38, in_pdf=False),
    Column("id", "Id", "text", 38, in_pdf=False),
]
LEDGER_SELECT = (
    "id,created_at,kind,currency,amount,credit_note_id,payment_id,refund_id,invoice_id,client_id,"
    "client:clients(company_name),credit_note:credit_notes(credit_note_number),"
    "invoice:invoices(invoice_number)"
)


def client_credit(query: ReportQuery) -> Table:
    """The client credit ledger (``GET /api/clients/{id}/credit``'s entries, every client or
    those of ``client_id``): + credit notes' excess and overpayments, - refunds from credit
    and credit applied; its sum per client and currency is the client's credit."""
    o = query.options
    clients = uuids("client_id", o.get("client_id"))
    kinds = one_of("kind", o.get("kind"), ENTRY_KINDS)
    currencies = _currencies(o.get("currency"))
    day_from, day_to = query.date_from, query.date_to
    if day_from is not None and day_to is not None and day_from > day_to:
        raise validation("from", "is after to")

    def build(count: bool = False) -> Any:
        q = (
            query.client.from_("client_credit_entries")
            .select(LEDGER_SELECT, count="exact" if count else None)
            .eq("organization_id", str(query.organization_id))
        )
        if clients:
            q = q.in_("client_id", clients)
        if kinds:
            q = q.in_("kind", kinds)
        if currencies:
            q = q.in_("currency", currencies)
        # Days in UTC, as the entries' timestamps are written.
        if day_from is not None:
            q = q.gte("created_at", f"{day_from.isoformat()}T00:00:00Z")
        if day_to is not None:
            q = q.lt("created_at", f"{(day_to + timedelta(days=1)).isoformat()}T00:00:00Z")
        return q

    def row(doc: dict[str, Any]) -> Row:
        return (
            to_datetime(doc["created_at"]),
            _name(doc, "client", "company_name"),
            doc["kind"],
            doc["currency"],
            to_money(doc["amount"]),
            _name(doc, "credit_note", "credit_note_number"),
            _name(doc, "invoice", "invoice_number"),
            doc.get("credit_note_id"),
            doc.get("payment_id"),
            doc.get("refund_id"),
            doc.get("invoice_id"),
            doc["client_id"],
            doc["id"],
        )

    return _table(
        query,
        name="client-credit",
        title="Client credit ledger",
        span=f"entries {day_from or 'any time'} to {day_to or 'today'}",
        columns=LEDGER_COLUMNS,
        build=build,
        date_column="created_at",
        row=row,
        dates=(day_from, day_to),
    )
