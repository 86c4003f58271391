"""The client page offers the e-invoice when a format is chosen (GET /p/{token}/einvoice):
the link on the page and the JSON's einvoice_format, the XML validated, a quote's or a
format-less invoice's link 404, an invalid one 422."""

from __future__ import annotations

import pytest

from shared import portal
from shared.einvoice import validate
from tests.api.conftest import Api, World
from tests.api.invoices.test_einvoice import an_invoice, german_client, german_organization
from tests.api.portal.helpers import link, path_of, sent_quote

pytestmark = pytest.mark.usefixtures("aws")


def sent_invoice_link(api: Api, world: World, owner: str, client: str) -> str:
    invoice = an_invoice(api, owner, client)
    world.sql("update public.invoices set status = 'sent' where id = %s", invoice["id"])
    return path_of(link(api, "invoice", invoice["id"], as_=owner)["url"])


def client_id_of(world: World, path: str) -> str:
    token = path.rsplit("/", 1)[-1]
    rows = world.sql(
        "select i.client_id from public.client_links l"
        " join public.invoices i on i.id = l.invoice_id where l.token_hash = %s",
        portal.token_hash(token),
    )
    return str(rows[0][0])


def test_the_page_offers_the_chosen_xml(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    path = sent_invoice_link(
        api, world, owner, german_client(api, owner, einvoice_format="xrechnung-ubl")
    )
    page = api.get(path, headers={"accept": "text/html"}).content.decode()
    assert f'href="{path}/einvoice"' in page
    data = api.get(path, headers={"accept": "application/json"}).json()
    assert data["einvoice_format"] == "xrechnung-ubl"
    reply = api.get(path + "/einvoice")
    assert reply.status == 200, reply.content[:300]
    assert reply.headers["content-type"].startswith("application/xml")
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert validate.fatal(validate.validate(reply.content, "xrechnung-ubl")) == []
    # The client's timeline says what was downloaded: the e-invoice, not the PDF.
    events = world.sql(
        "select metadata ->> 'event' as event, activity from public.client_activities"
        " where client_id = %s and metadata ? 'link_id'",
        client_id_of(world, path),
    )
    downloads = [activity for event, activity in events if event != "client_link_viewed"]
    assert len(downloads) == 1, events
    assert downloads[0].endswith("e-invoice downloaded by the client")


def test_without_a_chosen_format_there_is_no_einvoice(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    path = sent_invoice_link(api, world, owner, german_client(api, owner))
    page = api.get(path, headers={"accept": "text/html"}).content.decode()
    assert "/einvoice" not in page
    assert api.get(path, headers={"accept": "application/json"}).json()["einvoice_format"] is None
    assert api.get(path + "/einvoice").status == 404
    quote = path_of(link(api, "quote", sent_quote(world, world.org_a))["url"])
    assert api.get(quote + "/einvoice").status == 404
    assert api.get("/p/" + portal.new_token() + "/einvoice").status == 404


def test_an_invalid_einvoice_is_422(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    client = german_client(api, owner, einvoice_format="xrechnung-cii", postal_code=None)
    path = sent_invoice_link(api, world, owner, client)
    reply = api.get(path + "/einvoice", headers={"accept": "application/json"})
    assert reply.status == 422
    assert reply.error["code"] == "einvoice_invalid"
    assert "BR-DE-9" in {f["rule"] for f in reply.error["details"]["findings"]}
