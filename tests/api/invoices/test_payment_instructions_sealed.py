"""Documents' payment instructions sealed at rest (migration 20261206171200).

Since the settings' default was sealed (20261206170200), a new invoice copied a clear
default that was no longer there: the invoice answered ``payment_instructions`` null and
printed the organization's CURRENT default, so changing the settings changed an issued
invoice. Now the writers copy the settings' seal: the API answers the text, the database
holds no clear text, the PDF prints it, and a later change of the default leaves the issued
invoice as it was. Quote -> invoice, profile -> invoice and invoice -> credit note keep the
seal; instructions given on an invoice arrive sealed."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from pypdf import PdfReader

from devstack.functions import FunctionHost
from tests.api.conftest import Api, Person, World
from tests.api.invoices.test_invoices import item
from tests.api.invoices.test_send import mailable_client

pytestmark = pytest.mark.usefixtures("aws")

FIRST = "Pay to DE89 3704 0044 0532 0130 00 within 14 days"
SECOND = "Pay to FR14 2004 1010 0505 0001 3M02 606 now"
OWN = "Bar oder Überweisung: AT61 1904 3002 3457 3201"


def set_default(api: Api, owner: Person, text: str | None) -> None:
    reply = api.put(
        "/api/settings/business",
        as_=owner.name,
        org=owner.personal_org,
        json_body={"default_payment_instructions": text},
    )
    assert reply.status == 200, reply.json()


@pytest.fixture
def owner(api: Api, world: World) -> Person:
    person = world.add_person(f"instr-{uuid.uuid4().hex[:6]}")
    set_default(api, person, FIRST)
    return person


def new_invoice(api: Api, world: World, owner: Person, **fields: Any) -> dict[str, Any]:
    client = mailable_client(world, owner.personal_org)
    reply = api.post(
        "/api/invoices",
        as_=owner.name,
        org=owner.personal_org,
        json_body={
            "client_id": client,
            "items": [item("Consulting", "2", "150")],
            "tax_rate": "0",
            **fields,
        },
    )
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def stored(world: World, table: str, row_id: str) -> tuple[Any, Any]:
    """The row's clear and sealed instructions (quotes and credit notes never had a clear
    column)."""
    clear = "payment_instructions" if table in ("invoices", "recurring_profiles") else "null"
    rows = world.sql(
        f"select {clear}, payment_instructions_sealed from public.{table} where id = %s",
        row_id,
    )
    return rows[0][0], rows[0][1]


def pdf_text(api: Api, owner: Person, invoice_id: str) -> str:
    reply = api.get(f"/api/invoices/{invoice_id}/pdf", as_=owner.name, org=owner.personal_org)
    assert reply.status == 200
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(reply.content)).pages)


def get_invoice(api: Api, owner: Person, invoice_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/invoices/{invoice_id}", as_=owner.name, org=owner.personal_org)
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def test_a_new_invoice_keeps_the_default_sealed_and_prints_it(
    api: Api, world: World, owner: Person
) -> None:
    invoice = new_invoice(api, world, owner)
    assert invoice["payment_instructions"] == FIRST
    assert "payment_instructions_sealed" not in invoice
    clear, sealed = stored(world, "invoices", invoice["id"])
    assert clear is None
    assert sealed is not None
    assert FIRST not in str(sealed)
    assert get_invoice(api, owner, invoice["id"])["payment_instructions"] == FIRST
    assert "DE89 3704 0044 0532 0130 00" in pdf_text(api, owner, invoice["id"])


def test_an_issued_invoice_keeps_its_instructions_when_the_default_changes(
    api: Api, world: World, owner: Person
) -> None:
    invoice = new_invoice(api, world, owner, status="sent")
    set_default(api, owner, SECOND)
    assert get_invoice(api, owner, invoice["id"])["payment_instructions"] == FIRST
    text = pdf_text(api, owner, invoice["id"])
    assert "DE89 3704 0044 0532 0130 00" in text
    assert "FR14" not in text
    # A new invoice takes the new default.
    assert new_invoice(api, world, owner)["payment_instructions"] == SECOND


def test_own_instructions_round_trip_sealed(api: Api, world: World, owner: Person) -> None:
    invoice = new_invoice(api, world, owner, payment_instructions=OWN)
    assert invoice["payment_instructions"] == OWN
    clear, sealed = stored(world, "invoices", invoice["id"])
    assert clear is None
    assert sealed is not None
    assert "AT61" in pdf_text(api, owner, invoice["id"])

    reply = api.put(
        f"/api/invoices/{invoice['id']}",
        as_=owner.name,
        org=owner.personal_org,
        json_body={"payment_instructions": SECOND},
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["payment_instructions"] == SECOND
    assert stored(world, "invoices", invoice["id"])[0] is None

    # null clears them: the invoice prints the organization's default again.
    reply = api.put(
        f"/api/invoices/{invoice['id']}",
        as_=owner.name,
        org=owner.personal_org,
        json_body={"payment_instructions": None},
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["payment_instructions"] is None
    assert stored(world, "invoices", invoice["id"]) == (None, None)


def test_explicit_null_on_create_copies_nothing(api: Api, world: World, owner: Person) -> None:
    invoice = new_invoice(api, world, owner, payment_instructions=None)
    assert invoice["payment_instructions"] is None
    assert stored(world, "invoices", invoice["id"]) == (None, None)


def test_quote_to_invoice_keeps_the_quotes_instructions(
    api: Api, world: World, owner: Person
) -> None:
    org, as_ = owner.personal_org, owner.name
    client = mailable_client(world, org)
    reply = api.post(
        "/api/quotes",
        as_=as_,
        org=org,
        json_body={"client_id": client, "items": [item("Design", "1", "80")], "tax_rate": "0"},
    )
    assert reply.status == 201, reply.json()
    quote = reply.json()
    assert quote["payment_instructions"] == FIRST
    assert stored(world, "quotes", quote["id"])[1] is not None
    sent = api.request(
        "PATCH", f"/api/quotes/{quote['id']}", as_=as_, org=org, json_body={"status": "sent"}
    )
    assert sent.status == 200, sent.json()
    assert api.post(f"/api/quotes/{quote['id']}/accept", as_=as_, org=org).status == 200
    set_default(api, owner, SECOND)
    converted = api.post(f"/api/quotes/{quote['id']}/convert", as_=as_, org=org)
    assert converted.status == 201, converted.json()
    invoice = converted.json()["invoice"]
    assert get_invoice(api, owner, invoice["id"])["payment_instructions"] == FIRST
    assert stored(world, "invoices", invoice["id"]) == stored(world, "quotes", quote["id"])


def test_invoice_to_credit_note_keeps_the_invoices_instructions(
    api: Api, world: World, owner: Person
) -> None:
    invoice = new_invoice(api, world, owner, payment_instructions=OWN, status="sent")
    reply = api.post(
        "/api/credit-notes",
        as_=owner.name,
        org=owner.personal_org,
        json_body={
            "invoice_id": invoice["id"],
            "kind": "amount",
            "amount": "45.00",
            "reason": "Late delivery",
        },
    )
    assert reply.status == 201, reply.json()
    note = reply.json()
    assert note["payment_instructions"] == OWN
    assert (
        stored(world, "credit_notes", note["id"])[1] == stored(world, "invoices", invoice["id"])[1]
    )


def test_a_recurring_profile_and_its_invoice_keep_the_seal(
    api: Api, world: World, owner: Person
) -> None:
    org, as_ = owner.personal_org, owner.name
    client = mailable_client(world, org)
    reply = api.post(
        "/api/recurring-profiles",
        as_=as_,
        org=org,
        json_body={
            "client_id": client,
            "frequency": "monthly",
            "items": [item("Retainer", "1", "500")],
            "payment_instructions": OWN,
        },
    )
    assert reply.status == 201, reply.json()
    profile = reply.json()
    assert profile["payment_instructions"] == OWN
    clear, sealed = stored(world, "recurring_profiles", profile["id"])
    assert clear is None
    assert sealed is not None
    got = api.get(f"/api/recurring-profiles/{profile['id']}", as_=as_, org=org)
    assert got.status == 200
    assert got.json()["payment_instructions"] == OWN
    issued = api.post(f"/api/recurring-profiles/{profile['id']}/issue", as_=as_, org=org)
    assert issued.status in (200, 201), issued.json()
    invoice = issued.json()["invoice"]
    assert invoice["payment_instructions"] == OWN
    assert stored(world, "invoices", invoice["id"]) == (None, sealed)


def test_the_seal_job_seals_documents_written_in_clear(
    api: Api, world: World, owner: Person, function_host: FunctionHost
) -> None:
    """Rows written before this migration (clear column, written here as the owner would
    have) are sealed by jobsSealFields; the answer and the PDF stay the same."""
    invoice = new_invoice(api, world, owner, payment_instructions=None)
    world.sql(
        "update public.invoices set payment_instructions = %s where id = %s", OWN, invoice["id"]
    )
    assert stored(world, "invoices", invoice["id"]) == (OWN, None)
    assert get_invoice(api, owner, invoice["id"])["payment_instructions"] == OWN
    result = function_host.invoke_by_name("jobsSealFields", {})
    assert result["fields"]["invoices.payment_instructions"] >= 1, result
    clear, sealed = stored(world, "invoices", invoice["id"])
    assert clear is None
    assert sealed is not None
    assert get_invoice(api, owner, invoice["id"])["payment_instructions"] == OWN
    assert "AT61" in pdf_text(api, owner, invoice["id"])
    audit = world.sql(
        "select coalesce(old_record::text, '') || coalesce(new_record::text, '')"
        " from public.audit_log where record_id::text = %s",
        invoice["id"],
    )
    assert audit
    assert not [row for row in audit if "AT61" in row[0]]


def test_a_paid_invoice_put_back_as_read_is_not_refused(
    api: Api, world: World, owner: Person
) -> None:
    """Sealed again, the same text would be a new envelope: a change a cancelled invoice
    refuses. The same text is no change; another text still is refused."""
    invoice = new_invoice(api, world, owner, status="sent")
    path = f"/api/invoices/{invoice['id']}"
    cancelled = api.put(
        path, as_=owner.name, org=owner.personal_org, json_body={"status": "cancelled"}
    )
    assert cancelled.status == 200, cancelled.json()
    before = stored(world, "invoices", invoice["id"])
    same = api.put(
        path,
        as_=owner.name,
        org=owner.personal_org,
        json_body={"payment_instructions": FIRST, "notes": "kept"},
    )
    assert same.status == 200, same.json()
    assert same.json()["payment_instructions"] == FIRST
    assert stored(world, "invoices", invoice["id"]) == before
    other = api.put(
        path, as_=owner.name, org=owner.personal_org, json_body={"payment_instructions": SECOND}
    )
    assert other.status == 422, other.json()
