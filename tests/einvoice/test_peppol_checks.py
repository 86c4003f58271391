"""Our Peppol BIS Billing 3.0 checks (shared/einvoice/checks.py, peppol_ids.py), rule by
rule: a document that breaks the rule has the finding named, with the rule's flag and
source "ours"; the same document mended has none; and the corpus we write (its parties
with Peppol participant ids) has no finding of ours, while an email endpoint (EM) breaks
CL008, fatal as Peppol's.

Each document is one of the corpus's as our UBL writer writes it for Peppol, changed in its
XML where the model cannot say the thing (a second note, a price-level charge ...). The
changed document still passes the UBL XSD (asserted), so the findings are those
`validate("peppol")` answers, not those of a document the validator stops at the XSD."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from lxml import etree

from shared.einvoice import checks, model, peppol_ids, ubl, validate
from tests.einvoice.corpus import corpus

CASES = corpus()
D = Decimal


def peppol(name: str = "standard-two-rates", case: model.Invoice | None = None) -> bytes:
    return ubl.to_ubl(case or CASES[name], "peppol")


def change(document: bytes, old: str, new: str, count: int = 1) -> bytes:
    """``document`` with the first ``count`` occurrences of ``old`` replaced (``old`` must
    occur: a test whose change missed proves nothing)."""
    assert old.encode() in document, old
    return document.replace(old.encode(), new.encode(), count)


def findings(document: bytes) -> list[validate.Finding]:
    """validate("peppol")'s findings; the document must pass the XSD."""
    found = validate.validate(document, "peppol")
    assert [f for f in found if f.source == "xsd"] == []
    return found


def ours(document: bytes) -> dict[str, validate.Finding]:
    """Our findings by rule id (the first of each)."""
    found: dict[str, validate.Finding] = {}
    for finding in findings(document):
        if finding.source == "ours":
            found.setdefault(finding.rule_id, finding)
    return found


def breaks(document: bytes, rule: str, flag: str = "fatal") -> validate.Finding:
    found = ours(document)
    assert rule in found, sorted(found)
    finding = found[rule]
    assert (finding.flag, finding.source) == (flag, "ours")
    assert finding.message.startswith(f"[{rule}] ")
    return finding


def keeps(document: bytes, rule: str) -> None:
    assert rule not in ours(document)


# The corpus's seller endpoint, a GLN (0088); the buyers' are Peppol participant ids too.
PEPPOL_SELLER = 'schemeID="0088">7300010000001</cbc:EndpointID>'


def with_email_endpoints(document: bytes) -> bytes:
    """The seller's and the buyer's endpoints email addresses under EM, which the CEN
    EAS list (BR-CL-25) has and Peppol's (CL008) has not."""
    root = etree.fromstring(document)
    endpoints = [
        *root.findall("cac:AccountingSupplierParty/cac:Party/cbc:EndpointID", checks.NS),
        *root.findall("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", checks.NS),
    ]
    emails = ("billing@muster.example", "ap@kunde.example")
    for endpoint, email in zip(endpoints, emails, strict=True):
        endpoint.set("schemeID", "EM")
        endpoint.text = email
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


# --- The corpus: no false positive -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_corpus_breaks_no_rule_of_ours(name: str) -> None:
    document = peppol(name)
    assert checks.peppol(etree.fromstring(document)) == []
    assert validate.fatal(validate.validate(document, "peppol")) == []
    # An email endpoint (scheme EM) is not a Peppol participant id: CL008, fatal.
    email = with_email_endpoints(document)
    found = [f for f in findings(email) if f.source == "ours"]
    assert {(f.rule_id, f.flag) for f in found} == {("PEPPOL-EN16931-CL008", "fatal")}
    assert len(found) == 2  # the seller's and the buyer's


# --- Document level ----------------------------------------------------------------------


def test_r001_and_r007_the_business_process() -> None:
    without = change(
        peppol(), "<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>", ""
    )
    breaks(without, "PEPPOL-EN16931-R001")
    breaks(without, "PEPPOL-EN16931-R007")
    one_digit = change(peppol(), "billing:01:1.0", "billing:1:1.0")
    breaks(one_digit, "PEPPOL-EN16931-R007")
    keeps(one_digit, "PEPPOL-EN16931-R001")
    # The rule finds the pattern anywhere in the ID (XPath's matches() is not anchored).
    keeps(change(peppol(), "<cbc:ProfileID>urn", "<cbc:ProfileID>x urn"), "PEPPOL-EN16931-R007")


