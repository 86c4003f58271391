"""One invoice (or quote) with everything its documents print: the PDF and the emails.

``load_invoice_document`` reads the invoice, its items (in order), its payments,
its client and the business (the organization's ``organization_settings``) in one
round trip: the SQL function ``public.invoice_document`` (migration
20261206100800_invoice_documents.sql; an RPC measured faster than the same read
by PostgREST embedding, bench/RESULTS.md), through whichever client it is given: a
user's (RLS decides) or the service-role client of the scheduled jobs (RLS
bypassed). Either way the function filters by ``organization_id`` itself, so an id
of another organization is "not found" (``None``) for both.

Light on purpose: no PDF library, no pydantic; the send, bulk and job functions
import it.

The document is the invoice's columns as PostgREST returns them (money as
``Decimal``, dates as ISO strings) plus:

- ``items``: ``[{id, position, description, quantity, rate, amount}]`` in
  position order;
- ``payments``: ``[{id, amount, currency, payment_date, payment_method,
  reference_number}]``, oldest first;
- ``client``: ``{id, company_name, contact_person, email, phone, address,
  currency}``;
- ``business``: the settings' ``business_name``, ``business_email``,
  ``business_phone``, ``business_address``, ``city``, ``state``, ``zip_code``,
  ``country``, ``tax_id``, ``website``, ``company_logo_url``, ``tax_label``,
  ``invoice_footer``, ``default_payment_instructions``, and derived: ``name``
  (the business name, else the organization's name), ``address_lines`` (the
  address as printed, empty parts left out), ``organization_name``.

``load_quote_document`` reads a quote the same way (``public.quote_document``, migration
20261206110300_quotes.sql): the quote's columns, its ``items``, ``client`` and
``business`` as above, and ``invoice`` (the invoice made from it, or ``None``); it prints
with ``shared.pdf.render_document_pdf(document, "quote")``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote
from uuid import UUID

from shared import db
from shared.parties import attach_parties, attach_parties_many

BUSINESS_COLUMNS = (
    "business_name,business_email,business_phone,business_address,city,state,zip_code,"
    "country,tax_id,website,company_logo_url,tax_label,invoice_footer,"
    "default_payment_instructions"
)


def _one(value: Any) -> dict[str, Any]:
    """An embedded to-one relation: an object, or a list of at most one."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def business_of(organization: dict[str, Any]) -> dict[str, Any]:
    """The business block of a document from the embedded organization."""
    settings = _one(organization.get("settings"))
    business: dict[str, Any] = {
        column: settings.get(column) for column in BUSINESS_COLUMNS.split(",")
    }
    organization_name = _text(organization.get("name"))
    business["organization_name"] = organization_name
    business["name"] = _text(settings.get("business_name")) or organization_name
    business["tax_label"] = _text(settings.get("tax_label")) or "Tax"
    locality = " ".join(
        part for part in (_text(settings.get("zip_code")), _text(settings.get("city"))) if part
    )
    region = ", ".join(part for part in (locality, _text(settings.get("state"))) if part)
    lines = [line.strip() for line in _text(settings.get("business_address")).splitlines()]
    business["address_lines"] = [
        line for line in (*lines, region, _text(settings.get("country"))) if line
    ]
    return business


def _shaped(document: dict[str, Any]) -> dict[str, Any]:
    document["client"] = _one(document.get("client"))
    document["items"] = document.get("items") or []
    document["payments"] = document.get("payments") or []
    document["business"] = business_of(_one(document.pop("organization", None)))
    return document


def _with_parties(client: Any, organization_id: UUID | str, document: Any) -> dict[str, Any] | None:
    """The shaped document with ``seller`` and ``buyer`` (shared/parties.py: one RPC; the
    business block's sealed tax id and payment instructions opened), or ``None``."""
    if not isinstance(document, dict):
        return None
    document = _shaped(document)
    document.setdefault("organization_id", str(organization_id))
    return attach_parties(client, document)


def load_invoice_document(
    client: Any, organization_id: UUID | str, invoice_id: UUID | str
) -> dict[str, Any] | None:
    """The invoice ``invoice_id`` of ``organization_id`` with its items, payments,
    client and business, or ``None`` when there is no such invoice there."""
    document = db.rpc(
        client,
        "invoice_document",
        {"organization_id": str(organization_id), "invoice_id": str(invoice_id)},
    )
    return _with_parties(client, organization_id, document)


def load_invoice_documents(
    client: Any, organization_id: UUID | str, invoice_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The documents of ``invoice_ids`` in one round trip, by invoice id; an id that is
    not an invoice of ``organization_id`` has no entry."""
    documents = db.rpc(
        client,
        "invoice_documents",
        {"organization_id": str(organization_id), "invoice_ids": [str(i) for i in invoice_ids]},
    )
    if not isinstance(documents, dict):
        return {}
    shaped = {key: _shaped(value) for key, value in documents.items() if isinstance(value, dict)}
    for value in shaped.values():
        value.setdefault("organization_id", str(organization_id))
    return attach_parties_many(client, organization_id, shaped)


def load_quote_document(
    client: Any, organization_id: UUID | str, quote_id: UUID | str
) -> dict[str, Any] | None:
    """The quote ``quote_id`` of ``organization_id`` with its items, client and business,
    or ``None`` when there is no such quote there."""
    document = db.rpc(
        client,
        "quote_document",
        {"organization_id": str(organization_id), "quote_id": str(quote_id)},
    )
    return _with_parties(client, organization_id, document)


def load_credit_note_document(
    client: Any, organization_id: UUID | str, credit_note_id: UUID | str
) -> dict[str, Any] | None:
    """The credit note ``credit_note_id`` of ``organization_id`` with its lines (``items``),
    client, business and ``credited_invoice_number`` (``public.credit_note_pdf_document``,
    migration 20261206110200_credit_notes.sql), or ``None`` when there is no such credit
    note there; it prints with ``render_document_pdf(document, "credit_note")``."""
    document = db.rpc(
        client,
        "credit_note_pdf_document",
        {"organization_id": str(organization_id), "credit_note_id": str(credit_note_id)},
    )
    return _with_parties(client, organization_id, document)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def content_disposition(number: str, fallback: str = "document") -> str:
    """``inline; filename="<number>.pdf"``: an ASCII name for every browser, and the exact
    name (RFC 6266 ``filename*``) when the number has other characters."""
    ascii_name = _UNSAFE.sub("-", number).strip("-") or fallback
    value = f'inline; filename="{ascii_name}.pdf"'
    if ascii_name != number:
        value += f"; filename*=UTF-8''{quote(number + '.pdf', safe='')}"
    return value
