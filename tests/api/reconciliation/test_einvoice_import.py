"""E-invoices in (issue 19; docs/api.md, "E-invoices in"): UBL, CII and Factur-X vendor
invoices uploaded as files through ``POST /api/reconciliation/imports`` land as vendor
invoices, the vendor found by its VAT id before its name, matched with their purchase
order; the same document twice, malformed XML, XXE, a wrong root and a document that
breaks the EN 16931 rules are rejected with the reason (the rule's id), nothing stored."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from devstack.queues import pollers
from tests.api.conftest import Api, World
from tests.api.reconciliation.test_import import WORKER, batch, fresh, run_worker, upload
from tests.einvoice.read_fixtures import FixtureInvoice, FixtureLine, cii, facturx_pdf, ubl

pytestmark = pytest.mark.usefixtures("aws")


def purchase_order(api: Api, who: str, po: str, vendor: str, *, receive: bool = True) -> None:
    reply = api.post(
        "/api/reconciliation/purchase-orders",
        as_=who,
        json_body={
            "purchase_orders": [
                {
                    "po_number": po,
                    "vendor_name": vendor,
                    "currency": "EUR",
                    "lines": [
                        {"item_code": "W-1", "description": "Widget", "quantity": "10",
                         "unit_price": "9.50"}
                    ],
                }
            ]
        },
    )  # fmt: skip
    assert reply.status == 201, reply.json()
    if receive:
        got = api.post(
            "/api/reconciliation/receipts",
            as_=who,
            json_body={
                "receipts": [
                    {
                        "receipt_number": f"GR-{po}",
                        "po_number": po,
                        "lines": [{"item_code": "W-1", "quantity_received": "10"}],
                    }
                ]
            },
        )
        assert got.status == 201, got.json()


def import_einvoice(  # noqa: PLR0917 (the fixtures, then the file)
    api: Api,
    aws: Provisioned,
    host: FunctionHost,
    who: str,
    data: bytes,
    file_name: str,
    **options: Any,
) -> dict[str, Any]:
    batch_id, event = upload(
        api, aws, who, "vendor_invoices", data=data, file_name=file_name, **options
    )
    result = run_worker(host, event)
    assert result["results"][0]["batch_id"] == batch_id
    return batch(api, who, batch_id)


def invoices(world: World, org: str, number: str) -> list[dict[str, Any]]:
    rows = world.sql(
        "select to_jsonb(vi) from public.vendor_invoices vi"
        " where organization_id = %s and invoice_number = %s",
        org,
        number,
    )
    return [row[0] for row in rows]


def test_ubl_vendor_invoice_uploaded_as_a_file_lands_and_matches_its_po(
    http_api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """docs/payables.md's walk-through: over HTTP, the upload itself starting the import
    as on `make dev` (moto's bucket notification, devstack's S3 trigger)."""
    who = fresh(world)
    org = world.people[who].personal_org
    purchase_order(http_api, who, "PO-4711", "Lieferant Werkzeuge GmbH")
    data = ubl(FixtureInvoice(number="RE-2026-001"))
    reply = http_api.post(
        "/api/reconciliation/imports",
        as_=who,
        json_body={"kind": "vendor_invoices", "file_name": "RE-2026-001.xml", "size": len(data)},
    )
    assert reply.status == 201, reply.json()
    upload_ = reply.json()["upload"]
    assert upload_["headers"] == {"Content-Type": "application/xml"}
    assert upload_["key"].endswith("/RE-2026-001.xml")
    put = httpx.put(upload_["url"], content=data, headers=upload_["headers"])
    assert put.status_code == 200, put.text
    found = [
        p
        for p in pollers(function_host, {}, aws.endpoint, aws.bucket_events())
        if p.spec.name == WORKER
    ]
    assert len(found) == 1
    assert found[0].drain(timeout=120).errors == []
    imported = batch(http_api, who, reply.json()["batch"]["id"])
    assert imported["status"] == "completed", imported
    assert (imported["rows_total"], imported["rows_accepted"]) == (1, 1)

    listed = http_api.get("/api/reconciliation/invoices", as_=who, query={"q": "RE-2026-001"})
    assert listed.status == 200
    (invoice,) = listed.json()["data"]
    assert invoice["status"] == "matched", invoice
    got = http_api.get(f"/api/reconciliation/invoices/{invoice['id']}", as_=who)
    assert got.status == 200, got.json()
    detail = got.json()
    assert detail["purchase_order"]["po_number"] == "PO-4711"
    # The API answers the document's fields, amounts and rates as decimal strings.
    assert (detail["source_format"], detail["buyer_reference"]) == ("ubl", "04011000-12345-03")
    assert (detail["amount_due"], detail["allowance_total"]) == ("113.05", "0")
    assert (detail["lines"][0]["vat_category"], detail["lines"][0]["tax_rate"]) == ("S", "19")
    assert detail["vendor"]["name"] == "Lieferant Werkzeuge GmbH"
    (stored,) = invoices(world, org, "RE-2026-001")
    assert stored["source_format"] == "ubl"
    assert len(stored["source_hash"]) == 64
    assert stored["buyer_reference"] == "04011000-12345-03"
    assert stored["purchase_order_reference"] == "PO-4711"
    assert (Decimal(str(stored["subtotal"])), Decimal(str(stored["tax_amount"]))) == (
        Decimal("95.00"),
        Decimal("18.05"),
    )
    assert Decimal(str(stored["total_amount"])) == Decimal("113.05")
    lines = world.sql(
        "select item_code, quantity, unit_price, amount, vat_category, tax_rate"
        " from public.vendor_invoice_lines where vendor_invoice_id = %s",
        stored["id"],
    )
    assert lines == [("W-1", Decimal("10"), Decimal("9.50"), Decimal("95.00"), "S", Decimal(19))]


def test_the_vendor_is_found_by_its_vat_id_even_under_another_name(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    purchase_order(api, who, "PO-88", "Werkzeug Lieferant")
    vendor_id = world.sql("select id::text from public.vendors where organization_id = %s", org)[0][
        0
    ]
    put = api.put(
        f"/api/reconciliation/vendors/{vendor_id}", as_=who, json_body={"tax_id": "DE 811 907 980"}
    )
    assert put.status == 200, put.json()
    # Another name entirely (no alias): the VAT id decides. As CII, then as Factur-X.
    fixture = FixtureInvoice(
        number="LW-9", seller_name="LW Berlin Niederlassung", seller_vat="DE811907980",
        po_number="PO-88",
    )  # fmt: skip
    imported = import_einvoice(api, aws, function_host, who, cii(fixture), "lw-9.xml")
    assert imported["status"] == "completed", imported
    (stored,) = invoices(world, org, "LW-9")
    assert stored["vendor_id"] == vendor_id
    assert stored["source_format"] == "cii"
    listed = api.get("/api/reconciliation/invoices", as_=who, query={"q": "LW-9"}).json()
    assert listed["data"][0]["status"] == "matched", listed

    fixture.number = "LW-10"
    pdf = facturx_pdf(fixture)
    imported = import_einvoice(api, aws, function_host, who, pdf, "LW-10.pdf")
    assert imported["status"] == "completed", imported
    (stored,) = invoices(world, org, "LW-10")
    assert (stored["vendor_id"], stored["source_format"]) == (vendor_id, "facturx")
    # No vendor was created for the other name.
    assert world.sql("select count(*) from public.vendors where organization_id = %s", org) == [
        (1,)
    ]


def test_a_new_vendor_from_a_document_gets_its_vat_id_sealed(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    fixture = FixtureInvoice(number="NV-1", seller_name="Neuer Lieferant AG", po_number=None)
    fixture.seller_vat = "DE136695976"
    imported = import_einvoice(api, aws, function_host, who, ubl(fixture), "nv-1.xml")
    assert imported["status"] == "completed", imported
    (stored,) = invoices(world, org, "NV-1")
    assert stored["vendor_id"] is not None
    clear, sealed, hashed, email = world.sql(
        "select tax_id, tax_id_sealed, tax_id_hash, email from public.vendors where id = %s",
        stored["vendor_id"],
    )[0]
    assert clear is None
    assert "136695976" not in json.dumps(sealed)
    assert len(hashed) == 64
    assert email == "billing@lieferant.example"
    vendor = api.get(f"/api/reconciliation/vendors/{stored['vendor_id']}", as_=who).json()
    assert vendor["tax_id"] == "DE136695976"
    # Nothing of the VAT id in clear in the batch or its report.
    assert "136695976" not in json.dumps(imported)

    # The next document of that VAT id finds the vendor.
    fixture.number = "NV-2"
    fixture.seller_name = "Neuer Lieferant"
    import_einvoice(api, aws, function_host, who, ubl(fixture), "nv-2.xml")
    (second,) = invoices(world, org, "NV-2")
    assert second["vendor_id"] == stored["vendor_id"]


def test_the_same_document_is_refused_the_second_time(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    data = ubl(FixtureInvoice(number="DUP-1", po_number=None))
    first = import_einvoice(api, aws, function_host, who, data, "dup.xml")
    assert first["status"] == "completed", first
    again = import_einvoice(api, aws, function_host, who, data, "dup-again.xml")
    assert again["status"] == "rejected"
    messages = [e["message"] for e in again["errors"]["data"]]
    assert any("this document was already imported" in m for m in messages), messages
    # The same invoice in another file (as CII): the vendor's number is taken.
    other = import_einvoice(
        api, aws, function_host, who, cii(FixtureInvoice(number="DUP-1", po_number=None)), "d.xml"
    )
    assert other["status"] == "rejected"
    assert "already recorded" in other["errors"]["data"][0]["message"]
    assert len(invoices(world, org, "DUP-1")) == 1


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
<cbc:ID>&xxe;</cbc:ID></Invoice>"""

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><Invoice>&lol9;</Invoice>"
)