TWO_NOTES = "<cbc:Note>Erste</cbc:Note><cbc:Note>Zweite</cbc:Note><cbc:DocumentCurrencyCode>"


def test_r002_one_note_unless_both_parties_are_german() -> None:
    foreign = change(peppol("reverse-charge"), "<cbc:DocumentCurrencyCode>", TWO_NOTES)
    breaks(foreign, "PEPPOL-EN16931-R002")
    # Seller and buyer in Germany: any number of notes (the rule's exception).
    keeps(change(peppol(), "<cbc:DocumentCurrencyCode>", TWO_NOTES), "PEPPOL-EN16931-R002")


def test_r003_a_buyer_or_order_reference() -> None:
    case = replace(CASES["zero-rated"], buyer_reference=None, purchase_order_reference=None)
    breaks(peppol(case=case), "PEPPOL-EN16931-R003")
    keeps(peppol(case=replace(case, purchase_order_reference="PO-1")), "PEPPOL-EN16931-R003")


def test_r005_the_tax_currency_differs_from_the_invoice_currency() -> None:
    document = change(
        peppol(),
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        "<cbc:TaxCurrencyCode>EUR</cbc:TaxCurrencyCode>",
    )
    breaks(document, "PEPPOL-EN16931-R005")


def with_tax_currency(tax_total: str | None) -> bytes:
    document = change(
        peppol(),
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        "<cbc:TaxCurrencyCode>DKK</cbc:TaxCurrencyCode>",
    )
    if tax_total is None:
        return document
    total = (
        f'<cac:TaxTotal><cbc:TaxAmount currencyID="DKK">{tax_total}</cbc:TaxAmount></cac:TaxTotal>'
    )
    return change(document, "<cac:LegalMonetaryTotal>", total + "<cac:LegalMonetaryTotal>")


def test_r053_r054_r055_the_tax_totals() -> None:
    breaks(with_tax_currency(None), "PEPPOL-EN16931-R054")
    good = with_tax_currency("4232.39")
    for rule in ("R053", "R054", "R055", "R005", "R051"):
        keeps(good, f"PEPPOL-EN16931-{rule}")  # BT-111 is in the tax currency
    breaks(with_tax_currency("-4232.39"), "PEPPOL-EN16931-R055")
    root = etree.fromstring(peppol())
    [total] = root.findall("cac:TaxTotal", checks.NS)
    total.addnext(etree.fromstring(etree.tostring(total)))
    breaks(etree.tostring(root), "PEPPOL-EN16931-R053")


PROJECT = (
    "<cac:AdditionalDocumentReference><cbc:ID>{}</cbc:ID>"
    "<cbc:DocumentTypeCode>50</cbc:DocumentTypeCode></cac:AdditionalDocumentReference>"
)


def test_r080_one_project_reference_on_a_credit_note() -> None:
    two = PROJECT.format("P-1") + PROJECT.format("P-2") + "<cac:AccountingSupplierParty>"
    breaks(
        change(peppol("credit-note"), "<cac:AccountingSupplierParty>", two), "PEPPOL-EN16931-R080"
    )
    one = PROJECT.format("P-1") + "<cac:AccountingSupplierParty>"
    keeps(
        change(peppol("credit-note"), "<cac:AccountingSupplierParty>", one), "PEPPOL-EN16931-R080"
    )


def test_r008_no_empty_elements_by_xml_whitespace() -> None:
    empty = change(
        peppol(),
        "<cbc:DocumentCurrencyCode>",
        "<cbc:Note> \n\t</cbc:Note><cbc:DocumentCurrencyCode>",
    )
    assert breaks(empty, "PEPPOL-EN16931-R008").location == "/*/cbc:Note"
    # A no-break space is not XML whitespace: content, as XPath's normalize-space() reads.
    nbsp = change(
        peppol(),
        "<cbc:DocumentCurrencyCode>",
        "<cbc:Note>\u00a0</cbc:Note><cbc:DocumentCurrencyCode>",
    )
    keeps(nbsp, "PEPPOL-EN16931-R008")


