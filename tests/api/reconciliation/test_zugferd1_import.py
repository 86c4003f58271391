"""ZUGFeRD 1.0 vendor invoices through the three ways in (docs/api.md, "E-invoices in"):
the JSON import answers the accepted document with its warning that the EN 16931 rules
were not applied, a ZUGFeRD 1.0 PDF uploaded as a file lands and matches its purchase
order, and one attached to an e-mail is imported with the warning as the attachment's
message. A document whose totals do not add up is refused naming the rule, nothing
stored. Before, each was refused as an unknown root."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from tests.api.conftest import Api, World
from tests.api.email_intake.test_email_intake import allow, send
from tests.api.email_intake.test_email_intake import fresh as fresh_inbound
from tests.api.reconciliation.test_einvoice_import import (
    import_einvoice,
    invoices,
    purchase_order,
)
from tests.api.reconciliation.test_import import fresh
from tests.einvoice.read_fixtures import FixtureLine
from tests.einvoice.zugferd1_fixtures import Zf1Invoice, zf1_xml, zugferd1_pdf

pytestmark = pytest.mark.usefixtures("aws")

WIDGETS = [FixtureLine("W-1", "Widget", "10", "9.50")]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_the_json_import_answers_the_warning_with_the_document(any_api: Api, world: World) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    purchase_order(any_api, who, "PO-Z1", "Lieferant Werkzeuge GmbH")
    good = zf1_xml(Zf1Invoice(number="Z1-1", po_number="PO-Z1", lines=list(WIDGETS)))
    reply = any_api.post(
        "/api/reconciliation/einvoices",
        as_=who,
        json_body={"documents": [{"file_name": "z1-1.xml", "content": _b64(good)}]},
    )
    assert reply.status == 201, reply.json()
    (accepted,) = reply.json()["accepted"]
    (warning,) = accepted["warnings"]
    assert warning.startswith("ZUGFERD-1.0: ZUGFeRD 1.0 COMFORT predates EN 16931")
    assert reply.json()["matching"]["matched"] == 1, reply.json()["matching"]
    (stored,) = invoices(world, org, "Z1-1")
    assert (stored["source_format"], stored["status"]) == ("cii", "matched")
    assert Decimal(str(stored["total_amount"])) == Decimal("113.05")

    broken = zf1_xml(
        Zf1Invoice(
            number="Z1-2", po_number=None, lines=list(WIDGETS), grand_total_offset=Decimal("0.10")
        )
    )
    refused = any_api.post(
        "/api/reconciliation/einvoices",
        as_=who,
        json_body={"documents": [{"file_name": "z1-2.xml", "content": _b64(broken)}]},
    )
    assert refused.status == 422, refused.json()
    assert refused.error["code"] == "import_rejected"
    assert "z1-2.xml: BR-CO-15: GrandTotalAmount 113.15" in refused.error["message"]
    assert invoices(world, org, "Z1-2") == []


def test_a_zugferd_1_pdf_uploaded_as_a_file_lands_and_matches(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    purchase_order(api, who, "PO-Z2", "Lieferant Werkzeuge GmbH")
    pdf = zugferd1_pdf(
        zf1_xml(Zf1Invoice(number="Z2-1", po_number="PO-Z2", profile="extended", lines=WIDGETS))
    )
    imported = import_einvoice(api, aws, function_host, who, pdf, "Z2-1.pdf")
    assert imported["status"] == "completed", imported
    assert (imported["rows_total"], imported["rows_accepted"]) == (1, 1)
    (stored,) = invoices(world, org, "Z2-1")
    assert (stored["source_format"], stored["status"]) == ("facturx", "matched")


def test_a_zugferd_1_pdf_by_mail_is_imported_with_the_warning(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh_inbound(world)
    org = world.people[who].personal_org
    allow(api, who, "@vendor.example")
    pdf = zugferd1_pdf(zf1_xml(Zf1Invoice(number="Z3-1", po_number=None, lines=WIDGETS)))
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="rechnung@vendor.example",
        attachments=[("rechnung.pdf", "application/pdf", pdf)],
    )
    (attachment,) = got["attachments"]
    assert (attachment["kind"], attachment["outcome"]) == ("einvoice", "imported"), attachment
    assert attachment["message"].startswith("ZUGFERD-1.0: ZUGFeRD 1.0 COMFORT predates")
    (stored,) = invoices(world, org, "Z3-1")
    assert stored["source_format"] == "facturx"
