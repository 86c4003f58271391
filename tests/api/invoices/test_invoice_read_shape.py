"""One read shape for an invoice: GET /api/invoices/{id} answers the bytes the writes
answer (create, update and delete answer private.invoice_document, migration
20261206100800_invoice_documents.sql), for an invoice with everything a read embeds:
several items, several payments, a client with its details, text in every field."""

from __future__ import annotations

import uuid

from tests.api.conftest import Api, World


def test_get_answers_the_bytes_the_writes_answer(api: Api, world: World) -> None:
    name = f"Shape {uuid.uuid4().hex[:8]} GmbH"
    client = str(
        world.sql(
            "insert into public.clients (organization_id, company_name, currency, email, phone,"
            " contact_person, address) values (%s, %s, 'USD', 'ap@example.com', '+1 555 0100',"
            " 'Ada', '1 Main St') returning id::text",
            world.org_a,
            name,
        )[0][0]
    )
    created = api.post(
        "/api/invoices",
        as_="alice",
        json_body={
            "client_id": client,
            "items": [
                {"description": "first", "quantity": "1.5", "rate": "10"},
                {"description": "second", "quantity": "2", "rate": "20.125"},
            ],
            "tax_rate": "7.5",
            "discount": "3.10",
            "payment_terms": "net15",
            "terms": "Net 15",
            "payment_instructions": "IBAN XX00",
            "notes": "ünïcode — “quoted”",
            "status": "sent",
        },
    )
    assert created.status == 201, created.json()
    invoice_id = created.json()["id"]
    path = f"/api/invoices/{invoice_id}"
    assert api.get(path, as_="victor").content == created.content

    for amount in ("5.05", "1.00"):
        world.sql(
            "insert into public.payments (invoice_id, amount, reference_number, notes)"
            " values (%s, %s, 'ref', 'by wire')",
            invoice_id,
            amount,
        )
    updated = api.put(path, as_="alice", json_body={"notes": "paid in part"})
    assert updated.status == 200, updated.json()
    body = updated.json()
    assert [i["description"] for i in body["items"]] == ["first", "second"]
    assert [p["notes"] for p in body["payments"]] == ["by wire", "by wire"]
    assert body["client"]["company_name"] == name
    got = api.get(path, as_="victor")
    assert got.status == 200
    assert got.content == updated.content