def test_r010_r020_need_the_addresses_and_leave_their_scheme_to_the_cen_rules() -> None:
    case = CASES["zero-rated"]
    no_seller_address = replace(case, seller=replace(case.seller, electronic_address=None))
    breaks(peppol(case=no_seller_address), "PEPPOL-EN16931-R020")
    keeps(peppol(case=no_seller_address), "PEPPOL-EN16931-R010")
    no_scheme = change(peppol(), ' schemeID="0088"', "")
    assert {"PEPPOL-EN16931-R010", "PEPPOL-EN16931-R020"}.isdisjoint(ours(no_scheme))
    assert "BR-62" in {f.rule_id for f in validate.fatal(findings(no_scheme))}


# --- Allowances and charges --------------------------------------------------------------


def with_allowance(amount: str, percentage: str | None, base: str | None) -> bytes:
    allowance = model.AllowanceCharge(
        D(amount),
        "S",
        D("19"),
        reason="Treuerabatt",
        reason_code="95",
        percentage=None if percentage is None else D(percentage),
        base_amount=None if base is None else D(base),
    )
    case = CASES["standard-two-rates"]
    return peppol(case=replace(case, allowances=(allowance, *case.allowances[1:])))


def test_r040_the_amount_is_the_base_times_the_percentage_within_two_cents() -> None:
    breaks(with_allowance("50.00", "10", "400.00"), "PEPPOL-EN16931-R040")
    keeps(with_allowance("50.00", "10", "500.00"), "PEPPOL-EN16931-R040")
    keeps(with_allowance("50.00", "10", "500.20"), "PEPPOL-EN16931-R040")  # 0.02 off


def test_r041_r042_percentage_and_base_go_together() -> None:
    breaks(with_allowance("50.00", "10", None), "PEPPOL-EN16931-R041")
    breaks(with_allowance("50.00", None, "500.00"), "PEPPOL-EN16931-R042")


def test_r043_the_charge_indicator_is_true_or_false() -> None:
    one = change(
        peppol(),
        "<cbc:ChargeIndicator>false</cbc:ChargeIndicator>",
        "<cbc:ChargeIndicator>0</cbc:ChargeIndicator>",
    )
    breaks(one, "PEPPOL-EN16931-R043")  # "0" is a boolean to the XSD
    # An allowance that breaks R041 is not checked for R043 (the first rule of the
    # pattern whose context it matches is the only one).
    both = change(
        with_allowance("50.00", "10", None),
        "<cbc:ChargeIndicator>false</cbc:ChargeIndicator>",
        "<cbc:ChargeIndicator>0</cbc:ChargeIndicator>",
    )
    assert "PEPPOL-EN16931-R043" not in ours(both)
    assert "PEPPOL-EN16931-R041" in ours(both)


def with_price_allowance(indicator: str, gross: str) -> bytes:
    return change(
        peppol(),
        '<cbc:PriceAmount currencyID="EUR">120</cbc:PriceAmount>',
        '<cbc:PriceAmount currencyID="EUR">120</cbc:PriceAmount><cac:AllowanceCharge>'
        f"<cbc:ChargeIndicator>{indicator}</cbc:ChargeIndicator>"
        '<cbc:Amount currencyID="EUR">5</cbc:Amount>'
        f'<cbc:BaseAmount currencyID="EUR">{gross}</cbc:BaseAmount></cac:AllowanceCharge>',
    )


def test_r044_r046_a_price_has_allowances_only_and_net_is_gross_less_them() -> None:
    good = with_price_allowance("false", "125")
    keeps(good, "PEPPOL-EN16931-R044")
    keeps(good, "PEPPOL-EN16931-R046")
    breaks(with_price_allowance("true", "125"), "PEPPOL-EN16931-R044")
    breaks(with_price_allowance("false", "124.99"), "PEPPOL-EN16931-R046")


# --- Currencies, payment -----------------------------------------------------------------


def test_r051_each_amount_in_the_invoice_currency() -> None:
    document = change(
        peppol(),
        '<cbc:ChargeTotalAmount currencyID="EUR">',
        '<cbc:ChargeTotalAmount currencyID="USD">',
    )
    finding = breaks(document, "PEPPOL-EN16931-R051")
    assert finding.location == "/*/cac:LegalMonetaryTotal/cbc:ChargeTotalAmount"


