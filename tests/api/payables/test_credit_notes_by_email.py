"""A vendor credit note arriving by email (docs/payables.md, "Vendor credit notes"): the
mail worker reads the attached UBL CreditNote as any e-invoice, the import stores it as
the vendor's credit note (not a vendor invoice) and applies it to the approved invoice it
refers to; the attachment is reported imported."""

from __future__ import annotations

import uuid

import pytest

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from tests.api.conftest import Api, World
from tests.api.email_intake.helpers import address, by_message_id, deliver, drop, message
from tests.einvoice.read_fixtures import FixtureInvoice, FixtureLine, ubl

pytestmark = pytest.mark.usefixtures("aws")


def test_a_mailed_credit_note_is_applied_to_its_invoice(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = f"cn-mail-{uuid.uuid4().hex[:8]}"
    world.add_person(who)
    org = world.people[who].personal_org
    reply = api.put(
        "/api/payables/inbound/settings",
        as_=who,
        json_body={"allowed_senders": ["@vendor.example"]},
    )
    assert reply.status == 200, reply.json()
    vendor = world.sql(
        "insert into public.vendors (organization_id, name) values (%s,"
        " 'Lieferant Werkzeuge GmbH') returning id::text",
        org,
    )[0][0]
    invoice = world.sql(
        "insert into public.vendor_invoices (organization_id, vendor_id, vendor_name,"
        " invoice_number, invoice_date, currency, subtotal, total_amount)"
        " values (%s, %s, 'Lieferant Werkzeuge GmbH', 'RE-1', current_date, 'EUR', 500, 500)"
        " returning id::text",
        org,
        vendor,
    )[0][0]
    world.sql("update public.vendor_invoices set status = 'approved' where id = %s", invoice)
    # The fixture's credit note names RE-1 (BT-25): 2 x 10.00 + 19 % = 23.80.
    note = ubl(
        FixtureInvoice(
            number="GS-MAIL-1", po_number=None, lines=[FixtureLine("W", "Returned", "2", "10.00")]
        ),
        credit_note=True,
    )
    mid = f"<{uuid.uuid4().hex}@vendor.example>"
    drop(
        aws,
        message(
            to=address(api, who),
            sender="billing@vendor.example",
            attachments=[("GS-MAIL-1.xml", "application/xml", note)],
            message_id=mid,
        ),
    )
    assert deliver(function_host, aws) == []
    got = by_message_id(api, who, mid)
    assert got["status"] == "imported", got
    [attachment] = got["attachments"]
    assert (attachment["kind"], attachment["outcome"]) == ("einvoice", "imported"), attachment
    listed = api.get("/api/payables/credit-notes", as_=who, query={"vendor_invoice_id": invoice})
    assert listed.status == 200, listed.json()
    [credit] = listed.json()["data"]
    assert (credit["credit_note_number"], credit["applied_amount"], credit["status"]) == (
        "GS-MAIL-1",
        "23.80",
        "applied",
    )
    assert world.sql(
        "select count(*) from public.vendor_invoices where organization_id = %s"
        " and invoice_number = 'GS-MAIL-1'",
        org,
    ) == [(0,)]
