"""Every format we write, over the corpus (tests/einvoice/corpus.py): each document passes
its XSD and the official Schematron rules (and, for Peppol, our checks) with no fatal
finding."""

from __future__ import annotations

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
