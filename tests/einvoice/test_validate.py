"""The validator itself: its rule files are the registry's, it finds what it should (the
official rules and ours, by rule id), and it compiles each rule file once per process."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from shared.einvoice import cii, model, ubl, validate
from tests.einvoice.corpus import BUYER_FR, SELLER, corpus, invoice, line

RULE_FILES = {
    "EN16931-CII-validation.xsl": (
        "0911e927f13f9ae2cdc7f973643f27bf0ad3c5da02483c04a5b8a47eb4822199"
    ),
    "XRechnung-CII-validation.xsl": (
        "ec54f662803a87f527ec606d1320bc404f1657a848af6a76f37f32905e4aac40"
    ),
    "XRechnung-UBL-validation.xsl": (
        "e32d831668facbbd5136cc0119bf1dd6f92ac20738aa3b3f021586f5a305c738"
    ),
}


@pytest.mark.parametrize(("name", "digest"), sorted(RULE_FILES.items()))
def test_the_committed_rule_files_are_the_registry_packages_files(name: str, digest: str) -> None:
    data = (validate.RULES_DIR / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest
    assert name in (validate.RULES_DIR / "README.md").read_text()


def test_the_rule_files_name_their_versions() -> None:
    xrechnung = (validate.RULES_DIR / "XRechnung-UBL-validation.xsl").read_text()
    assert "Schematron Version 2.6.0 - XRechnung 3.0.2" in xrechnung
    cen_ubl = validate.CEN_UBL_XSLT.read_text(encoding="utf-8")
    assert "Schematron version 1.3.16" in cen_ubl
    facturx = validate.FACTURX_XSLT.read_text(encoding="utf-8")
    assert "1.09.2" in facturx[:5000]


def reverse_charge_without_seller_vat_id() -> model.Invoice:
    return invoice(
        "RC-1",
        [line(1, "Entwicklung", "1", "100.00", "AE", "0")],
        buyer=BUYER_FR,
        seller=replace(SELLER, vat_id=None, legal_registration_id=None, tax_registration_id=None),
        reasons={"AE": ("VATEX-EU-AE", "Reverse charge")},
    )


@pytest.mark.parametrize("profile", ["ubl", "xrechnung-ubl", "peppol"])
def test_a_reverse_charge_invoice_without_the_sellers_vat_id_breaks_br_ae_02(profile: str) -> None:
    findings = validate.validate(
        ubl.to_ubl(reverse_charge_without_seller_vat_id(), profile), profile
    )
    rules = {finding.rule_id for finding in validate.fatal(findings)}
    assert "BR-AE-02" in rules
    assert not validate.is_valid(findings)
    [ae] = [finding for finding in findings if finding.rule_id == "BR-AE-02"]
    assert ae.source == "cen"
    assert ae.location.startswith("/")


def test_wrong_totals_break_br_co_16() -> None:
    case = corpus()["standard-two-rates"]
    bad = replace(case, totals=replace(case.totals, payable=case.totals.payable + 1))
    rules = {finding.rule_id for finding in validate.validate(ubl.to_ubl(bad), "ubl")}
    assert "BR-CO-16" in rules


def test_xrechnung_without_buyer_reference_breaks_br_de_15() -> None:
    case = replace(corpus()["standard-two-rates"], buyer_reference=None)
    findings = validate.validate(ubl.to_ubl(case, "xrechnung-ubl"), "xrechnung-ubl")
    [finding] = [f for f in findings if f.rule_id == "BR-DE-15"]
    assert finding.flag == "fatal"
    assert finding.source == "xrechnung"
    # The EN 16931 core does not require it.
    assert validate.is_valid(validate.validate(ubl.to_ubl(case, "ubl"), "ubl"))


def test_peppol_without_the_buyers_electronic_address_breaks_our_r010() -> None:
    case = corpus()["standard-two-rates"]
    case = replace(case, buyer=replace(case.buyer, electronic_address=None))
    findings = validate.validate(ubl.to_ubl(case, "peppol"), "peppol")
    [finding] = [f for f in findings if f.rule_id == "PEPPOL-EN16931-R010"]
    assert (finding.flag, finding.source) == ("fatal", "ours")
    # Peppol's own rule, not EN 16931's: the core profile accepts the same document.
    assert validate.is_valid(validate.validate(ubl.to_ubl(case, "ubl"), "ubl"))


def test_peppol_checks_the_specification_identifier_and_the_line_amounts() -> None:
    case = corpus()["standard-two-rates"]
    wrong_line = replace(case.lines[0], net_amount=case.lines[0].net_amount + 1)
    case = replace(case, lines=(wrong_line, *case.lines[1:]))
    document = ubl.to_ubl(case, "ubl")  # the core's BT-24, not Peppol's
    rules = {finding.rule_id for finding in validate.validate(document, "peppol")}
    assert {"PEPPOL-EN16931-R004", "PEPPOL-EN16931-R001", "PEPPOL-EN16931-R120"} <= rules


def test_a_document_breaking_the_xsd_is_refused_before_the_schematron() -> None:
    document = ubl.to_ubl(corpus()["zero-rated"]).replace(
        b"<cbc:DocumentCurrencyCode>", b"<cbc:Bogus>x</cbc:Bogus><cbc:DocumentCurrencyCode>"
    )
    findings = validate.validate(document, "ubl")
    assert findings
    assert {finding.rule_id for finding in findings} == {"XSD"}
    assert "Bogus" in findings[0].message


def test_not_xml_is_one_fatal_finding() -> None:
    [finding] = validate.validate(b"<Invoice", "ubl")
    assert (finding.rule_id, finding.flag) == ("XML", "fatal")


def test_a_cii_document_is_not_a_ubl_one() -> None:
    [finding] = validate.validate(b"<a/>", "xrechnung-ubl")
    assert finding.rule_id == "XSD"


def test_unknown_profiles_are_refused() -> None:
    with pytest.raises(validate.UnknownProfile):
        validate.validate(b"<a/>", "zugferd-1")


def test_detect_profile_reads_the_specification_identifier() -> None:
    case = corpus()["zero-rated"]
    assert validate.detect_profile(ubl.to_ubl(case, "xrechnung-ubl")) == "xrechnung-ubl"
    assert validate.detect_profile(ubl.to_ubl(case, "peppol")) == "peppol"
    assert validate.detect_profile(ubl.to_ubl(case, "ubl")) == "en16931-ubl"


def test_each_rule_file_is_compiled_once_per_process() -> None:
    validate.warm("xrechnung-ubl")
    compiled = dict(validate._executables)
    document = ubl.to_ubl(corpus()["zero-rated"], "xrechnung-ubl")
    validate.validate(document, "xrechnung-ubl")
    validate.validate(document, "xrechnung-ubl")
    for path, executable in compiled.items():
        assert validate._executables[path] is executable


@pytest.mark.parametrize("profile", ["cii", "xrechnung-cii", "facturx"])
def test_the_cii_rules_find_br_ae_02_too(profile: str) -> None:
    document = cii.to_cii(reverse_charge_without_seller_vat_id(), profile)
    findings = validate.validate(document, profile)
    assert "BR-AE-02" in {finding.rule_id for finding in validate.fatal(findings)}


def test_xrechnung_cii_without_buyer_reference_breaks_br_de_15() -> None:
    case = replace(corpus()["standard-two-rates"], buyer_reference=None)
    findings = validate.validate(cii.to_cii(case, "xrechnung-cii"), "xrechnung-cii")
    assert "BR-DE-15" in {finding.rule_id for finding in validate.fatal(findings)}
    assert validate.is_valid(validate.validate(cii.to_cii(case, "cii"), "cii"))


def test_a_cii_document_breaking_the_xsd_is_refused() -> None:
    document = cii.to_cii(corpus()["zero-rated"], "facturx").replace(
        b"<ram:InvoiceCurrencyCode>", b"<ram:Bogus>x</ram:Bogus><ram:InvoiceCurrencyCode>"
    )
    findings = validate.validate(document, "facturx")
    assert {finding.rule_id for finding in findings} == {"XSD"}


def test_detect_profile_reads_cii_guidelines() -> None:
    case = corpus()["zero-rated"]
    assert validate.detect_profile(cii.to_cii(case, "xrechnung-cii")) == "xrechnung-cii"
    assert validate.detect_profile(cii.to_cii(case, "facturx")) == "facturx"


def test_the_command_validates_a_file_and_a_facturx_pdf(tmp_path: Path) -> None:
    case = corpus()["reverse-charge"]
    good = tmp_path / "good.xml"
    good.write_bytes(cii.to_cii(case, "xrechnung-cii"))
    assert validate.main([str(good)]) == 0
    bad = tmp_path / "bad.xml"
    bad.write_bytes(ubl.to_ubl(reverse_charge_without_seller_vat_id(), "peppol"))
    assert validate.main([str(bad), "peppol"]) == 1
    assert validate.main([]) == 2
