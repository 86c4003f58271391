"""Every format we write, over the corpus (tests/einvoice/corpus.py): each document passes
its XSD and the official Schematron rules (and, for Peppol, our checks) with no fatal
finding."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.einvoice import cii, model, profiles, ubl, validate
from tests.einvoice.corpus import corpus

CASES = corpus()


XML_FORMATS = ["ubl", "xrechnung-ubl", "peppol", "cii", "xrechnung-cii", "facturx"]


def write(case: model.Invoice, profile: str) -> bytes:
    if profiles.profile(profile).syntax == "ubl":
        return ubl.to_ubl(case, profile)
    return cii.to_cii(case, profile)


@pytest.mark.parametrize("profile", XML_FORMATS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_corpus_validates(name: str, profile: str) -> None:
    findings = validate.validate(write(CASES[name], profile), profile)
    assert validate.fatal(findings) == []


def test_the_corpus_covers_every_category_and_credit_notes() -> None:
    categories = {line.vat_category for case in CASES.values() for line in case.lines}
    assert categories == set(model.VAT_CATEGORIES)
    assert any(case.is_credit_note and case.preceding_invoice_reference for case in CASES.values())
    assert {case.currency for case in CASES.values()} >= {"EUR", "USD", "JPY"}
    assert any(len({line.vat_rate for line in case.lines}) > 1 for case in CASES.values())


def with_email_only(case: model.Invoice) -> model.Invoice:
    """``case`` with parties that name no electronic address, only an email."""
    seller = replace(case.seller, electronic_address=None, electronic_address_scheme=None)
    buyer = replace(
        case.buyer,
        electronic_address=None,
        electronic_address_scheme=None,
        email=case.buyer.email or "ap@buyer.example",
    )
    return replace(case, seller=seller, buyer=buyer)


EMAIL_FORMATS = [name for name in XML_FORMATS if name != "peppol"]


@pytest.mark.parametrize("profile", EMAIL_FORMATS)
@pytest.mark.parametrize("name", ["standard-two-rates", "credit-note"])
def test_without_electronic_addresses_the_email_stands_in_where_the_format_allows(
    name: str, profile: str
) -> None:
    """EN 16931, XRechnung (whose KoSIT rules require BT-34 and BT-49: R010/R020) and
    Factur-X take the email under scheme EM of the CEN EAS list."""
    case = with_email_only(CASES[name])
    document = write(case, profile)
    assert validate.fatal(validate.validate(document, profile)) == []
    for email in (case.seller.email, case.buyer.email):
        assert email
        assert f'schemeID="EM">{email}<'.encode() in document


@pytest.mark.parametrize("name", ["standard-two-rates", "credit-note"])
def test_peppol_writes_no_email_endpoint(name: str) -> None:
    """Peppol's EAS list has no EM (CL008): without a participant id there is no
    endpoint, and R010 (buyer) and R020 (seller) are fatal."""
    document = write(with_email_only(CASES[name]), "peppol")
    assert b"EndpointID" not in document
    rules = {f.rule_id for f in validate.fatal(validate.validate(document, "peppol"))}
    assert rules == {"PEPPOL-EN16931-R010", "PEPPOL-EN16931-R020"}
