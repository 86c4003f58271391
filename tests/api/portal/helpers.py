"""Documents for the client page's tests: sent invoices and quotes made in SQL (the routes
that make them are tested elsewhere), and links made through the route."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import Api, World


def sent_invoice(
    world: World, org: str, *, currency: str = "USD", rate: str = "100", qty: str = "1"
) -> str:
    client = world.sql(
        "insert into public.clients (organization_id, company_name, currency, email)"
        " values (%s, %s, %s, 'client@example.test') returning id::text",
        org,
        f"Portal client {uuid.uuid4().hex[:6]}",
        currency,
    )[0][0]
    invoice = world.sql(
        "insert into public.invoices (organization_id, client_id, currency, due_date, notes)"
        " values (%s, %s, %s, current_date + 30, 'Thank you for your business')"
        " returning id::text",
        org,
        client,
        currency,
    )[0][0]
    world.sql(
        "insert into public.invoice_items (organization_id, invoice_id, currency, description,"
        " quantity, rate) values (%s, %s, %s, 'Design work', %s, %s)",
        org,
        invoice,
        currency,
        qty,
        rate,
    )
    world.sql("update public.invoices set status = 'sent' where id = %s", invoice)
    return str(invoice)


def sent_quote(world: World, org: str) -> str:
    client = world.sql(
        "insert into public.clients (organization_id, company_name, currency)"
        " values (%s, %s, 'EUR') returning id::text",
        org,
        f"Quote client {uuid.uuid4().hex[:6]}",
    )[0][0]
    quote = world.sql(
        "select public.create_quote(%s, jsonb_build_object('client_id', %s::uuid),"
        ' \'[{"description": "Offer", "quantity": 2, "rate": 50}]\') ->> \'id\'',
        org,
        client,
    )[0][0]
    world.sql("update public.quotes set status = 'sent' where id = %s", quote)
    return str(quote)


def link(api: Api, document_type: str, document_id: str, *, as_: str = "alice") -> dict[str, Any]:
    reply = api.post(
        "/api/client-links",
        as_=as_,
        json_body={"document_type": document_type, "document_id": document_id},
    )
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def path_of(url: str) -> str:
    return url[url.index("/p/") :]
