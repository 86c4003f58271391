"""The sent e-mail carries the client page's link (shared.portal.link_for_send): an
invoice's and a quote's, made before the send while the document is a draft, opening
once the send marked it sent."""

from __future__ import annotations

import re
import uuid

import pytest

from shared import portal
from tests.api.conftest import Api, World
from tests.api.invoices.test_send import message_by_id, parse

pytestmark = pytest.mark.usefixtures("aws")


def _draft_invoice(world: World) -> str:
    client = world.sql(
        "insert into public.clients (organization_id, company_name, currency, email)"
        " values (%s, %s, 'USD', %s) returning id::text",
        world.org_a,
        f"Mailed client {uuid.uuid4().hex[:6]}",
        f"{uuid.uuid4().hex[:10]}@client.test",
    )[0][0]
    invoice = world.sql(
        "insert into public.invoices (organization_id, client_id, currency)"
        " values (%s, %s, 'USD') returning id::text",
        world.org_a,
        client,
    )[0][0]
    world.sql(
        "insert into public.invoice_items (organization_id, invoice_id, currency, description,"
        " quantity, rate) values (%s, %s, 'USD', 'Consulting', 2, 75)",
        world.org_a,
        invoice,
    )
    return str(invoice)


def _link_in(message_id: str) -> str:
    message = parse(message_by_id(message_id))
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    found = re.search(r"(https?://\S+/p/[A-Za-z0-9_-]+)", plain.get_content())
    assert found, plain.get_content()
    assert found.group(1) in html.get_content()
    return found.group(1)


def test_the_invoice_email_carries_its_page(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_URL", "https://pay.example.test")
    portal.config.cache_clear()
    invoice = _draft_invoice(world)
    reply = api.post(f"/api/invoices/{invoice}/send", as_="maria")
    assert reply.status == 200, reply.json()
    url = _link_in(reply.json()["send"]["ses_message_id"])
    assert url.startswith("https://pay.example.test/p/")
    page = api.get(url[url.index("/p/") :], headers={"accept": "application/json"})
    assert page.status == 200
    assert page.json()["status"] == "sent"
    assert page.json()["balance_due"] == "150.00"


def test_the_quote_email_carries_its_page(api: Api, world: World) -> None:
    client = world.sql(
        "insert into public.clients (organization_id, company_name, currency, email)"
        " values (%s, 'Quote mail client', 'EUR', %s) returning id::text",
        world.org_a,
        f"{uuid.uuid4().hex[:10]}@client.test",
    )[0][0]
    quote = world.sql(
        "select public.create_quote(%s, jsonb_build_object('client_id', %s::uuid),"
        ' \'[{"description": "Offer", "quantity": 1, "rate": 500}]\') ->> \'id\'',
        world.org_a,
        client,
    )[0][0]
    reply = api.post(f"/api/quotes/{quote}/send", as_="maria")
    assert reply.status == 200, reply.json()
    url = _link_in(reply.json()["send"]["ses_message_id"])
    answer = api.post(url[url.index("/p/") :] + "/accept", headers={"accept": "application/json"})
    assert answer.status == 200
    assert answer.json()["status"] == "accepted"