def test_cl007_peppols_iso_4217_list() -> None:
    # CNH is in the CEN rules' list (BR-CL-03, BR-CL-04), not in Peppol's.
    document = (
        peppol()
        .replace(b'currencyID="EUR"', b'currencyID="CNH"')
        .replace(b"<cbc:DocumentCurrencyCode>EUR<", b"<cbc:DocumentCurrencyCode>CNH<")
    )
    breaks(document, "PEPPOL-EN16931-CL007")
    keeps(document, "PEPPOL-EN16931-R051")
    assert not {"BR-CL-03", "BR-CL-04"} & {f.rule_id for f in findings(document)}


def test_r061_a_direct_debit_names_its_mandate() -> None:
    debit = change(peppol(), "<cbc:PaymentMeansCode>58<", "<cbc:PaymentMeansCode>59<")
    breaks(debit, "PEPPOL-EN16931-R061")
    mandate = "<cac:PaymentMandate><cbc:ID>M-1</cbc:ID></cac:PaymentMandate></cac:PaymentMeans>"
    keeps(change(debit, "</cac:PaymentMeans>", mandate), "PEPPOL-EN16931-R061")


# --- Lines -------------------------------------------------------------------------------


def with_line_reference(*type_codes: str) -> bytes:
    references = "".join(
        f"<cac:DocumentReference><cbc:ID>OBJ-{i}</cbc:ID>"
        f"<cbc:DocumentTypeCode>{code}</cbc:DocumentTypeCode></cac:DocumentReference>"
        for i, code in enumerate(type_codes)
    )
    return change(peppol(), "<cac:Item>", references + "<cac:Item>")


def test_r100_r101_one_invoiced_object_per_line() -> None:
    good = with_line_reference("130")
    keeps(good, "PEPPOL-EN16931-R100")
    keeps(good, "PEPPOL-EN16931-R101")
    breaks(with_line_reference("130", "130"), "PEPPOL-EN16931-R100")
    breaks(with_line_reference("916"), "PEPPOL-EN16931-R101")


def with_periods(line_start: str, line_end: str) -> bytes:
    document = change(
        peppol(),
        "<cac:OrderReference>",
        "<cac:InvoicePeriod><cbc:StartDate>2026-11-01</cbc:StartDate>"
        "<cbc:EndDate>2026-11-30</cbc:EndDate></cac:InvoicePeriod><cac:OrderReference>",
    )
    return change(
        document,
        "<cac:Item>",
        f"<cac:InvoicePeriod><cbc:StartDate>{line_start}</cbc:StartDate>"
        f"<cbc:EndDate>{line_end}</cbc:EndDate></cac:InvoicePeriod><cac:Item>",
    )


def test_r110_r111_a_lines_period_within_the_invoices() -> None:
    inside = with_periods("2026-11-01", "2026-11-30")
    keeps(inside, "PEPPOL-EN16931-R110")
    keeps(inside, "PEPPOL-EN16931-R111")
    breaks(with_periods("2026-10-31", "2026-11-30"), "PEPPOL-EN16931-R110")
    breaks(with_periods("2026-11-01", "2026-12-01"), "PEPPOL-EN16931-R111")


def test_r120_within_two_cents_and_with_the_base_quantity() -> None:
    line = '<cbc:LineExtensionAmount currencyID="EUR">1500.00</cbc:LineExtensionAmount>'
    near = line.replace("1500.00", "1500.02")
    keeps(change(peppol(), line, near), "PEPPOL-EN16931-R120")  # the rule's slack
    breaks(change(peppol(), line, line.replace("1500.00", "1500.03")), "PEPPOL-EN16931-R120")
    per_ten = (
        '<cbc:PriceAmount currencyID="EUR">120</cbc:PriceAmount>'
        '<cbc:BaseQuantity unitCode="C62">10</cbc:BaseQuantity>'
    )
    breaks(
        change(peppol(), '<cbc:PriceAmount currencyID="EUR">120</cbc:PriceAmount>', per_ten),
        "PEPPOL-EN16931-R120",
    )


def with_base_quantity(quantity: str, unit: str = "C62") -> bytes:
    return change(
        peppol(),
        '<cbc:PriceAmount currencyID="EUR">120</cbc:PriceAmount>',
        '<cbc:PriceAmount currencyID="EUR">120</cbc:PriceAmount>'
        f'<cbc:BaseQuantity unitCode="{unit}">{quantity}</cbc:BaseQuantity>',
    )


