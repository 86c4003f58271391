"""shared.reconciliation.ingest without a database: numbers, dates, headers, separators,
encodings, the grouping of rows into documents, and the errors a person reads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from shared.reconciliation.ingest import (
    FieldError,
    header_key,
    parse_csv,
    parse_date,
    parse_number,
    validate_json,
)

DATA = Path(__file__).resolve().parents[2] / "data"

INVOICE_HEADER = "vendor,invoice_number,invoice_date,currency,description,quantity,unit_price"


@pytest.mark.parametrize(
    ("text", "mark", "expected"),
    [
        ("1234.56", ".", "1234.56"),
        ("1,234.56", ".", "1234.56"),
        ("1.234,56", ",", "1234.56"),
        ("1.234,56", ".", "1234.56"),  # both marks: the last one is the decimal mark
        ("1 234,56", ",", "1234.56"),
        ("1\u00a0234,56", ",", "1234.56"),  # a no-break space, as spreadsheets write it
        ("1'234.56", ".", "1234.56"),
        ("12,345,678", ".", "12345678"),
        ("1.234.567,8", ",", "1234567.8"),
        ("1234,5", ".", "1234.5"),  # a lone mark not followed by three digits is decimal
        ("0,12", ".", "0.12"),
        ("1,234", ".", "1234"),  # three digits: the file's decimal mark decides
        ("1,234", ",", "1.234"),
        ("1.234", ".", "1.234"),
        ("1.234", ",", "1234"),
        ("$2.50", ".", "2.50"),
        ("€ 1.000,00", ",", "1000.00"),
        ("+7", ".", "7"),
        ("0", ".", "0"),
    ],
)
def test_numbers_as_people_write_them(text: str, mark: str, expected: str) -> None:
    value = parse_number(text, mark)
    assert isinstance(value, Decimal)
    assert value == Decimal(expected)
    assert str(value) == expected  # the digits given, never through a float


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-5", "negative"),
        ("(5.00)", "negative"),
        ("abc", "not a number"),
        ("1,2,3", "misplaced thousands separator"),
        ("12 34", "digit groups"),
        ("1.2.3,4", "misplaced thousands separator"),
        ("", "not a number"),
        ("1e5", "not a number"),
    ],
)
def test_numbers_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(FieldError, match=reason):
        parse_number(text, ".")


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2026-12-31", "dmy", date(2026, 12, 31)),
        ("2026/12/31", "mdy", date(2026, 12, 31)),
        ("2026-12-31T00:00:00Z", "dmy", date(2026, 12, 31)),
        ("31/12/2026", "dmy", date(2026, 12, 31)),
        ("12/31/2026", "mdy", date(2026, 12, 31)),
        ("01/02/2026", "dmy", date(2026, 2, 1)),
        ("01/02/2026", "mdy", date(2026, 1, 2)),
        ("1-2-26", "mdy", date(2026, 1, 2)),
        ("31.12.2026", "mdy", date(2026, 12, 31)),  # dotted dates are always day first
        ("Dec 31, 2026", "dmy", date(2026, 12, 31)),
        ("December 31 2026", "dmy", date(2026, 12, 31)),
        ("31 Dec 2026", "mdy", date(2026, 12, 31)),
        ("31-Dec-2026", "mdy", date(2026, 12, 31)),
        ("1st March 2026", "mdy", date(2026, 3, 1)),
        ("12/31/2026 14:30", "mdy", date(2026, 12, 31)),
    ],
)
def test_dates_in_the_common_formats(text: str, order: str, expected: date) -> None:
    assert parse_date(text, order) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "order", "reason"),
    [
        ("31/12/2026", "mdy", "not a valid date read as month/day/year"),
        ("2026-02-30", "dmy", "not a valid date"),
        ("30.02.2026", "dmy", "not a valid date"),
        ("Foo 3, 2026", "dmy", "not a date in a known format"),
        ("yesterday", "dmy", "not a date in a known format"),
        ("1850-01-01", "dmy", "out of range"),
    ],
)
def test_dates_refused_with_a_reason(text: str, order: str, reason: str) -> None:
    with pytest.raises(FieldError, match=reason):
        parse_date(text, order)  # type: ignore[arg-type]


def test_header_names_fold_case_spaces_and_punctuation() -> None:
    assert header_key("Invoice No.") == "invoiceno"
    assert header_key("\ufeffINVOICE_NUMBER ") == "invoicenumber"
    assert header_key("Inv #") == "invnumber"
    assert header_key("Qté") == "qte"


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_separators_are_sniffed_and_quotes_respected() -> None:
    for sep in (",", ";", "\t"):
        data = _csv(
            sep.join(INVOICE_HEADER.split(",")),
            sep.join(['"Acme, Inc."', "A-1", "2026-01-05", "USD", '"Bolts; M6, steel"', "2", "3"]),
        )
        parsed = parse_csv(data, "vendor_invoices")
        assert parsed.errors == [], (sep, parsed.errors)
        (document,) = parsed.documents
        assert document["vendor_name"] == "Acme, Inc."
        assert document["lines"][0]["description"] == "Bolts; M6, steel"


def test_encodings_bom_utf16_and_windows_1252() -> None:
    text = INVOICE_HEADER + "\nMüller GmbH,M-1,2026-01-05,EUR,Schraube,1,2\n"
    for data in (
        b"\xef\xbb\xbf" + text.encode(),
        text.encode("utf-16"),
        text.encode("cp1252"),
    ):
        parsed = parse_csv(data, "vendor_invoices")
        assert parsed.errors == []
        assert parsed.documents[0]["vendor_name"] == "Müller GmbH"


def test_header_synonyms_required_columns_and_duplicates() -> None:
    parsed = parse_csv(
        _csv("Supplier,Inv No,Date,Curr,Item,Qty,Price", "Acme,1,2026-01-05,USD,W-1,2,3"),
        "vendor_invoices",
    )
    assert parsed.errors == []
    line = parsed.documents[0]["lines"][0]
    assert (line["item_code"], line["description"]) == ("W-1", "W-1")  # description from code
    missing = parse_csv(_csv("vendor,invoice_number,currency", "Acme,1,USD"), "vendor_invoices")
    assert [e.column for e in missing.errors] == [
        "invoice_date",
        "quantity",
        "unit_price",
    ]
    assert all(e.row == 0 for e in missing.errors)
    assert missing.rows_total == 1
    assert missing.documents == []
    twice = parse_csv(
        _csv(INVOICE_HEADER + ",Qty", "Acme,1,2026-01-05,USD,x,1,1,1"), "vendor_invoices"
    )
    assert "both give quantity" in twice.errors[0].message


def test_blank_lines_count_for_row_numbers_but_not_as_rows() -> None:
    parsed = parse_csv(
        _csv(
            "",
            INVOICE_HEADER,
            "Acme,1,2026-01-05,USD,x,1,1",
            "",
            " , , ",
            "Acme,2,2026-01-05,USD,x,abc,1",
        ),
        "vendor_invoices",
    )
    assert parsed.rows_total == 2
    assert [(e.row, e.column, e.value) for e in parsed.errors] == [(4, "quantity", "abc")]


def test_the_file_decides_the_date_order_and_the_decimal_mark() -> None:
    us = parse_csv(
        _csv(INVOICE_HEADER, "A,1,02/03/2026,USD,x,1,1.50", "A,2,12/31/2026,USD,x,1,2.25"),
        "vendor_invoices",
    )
    assert (us.date_order, us.decimal_mark) == ("mdy", ".")
    assert us.documents[0]["invoice_date"] == "2026-02-03"
    eu = parse_csv(
        _csv(INVOICE_HEADER.replace(",", ";"), "A;1;02/03/2026;EUR;x;1;1,50"),
        "vendor_invoices",
    )
    assert (eu.date_order, eu.decimal_mark) == ("dmy", ",")  # no evidence: the decimal mark
    assert eu.documents[0]["invoice_date"] == "2026-03-02"
    mixed = parse_csv(
        _csv(
            INVOICE_HEADER,
            "A,1,13/01/2026,USD,x,1,1",
            "A,2,14/01/2026,USD,x,1,1",
            "A,3,01/15/2026,USD,x,1,1",
        ),
        "vendor_invoices",
    )
    assert mixed.date_order == "dmy"  # the majority
    assert [e.row for e in mixed.errors] == [3]
    assert "day/month/year" in mixed.errors[0].message
    assert "as row 1 shows" in mixed.errors[0].message
    asked = parse_csv(
        _csv(INVOICE_HEADER, "A,1,02/03/2026,USD,x,1,1"), "vendor_invoices", date_order="dmy"
    )
    assert asked.documents[0]["invoice_date"] == "2026-03-02"


def test_rows_of_one_document_group_by_key_and_must_agree() -> None:
    parsed = parse_csv(
        _csv(
            INVOICE_HEADER + ",tax_amount",
            "Acme,INV-1,2026-01-05,USD,a,1,1,5",
            "Other,X-1,2026-01-05,USD,z,1,1,",
            "ACME,inv 1,,,b,2,1,",  # the same invoice: vendor case-folded, number normalized
            "Acme,INV-1,2026-01-05,USD,c,3,1,6",
        ),
        "vendor_invoices",
        policy="accept_valid_rows",
    )
    assert [d["invoice_number"] for d in parsed.documents] == ["X-1"]
    errors = {e.row: e for e in parsed.errors}
    assert "tax_amount is 6 here but 5 on row 1" in errors[4].message
    assert "not imported with the rest of invoice INV-1 of Acme" in errors[1].message
    assert "not imported with the rest" in errors[3].message
    ok = parse_csv(
        _csv(INVOICE_HEADER, "Acme,INV-1,2026-01-05,USD,a,1,1", "ACME,inv 1,,,b,2,1"),
        "vendor_invoices",
    )
    (document,) = ok.documents
    assert document["rows"] == [1, 2]
    assert [line["line_number"] for line in document["lines"]] == [1, 2]


def test_amount_scale_follows_the_currency() -> None:
    parsed = parse_csv(
        _csv(
            INVOICE_HEADER + ",amount",
            "A,1,2026-01-05,JPY,x,1,1000,1000",
            "A,2,2026-01-05,JPY,x,1,1000.5,1000.5",
            "A,3,2026-01-05,KWD,x,1,1.125,1.125",
        ),
        "vendor_invoices",
        policy="accept_valid_rows",
    )
    assert [d["invoice_number"] for d in parsed.documents] == ["1", "3"]
    assert parsed.errors[0].row == 2
    assert "more decimals than JPY allows (0)" in parsed.errors[0].message


def test_receipts_name_the_po_line() -> None:
    parsed = parse_csv(_csv("receipt,po,qty received", "GR-1,PO-1,5"), "goods_receipts")
    assert parsed.errors[0].row == 0
    assert "po_line or an item_code" in parsed.errors[0].message
    rows = parse_csv(
        _csv("GRN,PO Number,PO Line,Item Code,Qty", "GR-1,PO-1,1,,5", "GR-1,PO-1,,,2"),
        "goods_receipts",
    )
    assert [(e.row, e.column) for e in rows.errors] == [(2, "PO Line")]


def test_sample_files_read_cleanly() -> None:
    for name, kind in (
        ("recon_purchase_orders.tsv", "purchase_orders"),
        ("recon_receipts.csv", "goods_receipts"),
        ("recon_invoices_us.csv", "vendor_invoices"),
        ("recon_invoices_eu.csv", "vendor_invoices"),
    ):
        parsed = parse_csv((DATA / name).read_bytes(), kind)  # type: ignore[arg-type]
        assert parsed.errors == [], name
        assert sum(len(d["rows"]) for d in parsed.documents) == parsed.rows_total


def test_json_documents_are_strict() -> None:
    parsed = validate_json(
        "vendor_invoices",
        [
            {
                "vendor_name": "A",
                "invoice_number": 7,
                "invoice_date": "2026-01-05",
                "currency": "usd",
                "lines": [{"description": "x", "quantity": 0.1, "unit_price": "2.5"}],
            },
            {
                "vendor_name": "A",
                "invoice_number": "8",
                "invoice_date": "05/01/2026",
                "currency": "USD",
                "lines": [{"description": "x", "quantity": True, "unit_price": "1,5"}],
            },
            {"vendor_name": "A", "lines": []},
            "not an object",
        ],
    )
    (document,) = parsed.documents
    assert document["invoice_number"] == "7"
    assert document["currency"] == "USD"
    assert document["lines"][0]["quantity"] == "0.1"  # a float's shortest text, as Decimal
    by_row: dict[int, list[str]] = {}
    for error in parsed.errors:
        by_row.setdefault(error.row, []).append(error.column or "")
    assert by_row[1] == ["invoice_date", "lines[0].quantity", "lines[0].unit_price"]
    assert by_row[2] == ["lines"]
    assert by_row[3] == [""]
    assert parsed.rows_total == 4
