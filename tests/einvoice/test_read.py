"""Reading e-invoices (shared/einvoice/read.py) and turning them into a vendor-invoice
import (shared/reconciliation/ingest/einvoice.py): what the writers write reads back the
same in every profile; hand-written UBL, CII and Factur-X vendor invoices read as the
standards' examples are meant; hostile XML (XXE, entity expansion, a DTD in UTF-16, in a
PDF) is refused before anything is resolved; and no input, however broken, raises."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.einvoice import model, read
from shared.einvoice.cii import to_cii
from shared.einvoice.ubl import to_ubl
from shared.reconciliation.ingest.einvoice import parse_einvoice
from tests.einvoice.corpus import corpus
from tests.einvoice.read_fixtures import FixtureInvoice, FixtureLine, cii, facturx_pdf, ubl

WRITERS = {
    "ubl": to_ubl,
    "xrechnung-ubl": to_ubl,
    "peppol": to_ubl,
    "cii": to_cii,
    "xrechnung-cii": to_cii,
    "facturx": to_cii,
}


def _line_key(line: model.Line) -> tuple[object, ...]:
    return (
        line.id,
        line.name,
        line.quantity,
        line.net_price,
        line.net_amount,
        line.vat_category,
        line.vat_rate,
        line.unit_code,
    )


def _key(invoice: model.Invoice) -> tuple[object, ...]:
    return (
        invoice.number,
        invoice.type_code,
        invoice.issue_date,
        invoice.due_date,
        invoice.currency,
        invoice.buyer_reference,
        invoice.purchase_order_reference,
        invoice.seller.name,
        invoice.seller.vat_id,
        invoice.seller.address,
        invoice.buyer.name,
        invoice.buyer.vat_id,
        [_line_key(line) for line in invoice.lines],
        [(a.amount, a.vat_category, a.vat_rate) for a in invoice.allowances],
        [(c.amount, c.vat_category, c.vat_rate) for c in invoice.charges],
        [
            (t.vat_category, t.vat_rate, t.taxable_amount, t.tax_amount, t.exemption_reason_code)
            for t in invoice.tax_breakdown
        ],
        (
            invoice.totals.line_net_total,
            invoice.totals.allowance_total,
            invoice.totals.charge_total,
            invoice.totals.tax_exclusive,
            invoice.totals.tax_total,
            invoice.totals.tax_inclusive,
            invoice.totals.payable,
        ),
        invoice.preceding_invoice_reference,
    )


CASES = corpus()


@pytest.mark.parametrize("profile", sorted(WRITERS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_what_the_writers_write_reads_back_the_same(case: str, profile: str) -> None:
    invoice = CASES[case]
    try:
        xml = WRITERS[profile](invoice, profile)
    except ValueError as error:  # a case the profile cannot carry (the writer says so)
        pytest.skip(f"{profile} does not write {case}: {error}")
    got = read.read_xml(xml)
    assert _key(got) == _key(invoice)
    assert got.syntax == ("ubl" if "ubl" in profile or profile == "peppol" else "cii")


def test_hand_written_ubl_and_cii_read_alike() -> None:
    fixture = FixtureInvoice(
        lines=[
            FixtureLine("W-1", "Widget", "10", "9.50"),
            FixtureLine("B-2", "Buch", "2", "12.345", rate="7"),
        ]
    )
    from_ubl = read.read_xml(ubl(fixture))
    from_cii = read.read_xml(cii(fixture))
    assert _key(from_ubl) == _key(from_cii)
    assert from_ubl.seller.vat_id == "DE123456789"
    assert from_ubl.purchase_order_reference == "PO-4711"
    assert [line.seller_item_id for line in from_ubl.lines] == ["W-1", "B-2"]  # type: ignore[attr-defined]
    assert from_ubl.totals.tax_total == fixture.tax_total
    assert from_ubl.payment is not None
    assert from_ubl.payment.iban == "DE89370400440532013000"


def test_a_facturx_pdf_reads_its_embedded_cii() -> None:
    fixture = FixtureInvoice(number="FX-1")
    invoice, fmt, xml = read.read(facturx_pdf(fixture))
    assert fmt == "facturx"
    assert invoice.number == "FX-1"
    assert _key(invoice) == _key(read.read_xml(cii(fixture)))
    assert xml.startswith(b"<?xml")


def test_a_utf16_document_reads_and_validates() -> None:
    text = ubl(FixtureInvoice(number="U16")).decode("utf-8")
    data = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    parsed = parse_einvoice(data, "u16.xml")
    assert parsed.errors == []
    assert parsed.documents[0]["invoice_number"] == "U16"


# --- hostile XML -------------------------------------------------------------------------


def test_an_external_entity_is_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
        'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
        "<cbc:ID>&x;</cbc:ID></Invoice>"
    ).encode()
    with pytest.raises(read.ReadError) as refused:
        read.read(xxe)
    assert refused.value.code == "dtd_refused"
    parsed = parse_einvoice(xxe, "xxe.xml")
    assert parsed.documents == []
    assert "TOP-SECRET" not in repr(parsed.errors)


@pytest.mark.parametrize(
    "data",
    [
        # An external DTD (network), a parameter entity, the billion laughs, and a DTD
        # written in UTF-16 (the bytes of "<!DOCTYPE" are not contiguous there).
        b'<?xml version="1.0"?><!DOCTYPE Invoice SYSTEM "http://127.0.0.1:9/x.dtd"><Invoice/>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><x/>',
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY a{i} "{("&a" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 12)
        )
        + b"]><Invoice>&a11;</Invoice>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>'.encode(
            "utf-16"
        ),
    ],
    ids=["external-dtd", "parameter-entity", "billion-laughs", "utf16-dtd"],
)
def test_a_dtd_is_refused_before_anything_is_resolved(data: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(read.ReadError) as refused:
        read.read(data)
    assert refused.value.code == "dtd_refused"
    assert time.perf_counter() - started < 1.0


def test_an_xxe_inside_a_pdf_is_refused_too() -> None:
    from pypdf import PdfWriter  # noqa: PLC0415

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_attachment(
        "factur-x.xml",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:'
        b'CrossIndustryInvoice:100">&x;</rsm:CrossIndustryInvoice>',
    )
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(read.ReadError) as refused:
        read.read(buffer.getvalue())
    assert refused.value.code in ("dtd_refused", "no_xml_in_pdf")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "unknown_root"),
        (b"invoice_number;vendor\n1;ACME\n", "unknown_root"),
        (b"<Invoice><unclosed></Invoice>", "malformed"),
        (b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>', "unknown_root"),
        (b"%PDF-1.7\n%garbage", "malformed"),
        (b"<x/>" + b" " * (read.MAX_BYTES + 1), "too_large"),
    ],
    ids=["empty", "csv", "malformed", "ubl-order", "broken-pdf", "too-large"],
)
def test_what_is_not_an_einvoice_is_refused_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(read.ReadError) as refused:
        read.read(data)
    assert refused.value.code == code
    parsed = parse_einvoice(data, "f.xml")
    assert parsed.documents == []
    assert parsed.errors[0].column == code
    assert parsed.errors[0].message.startswith("f.xml: ")


def test_a_plain_pdf_carries_no_einvoice() -> None:
    from pypdf import PdfWriter  # noqa: PLC0415

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(read.ReadError) as refused:
        read.read(buffer.getvalue())
    assert refused.value.code == "no_xml_in_pdf"


# --- the import's mapping ----------------------------------------------------------------


def test_a_vendor_invoice_maps_to_the_import_document() -> None:
    fixture = FixtureInvoice(
        number="MAP-1",
        lines=[
            FixtureLine("W-1", "Widget", "10", "9.50"),
            FixtureLine("R-1", "Reverse", "1", "100", category="AE", rate="0"),
        ],
    )
    fixture.buyer_vat = "DE987654321"
    parsed = parse_einvoice(ubl(fixture), "map.xml", row=3)
    assert parsed.errors == []
    (document,) = parsed.documents
    assert (document["index"], document["rows"]) == (3, [3])
    assert document["vendor_name"] == "Lieferant Werkzeuge GmbH"
    assert document["vendor_tax_id"] == "DE123456789"
    assert document["po_number"] == "PO-4711"
    assert document["source_format"] == "ubl"
    assert (document["subtotal"], document["tax_amount"], document["total_amount"]) == (
        "195.00",
        "18.05",
        "213.05",
    )
    assert [
        (line["item_code"], line["quantity"], line["unit_price"], line["vat_category"])
        for line in document["lines"]
    ] == [("W-1", "10", "9.5", "S"), ("R-1", "1", "100", "AE")]
    assert document["lines"][1]["tax_exemption_reason_code"] == "VATEX-EU-AE"


def test_what_a_vendor_invoice_cannot_hold_rejects_the_document() -> None:
    invoice = read.read_xml(ubl(FixtureInvoice(number="NEG-1")))
    line = invoice.lines[0]
    negative = replace(invoice, lines=(replace(line, quantity=Decimal(-1)),))
    from shared.reconciliation.ingest import einvoice  # noqa: PLC0415

    with pytest.raises(einvoice._Rejected) as rejected:
        einvoice.to_document(negative)
    assert rejected.value.reasons[0].rule_id == "BT-129"
    fine_price = replace(invoice, lines=(replace(line, net_price=Decimal("1.00001")),))
    with pytest.raises(einvoice._Rejected) as rejected:
        einvoice.to_document(fine_price)
    assert rejected.value.reasons[0].rule_id == "BT-146"
    long_po = replace(invoice, purchase_order_reference="P" * 60)
    document = einvoice.to_document(long_po)
    assert document["po_number"] is None
    assert document["purchase_order_reference"] == "P" * 60


def test_a_credit_note_is_a_vendor_credit_note() -> None:
    parsed = parse_einvoice(ubl(FixtureInvoice(number="CN-1"), credit_note=True), "cn.xml")
    assert parsed.errors == []
    document = parsed.documents[0]
    assert document["document_type"] == "credit_note"
    assert document["invoice_number"] == "CN-1"
    assert document["preceding_invoice_reference"] == "RE-1"
    invoice = parse_einvoice(ubl(FixtureInvoice(number="RE-9")), "re.xml").documents[0]
    assert "document_type" not in invoice


def test_a_price_per_base_quantity_is_a_unit_price() -> None:
    data = ubl(FixtureInvoice(lines=[FixtureLine("P", "Paper", "500", "4.20")])).replace(
        b'<cbc:PriceAmount currencyID="EUR">4.20</cbc:PriceAmount>',
        b'<cbc:PriceAmount currencyID="EUR">420.00</cbc:PriceAmount>'
        b'<cbc:BaseQuantity unitCode="C62">100</cbc:BaseQuantity>',
    )
    parsed = parse_einvoice(data, "p.xml")
    assert parsed.errors == []
    assert parsed.documents[0]["lines"][0]["unit_price"] == "4.2"


# --- fuzzing: never an exception -----------------------------------------------------------

SEED = ubl(FixtureInvoice(number="FZ-1"))
SEED_CII = cii(FixtureInvoice(number="FZ-2"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_are_a_parsed_batch_never_an_exception(data: bytes) -> None:
    parsed = parse_einvoice(data, "fuzz.xml")
    assert len(parsed.documents) + len(parsed.errors) >= 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([SEED, SEED_CII]),
    st.lists(
        st.tuples(
            st.integers(min_value=0), st.integers(min_value=0, max_value=40), st.binary(max_size=12)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_a_damaged_einvoice_is_a_parsed_batch_never_an_exception(
    seed: bytes, edits: list[tuple[int, int, bytes]]
) -> None:
    data = seed
    for start, length, insert in edits:
        at = start % max(len(data), 1)
        data = data[:at] + insert + data[at + length :]
    parsed = parse_einvoice(data, "damaged.xml")
    assert len(parsed.documents) + len(parsed.errors) >= 1


VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["-1", "1e400", "NaN", "Infinity", "0", "99999999999999999", "1.23456789", ""]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([SEED, SEED_CII]), st.data())
def test_any_value_in_any_element_is_a_parsed_batch_never_an_exception(
    seed: bytes, data: st.DataObject
) -> None:
    """Every element's text replaced by what hypothesis picks (numbers, dates, codes)."""
    from lxml import etree  # noqa: PLC0415

    root = etree.fromstring(seed)
    leaves = [e for e in root.iter() if isinstance(e.tag, str) and len(e) == 0]
    for element in data.draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=5)):
        text = data.draw(VALUES)
        element.text = "".join(ch for ch in text if ch.isprintable()) or None
    parsed = parse_einvoice(etree.tostring(root), "values.xml")
    assert len(parsed.documents) + len(parsed.errors) >= 1


def test_a_document_claiming_xrechnung_is_held_to_its_rules() -> None:
    xrechnung = b"urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    plain = ubl(FixtureInvoice(number="XR-1", buyer_reference=None))
    assert parse_einvoice(plain, "plain.xml").errors == []  # EN 16931 needs no Leitweg-ID
    claimed = plain.replace(b"urn:cen.eu:en16931:2017", xrechnung)
    parsed = parse_einvoice(claimed, "xr.xml")
    assert parsed.documents == []
    assert any(e.column and e.column.startswith("BR-DE-") for e in parsed.errors), parsed.errors


@pytest.mark.parametrize("profile", ["xrechnung-ubl", "xrechnung-cii", "peppol", "facturx"])
def test_what_our_writers_write_imports_without_a_finding(profile: str) -> None:
    invoice = CASES["standard-two-rates"]
    parsed = parse_einvoice(WRITERS[profile](invoice, profile), f"{profile}.xml")
    assert parsed.errors == []
    assert parsed.documents[0]["invoice_number"] == invoice.number
