"""A credit note's PDF and its e-mail (through moto's SES): titled as a credit note, naming
the invoice it credits, its total and reason; the send recorded once under its
Idempotency-Key; viewers read the PDF but do not send, a stranger's ids are 404."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from pypdf import PdfReader

from tests.api.conftest import Api, World
from tests.api.invoices.test_send import message_by_id, parse, pdf_of
from tests.api.payments.test_payments import Invoice, make_client, make_invoice

pytestmark = pytest.mark.usefixtures("aws")


def credit_note(api: Api, world: World, email: str | None = None) -> tuple[Invoice, Any]:
    client = make_client(world, world.org_a)
    if email:
        world.sql("update public.clients set email = %s where id = %s", email, client[0])
    invoice = make_invoice(world, ["120.00"], client=client)
    reply = api.post(
        "/api/credit-notes",
        as_="maria",
        json_body={
            "invoice_id": invoice.id,
            "kind": "amount",
            "amount": "45.00",
            "reason": "Late delivery",
        },
    )
    assert reply.status == 201, reply.json()
    return invoice, reply.json()


def test_the_pdf_is_titled_as_a_credit_note_naming_its_invoice(api: Api, world: World) -> None:
    invoice, note = credit_note(api, world)
    reply = api.get(f"/api/credit-notes/{note['id']}/pdf", as_="victor")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/pdf"
    assert note["credit_note_number"] in reply.headers["content-disposition"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(reply.content)).pages)
    assert "Credit note" in text or "CREDIT NOTE" in text
    assert note["credit_note_number"] in text
    assert invoice.number in text
    assert "45.00" in text
    assert "Late delivery" in text
    assert "Balance due" not in text
    assert api.get(f"/api/credit-notes/{note['id']}/pdf", as_="bob").status == 404
    assert (
        api.get(f"/api/credit-notes/{note['id']}/pdf", as_="alice", query={"template": "x"}).status
        == 422
    )


def test_send_emails_the_pdf_once_per_key(api: Api, world: World) -> None:
    address = f"{uuid.uuid4().hex[:10]}@client.test"
    invoice, note = credit_note(api, world, email=address)
    key = str(uuid.uuid4())
    path = f"/api/credit-notes/{note['id']}/send"
    reply = api.post(
        path,
        as_="maria",
        json_body={"message": "Sorry for the delay"},
        headers={"Idempotency-Key": key},
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["send"]["recipients"]["to"] == [address]
    assert body["credit_note"]["sent_at"] is not None
    message = parse(message_by_id(body["send"]["ses_message_id"]))
    assert message["To"] == address
    assert message["Subject"].startswith(f"Credit note {note['credit_note_number']}")
    name, text = pdf_of(message)
    assert name == f"credit-note-{note['credit_note_number']}.pdf"
    assert invoice.number in text
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    assert "Sorry for the delay" in plain.get_content()
    replay = api.post(
        path,
        as_="maria",
        json_body={"message": "Sorry for the delay"},
        headers={"Idempotency-Key": key},
    )
    assert replay.status == 200
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["send"]["ses_message_id"] == body["send"]["ses_message_id"]
    timeline = world.sql(
        "select count(*) from public.client_activities where client_id = %s"
        " and metadata ->> 'event' = 'credit_note_sent'",
        invoice.client_id,
    )
    assert timeline == [(1,)]


def test_send_refuses_viewers_strangers_and_a_client_without_email(api: Api, world: World) -> None:
    _, note = credit_note(api, world)
    path = f"/api/credit-notes/{note['id']}/send"
    assert api.post(path, as_="victor").status == 403
    assert api.post(path, as_="bob").status == 404
    reply = api.post(path, as_="maria")
    assert reply.status == 422
    assert "to" in reply.error["message"]


def test_a_credited_invoice_prints_what_was_credited(api: Api, world: World) -> None:
    invoice, _ = credit_note(api, world)
    reply = api.get(f"/api/invoices/{invoice.id}/pdf", as_="victor")
    assert reply.status == 200
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(reply.content)).pages)
    assert "Credited" in text
    assert "Credited -$45.00" in text
    assert "Balance due $75.00" in text  # 120.00 - 45.00
    plain = make_invoice(world, ["120.00"])
    reply = api.get(f"/api/invoices/{plain.id}/pdf", as_="victor")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(reply.content)).pages)
    assert "Credited" not in text