def test_r121_r130_the_base_quantity() -> None:
    keeps(with_base_quantity("1"), "PEPPOL-EN16931-R121")
    zero = with_base_quantity("0")
    breaks(zero, "PEPPOL-EN16931-R121")
    keeps(zero, "PEPPOL-EN16931-R120")  # R120 reads a base quantity of 0 as 1
    breaks(with_base_quantity("-1"), "PEPPOL-EN16931-R121")
    keeps(with_base_quantity("1"), "PEPPOL-EN16931-R130")
    breaks(with_base_quantity("1", "HUR"), "PEPPOL-EN16931-R130")


# --- Type codes, exemption codes, dates --------------------------------------------------


def test_p0100_p0112_invoice_type_codes() -> None:
    def typed(code: str, name: str = "standard-two-rates") -> bytes:
        return change(peppol(name), "<cbc:InvoiceTypeCode>380<", f"<cbc:InvoiceTypeCode>{code}<")

    breaks(typed("325"), "PEPPOL-EN16931-P0100")
    # 384 (corrected invoice) and 326 (partial): between German parties only.
    keeps(typed("384"), "PEPPOL-EN16931-P0100")
    keeps(typed("384"), "PEPPOL-EN16931-P0112")
    breaks(typed("326", "reverse-charge"), "PEPPOL-EN16931-P0112")
    # P0100 holds for the billing process 01 only.
    other = change(typed("325"), "billing:01:1.0", "billing:02:1.0")
    keeps(other, "PEPPOL-EN16931-P0100")


def test_p0101_credit_note_type_codes() -> None:
    document = change(
        peppol("credit-note"), "<cbc:CreditNoteTypeCode>381<", "<cbc:CreditNoteTypeCode>380<"
    )
    breaks(document, "PEPPOL-EN16931-P0101")


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("VATEX-EU-G", "P0104"),
        ("VATEX-EU-O", "P0105"),
        ("VATEX-EU-IC", "P0106"),
        ("vatex-eu-ae", "P0107"),  # the rule reads the code upper-cased
        ("VATEX-EU-D", "P0108"),
        ("VATEX-EU-F", "P0109"),
        ("VATEX-EU-I", "P0110"),
        ("VATEX-EU-J", "P0111"),
    ],
)
def test_p0104_to_p0111_an_exemption_code_names_its_category(code: str, rule: str) -> None:
    # The exempt invoice's breakdown (category E) with another code than its VATEX-EU-132.
    document = peppol("exempt").replace(
        b"<cbc:TaxExemptionReasonCode>VATEX-EU-132<",
        f"<cbc:TaxExemptionReasonCode>{code}<".encode(),
    )
    assert code.encode() in document
    if rule in ("P0108", "P0109", "P0110", "P0111"):  # they want category E: kept
        keeps(document, f"PEPPOL-EN16931-{rule}")
        document = document.replace(b"<cbc:ID>E</cbc:ID>", b"<cbc:ID>S</cbc:ID>")
    breaks(document, f"PEPPOL-EN16931-{rule}")


def test_f001_dates_without_a_time_zone() -> None:
    document = change(peppol(), "<cbc:IssueDate>2026-11-30<", "<cbc:IssueDate>2026-11-30+01:00<")
    assert breaks(document, "PEPPOL-EN16931-F001").location == "/*/cbc:IssueDate"


# --- Identifiers by ICD scheme (PEPPOL-COMMON) and the EAS list --------------------------

IDENTIFIERS = [
    # scheme, a valid identifier, an invalid one, rule, flag
    ("0088", "7300010000001", "7300010000002", "R040", "fatal"),
    ("0192", "974760673", "974760674", "R041", "fatal"),
    ("0184", "12345678", "1234567", "R042", "fatal"),
    ("0184", "DK12345678", "DK1234567X", "R042", "fatal"),
    ("0208", "0202239951", "0202239952", "R043", "fatal"),
    ("0201", "UFY9MH", "UFY-9M", "R044", "warning"),
    ("0210", "RSSMRA85T10A562S", "RSSMRA85T10A56XS", "R045", "warning"),
    ("0210", "12345678901", "1234567890", "R045", "warning"),
    ("9907", "RSSMRA85T10A562S", "RSSMRA85", "R046", "warning"),
    ("0211", "IT00743110157", "IT00743110158", "R047", "warning"),
    ("0007", "5560360793", "5560360794", "R049", "fatal"),
    ("0151", "51824753556", "51824753557", "R050", "fatal"),
]


