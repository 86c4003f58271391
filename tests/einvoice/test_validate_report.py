"""The Schematron report of a document that passes is not read again: Saxon's report of a
valid 3-line invoice is ~13 KB of fired rules, parsed for nothing (0.2 ms a document,
bench/RESULTS.md, "Issue 19: e-invoices in"); a document that breaks a rule is still
reported by rule id."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from shared.einvoice import ubl, validate
from tests.einvoice.corpus import BUYER_FR, SELLER, invoice, line


def passing() -> bytes:
    return ubl.to_ubl(invoice("OK-1", [line(1, "Beratung", "2", "50.00", "S", "19")]), "ubl")


def breaking() -> bytes:
    case = invoice(
        "RC-1",
        [line(1, "Entwicklung", "1", "100.00", "AE", "0")],
        buyer=BUYER_FR,
        seller=replace(SELLER, vat_id=None, legal_registration_id=None, tax_registration_id=None),
        reasons={"AE": ("VATEX-EU-AE", "Reverse charge")},
    )
    return ubl.to_ubl(case, "ubl")


def test_a_passing_documents_report_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def unexpected(xslt: Path, report: str) -> list[validate.Finding]:
        raise AssertionError(f"the report of a passing document was parsed ({len(report)} chars)")

    monkeypatch.setattr(validate, "_svrl_findings", unexpected)
    assert validate.validate(passing(), "ubl") == []


def test_a_breaking_documents_report_still_names_the_rule() -> None:
    findings = validate._run_schematron(validate.CEN_UBL_XSLT, breaking())
    assert "BR-AE-02" in {f.rule_id for f in validate.fatal(findings)}
    assert all(f.source for f in findings)


def test_an_import_parses_a_utf8_document_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.reconciliation.ingest.einvoice import parse_einvoice  # noqa: PLC0415

    def unexpected(xml: bytes) -> object:
        raise AssertionError("validation parsed the document the reader had parsed")

    monkeypatch.setattr(validate, "_parse", unexpected)
    parsed = parse_einvoice(passing(), "ok.xml")
    assert parsed.errors == []
    assert [d["invoice_number"] for d in parsed.documents] == ["OK-1"]


def test_the_xsds_findings_are_the_same_from_the_readers_tree() -> None:
    from shared.einvoice import read  # noqa: PLC0415

    broken = passing().replace(b"<cbc:IssueDate>", b"<cbc:Unknown>x</cbc:Unknown><cbc:IssueDate>")
    _, _, xml, root = read.read_parsed(broken)
    assert root is not None
    alone = validate.validate(xml, "ubl")
    assert alone
    assert {f.rule_id for f in alone} == {"XSD"}
    assert validate.validate(xml, "ubl", root=root) == alone


def test_a_document_the_reader_reencoded_is_parsed_by_validation_itself() -> None:
    from shared.einvoice import read  # noqa: PLC0415

    latin1 = passing().replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'", 1)
    assert b"ISO-8859-1" in latin1[:60]
    _, _, xml, root = read.read_parsed(latin1)
    assert root is None
    assert b"UTF-8" in xml[:60].upper()
    assert validate.validate(xml, "ubl") == []
