"""Nothing prints less once sealed (migration 20261206170200): the VAT id and the payment
instructions an organization sets through the API are sealed at rest, and the invoice's
emailed PDF, the reminder email, the client page's PDF and the client page itself show what
they showed when both were clear columns (the documents open the seals through
shared/parties.py)."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

import pytest
from pypdf import PdfReader

from devstack.functions import FunctionHost
from tests.api.conftest import Api, Person, World
from tests.api.invoices.test_invoices import created, item
from tests.api.invoices.test_send import mailable_client, message_by_id, parse, pdf_of, send
from tests.api.jobs.test_jobs import bodies, new_tenant, parsed, run, scoped, utc_today
from tests.api.portal.helpers import link, path_of

pytestmark = pytest.mark.usefixtures("aws")

VAT = "DE136695976"
INSTRUCTIONS = "Überweisung an DE89 3704 0044 0532 0130 00"


@pytest.fixture(scope="module")
def seller(api: Api, world: World) -> Person:
    """An organization whose VAT id and payment instructions went in through the API."""
    owner = world.add_person(f"sealed-{uuid.uuid4().hex[:6]}")
    reply = api.put(
        "/api/settings/business",
        as_=owner.name,
        org=owner.personal_org,
        json_body={
            "business_name": "Versiegelt GmbH",
            "tax_id": VAT,
            "default_payment_instructions": INSTRUCTIONS,
        },
    )
    assert reply.status == 200, reply.json()
    stored = world.sql(
        "select tax_id, default_payment_instructions from public.organization_settings"
        " where organization_id = %s",
        owner.personal_org,
    )
    assert stored == [(None, None)]
    return owner


def invoice_of(api: Api, world: World, seller: Person) -> dict[str, Any]:
    client = mailable_client(world, seller.personal_org)
    return created(api, client, as_=seller.name, items=[item("Beratung", "2", "150")])


def test_the_emailed_pdf_shows_the_opened_values(api: Api, world: World, seller: Person) -> None:
    invoice = invoice_of(api, world, seller)
    reply = send(api, invoice["id"], as_=seller.name, org=seller.personal_org)
    assert reply.status == 200, reply.json()
    _, text = pdf_of(parse(message_by_id(reply.json()["send"]["ses_message_id"])))
    assert VAT in text
    assert INSTRUCTIONS in text


def test_the_client_page_and_its_pdf_show_the_opened_values(
    api: Api, world: World, seller: Person
) -> None:
    invoice = invoice_of(api, world, seller)
    assert send(api, invoice["id"], as_=seller.name, org=seller.personal_org).status == 200
    path = path_of(link(api, "invoice", invoice["id"], as_=seller.name)["url"])
    page = api.get(path, headers={"accept": "text/html"})
    assert page.status == 200
    assert "Versiegelt GmbH" in page.content.decode()
    pdf = api.get(path + "/pdf")
    assert pdf.status == 200
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert VAT in text
    assert INSTRUCTIONS in text


def test_the_reminder_email_shows_the_opened_instructions(
    api: Api, world: World, function_host: FunctionHost
) -> None:
    """The reminder job (service role) loads the invoice's document: the organization's
    sealed payment instructions are in the email, as when they were a clear column."""
    tenant = new_tenant(world)
    reply = api.put(
        "/api/settings/business",
        as_=tenant.owner,
        org=tenant.org,
        json_body={"default_payment_instructions": INSTRUCTIONS},
    )
    assert reply.status == 200, reply.json()
    tenant.reminder_settings(
        enabled=True,
        levels=[{"days": 2, "subject": "Late: {invoice_number}", "message": "Please pay."}],
        repeatEveryDays=5,
    )
    invoice_id, _ = tenant.invoice(due=utc_today() - dt.timedelta(days=2))
    result = run(function_host, "jobsReminders", scoped(tenant))
    assert result["sent"] == 1, result
    rows = {row[0]: row for row in tenant.deliveries("payment_reminder")}
    plain, html = bodies(parsed(rows[invoice_id][3]))
    assert INSTRUCTIONS in plain
    assert "DE89 3704 0044 0532 0130 00" in html