@pytest.mark.parametrize(("scheme", "good", "bad", "rule", "flag"), IDENTIFIERS)
def test_common_identifiers_by_scheme(
    scheme: str, good: str, bad: str, rule: str, flag: str
) -> None:
    def endpoint(value: str) -> bytes:
        return change(
            peppol(),
            PEPPOL_SELLER,
            f'schemeID="{scheme}">{value}</cbc:EndpointID>',
        )

    keeps(endpoint(good), f"PEPPOL-COMMON-{rule}")
    finding = breaks(endpoint(bad), f"PEPPOL-COMMON-{rule}", flag)
    assert finding.location == "/*/cac:AccountingSupplierParty/cac:Party/cbc:EndpointID"


def test_common_identifiers_in_legal_and_party_ids_too() -> None:
    legal = change(
        peppol(), "<cbc:CompanyID>HRB 12345<", '<cbc:CompanyID schemeID="0208">0202239952<'
    )
    breaks(legal, "PEPPOL-COMMON-R043")
    # 9907 (R046) is a rule of electronic addresses only.
    keeps(
        change(peppol(), "<cbc:CompanyID>HRB 12345<", '<cbc:CompanyID schemeID="9907">x<'),
        "PEPPOL-COMMON-R046",
    )
    party = change(
        peppol(),
        "<cac:PostalAddress><cbc:StreetName>Marienplatz",
        '<cac:PartyIdentification><cbc:ID schemeID="0088">124</cbc:ID></cac:PartyIdentification>'
        "<cac:PostalAddress><cbc:StreetName>Marienplatz",
    )
    breaks(party, "PEPPOL-COMMON-R040")
    # The Danish CVR is read as written, not normalized (as the rule reads it).
    keeps(
        change(peppol(), "<cbc:CompanyID>HRB 12345<", '<cbc:CompanyID schemeID="0184">12345678<'),
        "PEPPOL-COMMON-R042",
    )
    breaks(
        change(peppol(), "<cbc:CompanyID>HRB 12345<", '<cbc:CompanyID schemeID="0184"> 12345678<'),
        "PEPPOL-COMMON-R042",
    )


def test_cl008_an_endpoints_scheme_from_peppols_eas_list() -> None:
    good = peppol()
    keeps(good, "PEPPOL-EN16931-CL008")
    unknown = change(good, 'schemeID="0088"', 'schemeID="0219"')  # CEN's list, not Peppol's
    finding = breaks(unknown, "PEPPOL-EN16931-CL008", "fatal")
    assert "0219" in finding.message
    assert "BR-CL-25" not in {f.rule_id for f in findings(unknown)}


def test_the_checks_agree_with_the_rules_arithmetic() -> None:
    """stdnum's algorithms where they are the rule's; the rule's own where stdnum's differ
    at an edge (peppol_ids' docstring)."""
    assert peppol_ids.belgian_enterprise_number("0000000097")  # 97 - 0 = 97
    assert not peppol_ids.belgian_enterprise_number("0000000000")  # stdnum takes 00
    assert peppol_ids.australian_business_number("10000000000")  # stdnum wants 99
    assert not peppol_ids.norwegian_organization_number("000000000")  # the rule: above 0
    assert peppol_ids.italian_vat_number("00743110158")  # no IT prefix: not checked
    assert peppol_ids.normalize_space(" a \u00a0 b\n") == "a \u00a0 b"


def test_an_identifier_can_be_checked_where_it_is_entered() -> None:
    assert peppol_ids.identifier_problem("0088", "7300010000001") is None
    assert peppol_ids.identifier_problem("0088", " 7300010000002") == "PEPPOL-COMMON-R040"
    assert peppol_ids.identifier_problem("9907", "x") == "PEPPOL-COMMON-R046"
    assert peppol_ids.identifier_problem("9907", "x", endpoint=False) is None
    assert peppol_ids.identifier_problem("9930", "anything") is None  # no rule for 9930