@pytest.mark.parametrize(
    ("name", "data", "rule", "words"),
    [
        ("malformed.xml", b"<Invoice><cbc:ID>1</Invoice>", "malformed", "not well-formed"),
        ("xxe.xml", XXE, "dtd_refused", "DTD"),
        ("laughs.xml", LAUGHS, "dtd_refused", "DTD"),
        ("order.xml", b'<Order xmlns="urn:x"/>', "unknown_root", "not an e-invoice"),
        ("plain.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "malformed", "PDF"),
    ],
)
def test_unreadable_documents_are_rejected_with_the_reason(  # noqa: PLR0917
    api: Api,
    aws: Provisioned,
    function_host: FunctionHost,
    world: World,
    name: str,
    data: bytes,
    rule: str,
    words: str,
) -> None:
    who = fresh(world)
    imported = import_einvoice(api, aws, function_host, who, data, name)
    assert imported["status"] == "rejected", imported
    (error,) = imported["errors"]["data"]
    assert error["column"] == rule, error
    assert words in error["message"], error
    assert "root:x:0" not in json.dumps(imported)  # /etc/passwd was never read
    org = world.people[who].personal_org
    assert world.sql(
        "select count(*) from public.vendor_invoices where organization_id = %s", org
    ) == [(0,)]


def test_a_document_breaking_the_rules_is_rejected_with_the_rule(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    data = (
        ubl(FixtureInvoice(number="BAD-1"))
        .replace(
            b'<cbc:PayableAmount currencyID="EUR">113.05<',
            b'<cbc:PayableAmount currencyID="EUR">999.99<',
        )
        .replace(
            b'<cbc:TaxInclusiveAmount currencyID="EUR">113.05<',
            b'<cbc:TaxInclusiveAmount currencyID="EUR">999.99<',
        )
    )
    imported = import_einvoice(api, aws, function_host, who, data, "bad.xml")
    assert imported["status"] == "rejected", imported
    rules = {e["column"] for e in imported["errors"]["data"]}
    assert "BR-CO-15" in rules, imported["errors"]
    message = next(e["message"] for e in imported["errors"]["data"] if e["column"] == "BR-CO-15")
    assert message.startswith("bad.xml: BR-CO-15: ")
    org = world.people[who].personal_org
    assert invoices(world, org, "BAD-1") == []


def test_an_xml_upload_is_for_vendor_invoices_only(api: Api, world: World) -> None:
    who = fresh(world)
    reply = api.post(
        "/api/reconciliation/imports",
        as_=who,
        json_body={"kind": "purchase_orders", "file_name": "po.xml"},
    )
    assert reply.status == 422
    assert reply.error["code"] == "validation_failed"
    pdf = api.post(
        "/api/reconciliation/imports",
        as_=who,
        json_body={
            "kind": "vendor_invoices",
            "file_name": "scan",
            "content_type": "application/pdf",
        },
    )
    assert pdf.status == 201, pdf.json()
    assert pdf.json()["upload"]["key"].endswith("/scan.pdf")
    assert pdf.json()["upload"]["headers"] == {"Content-Type": "application/pdf"}


def test_the_worker_reads_the_content_not_the_suffix(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """A UBL invoice uploaded under a .csv name is read as the e-invoice it is."""
    who = fresh(world)
    org = world.people[who].personal_org
    data = ubl(FixtureInvoice(number="SNIFF-1", po_number=None))
    imported = import_einvoice(api, aws, function_host, who, data, "export.csv")
    assert imported["status"] == "completed", imported
    assert invoices(world, org, "SNIFF-1")[0]["source_format"] == "ubl"


def test_lines_keep_their_vat_category_rate_and_exemption(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """Two rates and a reverse-charge line (EN 16931's totals: BR-CO-10..17)."""
    who = fresh(world)
    org = world.people[who].personal_org
    fixture = FixtureInvoice(
        number="MIX-1",
        po_number=None,
        buyer_vat="DE987654321",
        lines=[
            FixtureLine("A", "Alpha", "3", "19.99"),
            FixtureLine("B", "Beta", "1.5", "10.00", rate="7"),
            FixtureLine("C", "Gamma", "2", "5.00", category="AE", rate="0"),
        ],
    )
    imported = import_einvoice(api, aws, function_host, who, ubl(fixture), "mix.xml")
    assert imported["status"] == "completed", imported
    (stored,) = invoices(world, org, "MIX-1")
    assert Decimal(str(stored["tax_amount"])) == fixture.tax_total == Decimal("12.44")
    assert [g["vat_category"] for g in stored["tax_breakdown"]] == ["AE", "S", "S"]
    lines = world.sql(
        "select line_number, vat_category, tax_rate, tax_exemption_reason_code"
        " from public.vendor_invoice_lines where vendor_invoice_id = %s order by line_number",
        stored["id"],
    )
    assert lines == [
        (1, "S", Decimal(19), None),
        (2, "S", Decimal(7), None),
        (3, "AE", Decimal(0), "VATEX-EU-AE"),
    ]


def _b64(data: bytes) -> str:
    import base64  # noqa: PLC0415

    return base64.b64encode(data).decode()


def test_json_einvoices_one_report_for_several_documents(any_api: Api, world: World) -> None:
    who = fresh(world)
    org = world.people[who].personal_org
    purchase_order(any_api, who, "PO-J1", "Lieferant Werkzeuge GmbH")
    good = ubl(FixtureInvoice(number="J-1", po_number="PO-J1"))
    body = {
        "policy": "accept_valid_rows",
        "documents": [
            {"file_name": "j-1.xml", "content": _b64(good)},
            {"file_name": "broken.xml", "content": "not base64!"},
            {"file_name": "xxe.xml", "content": _b64(XXE)},
        ],
    }
    reply = any_api.post("/api/reconciliation/einvoices", as_=who, json_body=body)
    assert reply.status == 201, reply.json()
    report = reply.json()
    assert [a["index"] for a in report["accepted"]] == [0]
    assert [(r["index"], r["field"]) for r in report["rejected"]] == [
        (1, "documents[1].content"),
        (2, "documents[2]"),
    ]
    assert report["rejected"][1]["message"].startswith("xxe.xml: dtd_refused: ")
    assert report["matching"]["matched"] == 1, report["matching"]
    assert reply.headers["location"] == f"/api/reconciliation/imports/{report['batch']['id']}"
    assert invoices(world, org, "J-1")[0]["source_format"] == "ubl"

    # All or nothing: one bad document, nothing stored (the good one is new).
    other = ubl(FixtureInvoice(number="J-2", po_number=None))
    refused = any_api.post(
        "/api/reconciliation/einvoices",
        as_=who,
        json_body={
            "documents": [
                {"file_name": "j-2.xml", "content": _b64(other)},
                {"file_name": "bad.xml", "content": _b64(b"<Invoice>")},
            ]
        },
    )
    assert refused.status == 422
    assert refused.error["code"] == "import_rejected"
    assert invoices(world, org, "J-2") == []

    wrongs: list[dict[str, Any]] = [
        {"documents": []},
        {"documents": [{"file_name": "x.xml"}]},
        {"einvoices": []},
    ]
    for wrong in wrongs:
        bad = any_api.post("/api/reconciliation/einvoices", as_=who, json_body=wrong)
        assert bad.status == 422, (wrong, bad.json())
        assert bad.error["code"] == "validation_failed"


FUZZ_SEED = ubl(FixtureInvoice(number="FZ-HTTP", po_number=None))
_FUZZER: dict[str, str] = {}  # one organization of its own for every example


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.binary(max_size=600),
        st.tuples(st.integers(min_value=0, max_value=len(FUZZ_SEED)), st.binary(max_size=8)).map(
            lambda cut: FUZZ_SEED[: cut[0]] + cut[1] + FUZZ_SEED[cut[0] + len(cut[1]) :]
        ),
    )
)
def test_any_document_through_the_route_is_an_answer_never_a_500(
    api: Api, world: World, data: bytes
) -> None:
    if "name" not in _FUZZER:
        _FUZZER["name"] = fresh(world)
    who = _FUZZER["name"]
    reply = api.post(
        "/api/reconciliation/einvoices",
        as_=who,
        json_body={
            "policy": "accept_valid_rows",
            "documents": [{"file_name": "fuzz.xml", "content": _b64(data)}],
        },
    )
    assert reply.status in (201, 422), reply.json()
    if not data:  # empty content: the body itself is wrong
        assert reply.error["code"] == "validation_failed"
    elif reply.status == 422:
        assert reply.error["code"] == "import_rejected"
        (rejected,) = reply.error["details"]["rejected"][:1]
        assert rejected["field"] == "documents[0]"
        assert rejected["message"]
