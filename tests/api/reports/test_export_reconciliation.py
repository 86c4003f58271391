"""The match-results export (``GET /api/reports/export?report=match-results``): purchase
orders, receipts and vendor invoices made through the reconciliation JSON import routes,
matched by the engine, exported in every format through the whole route (PostgREST with
the caller's JWT, moto's S3), downloaded from the presigned URL and parsed back; the
filters, keyset pages across invoices and their lines, and a stranger's export."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from devstack.aws import Provisioned
from shared.exports import match_results, reading, writers
from tests.api.conftest import Api, World
from tests.api.reports.test_export import csv_rows, pdf_text, xlsx_sheet


@dataclass
class Recon:
    owner: str
    stranger: str
    org: str
    vendor_id: str
    matched: str  # invoice numbers
    exception: str
    ids: dict[str, str]  # invoice number -> vendor invoice id


def _post(api: Api, who: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post(path, as_=who, json_body=body)
    assert reply.status == 201, reply.json()
    found: dict[str, Any] = reply.json()
    assert not found["rejected"], found["rejected"]
    return found


@pytest.fixture(scope="module")
def recon(world: World, api: Api, aws: Provisioned) -> Recon:
    tag = uuid.uuid4().hex[:6]
    owner, stranger = f"mr_owner_{tag}", f"mr_stranger_{tag}"
    org = world.add_person(owner).personal_org
    world.add_person(stranger)
    vendor = "شركة الأمل للتجارة"  # a right-to-left name, shaped in the PDF
    _post(
        api,
        owner,
        "/api/reconciliation/purchase-orders",
        {
            "purchase_orders": [
                {
                    "po_number": "PO-77",
                    "vendor_name": vendor,
                    "currency": "USD",
                    "order_date": "2026-10-01",
                    "lines": [
                        {
                            "item_code": "W",
                            "description": "Widget",
                            "quantity": 10,
                            "unit_price": "10.00",
                        },
                        {
                            "item_code": "G",
                            "description": "Gadget",
                            "quantity": 4,
                            "unit_price": "25.00",
                        },
                    ],
                }
            ]
        },
    )
    _post(
        api,
        owner,
        "/api/reconciliation/receipts",
        {
            "receipts": [
                {
                    "receipt_number": "GR-77",
                    "po_number": "PO-77",
                    "lines": [
                        {"item_code": "W", "quantity_received": 10},
                        {"item_code": "G", "quantity_received": 4},
                    ],
                }
            ]
        },
    )

    def invoice(number: str, day: str, lines: list[tuple[str, str, str]]) -> dict[str, Any]:
        return {
            "vendor_name": vendor,
            "invoice_number": number,
            "invoice_date": day,
            "po_number": "PO-77",
            "currency": "USD",
            "lines": [
                {"item_code": code, "description": code, "quantity": q, "unit_price": p}
                for code, q, p in lines
            ],
        }

    imported = _post(
        api,
        owner,
        "/api/reconciliation/invoices",
        {
            "invoices": [
                # W 5 x 10.00 and G 2 x 25.00: as ordered and received.
                invoice("VI-OK", "2026-11-10", [("W", "5", "10.00"), ("G", "2", "25.00")]),
                # W 5 x 12.50: the price is 2.50 over the order's.
                invoice("VI-BAD", "2026-11-20", [("W", "5", "12.50")]),
            ]
        },
    )
    ids = {a["label"].split()[1]: a["id"] for a in imported["accepted"]}
    matched = api.post(
        "/api/reconciliation/match", as_=owner, json_body={"invoice_ids": list(ids.values())}
    )
    assert matched.status == 200, matched.json()
    assert (matched.json()["matched"], matched.json()["exception"]) == (1, 1), matched.json()
    vendor_id = world.sql(
        "select vendor_id::text from public.vendor_invoices where id = %s", ids["VI-OK"]
    )[0][0]
    return Recon(owner, stranger, org, vendor_id, "VI-OK", "VI-BAD", ids)


def exported(api: Api, who: str, **query: Any) -> tuple[dict[str, Any], bytes]:
    reply = api.get("/api/reports/export", as_=who, query={"report": "match-results", **query})
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    download = httpx.get(body["url"], timeout=30)
    assert download.status_code == 200, download.text[:300]
    assert len(download.content) == body["bytes"]
    return body, download.content


def test_csv_has_a_row_per_line_with_the_evidence(any_api: Api, recon: Recon) -> None:
    body, content = exported(any_api, recon.owner, format="csv")
    rows = csv_rows(content)
    assert body["rows"] == len(rows) == 3
    # Newest invoice first, its lines in order.
    assert [(r["invoice_number"], r["line_number"]) for r in rows] == [
        ("VI-BAD", "1"),
        ("VI-OK", "1"),
        ("VI-OK", "2"),
    ]
    bad, ok_w, ok_g = rows
    assert bad["invoice_outcome"] == "exception"
    assert bad["line_outcome"] == "exception"
    assert bad["rule"] == "price"
    assert Decimal(bad["po_unit_price"]) == Decimal("10.00")
    assert Decimal(bad["billed_unit_price"]) == Decimal("12.50")
    assert Decimal(bad["price_variance"]) == Decimal("2.50")
    assert Decimal(bad["billed_amount"]) == Decimal("62.50")
    # The quantity is within what was received and not yet billed (VI-OK billed 5 of 10).
    assert Decimal(bad["previously_billed_quantity"]) == 5
    assert Decimal(bad["allowed_quantity"]) == 5
    assert int(bad["open_exceptions"]) >= 1
    for ok in (ok_w, ok_g):
        assert ok["invoice_outcome"] == ok["line_outcome"] == "matched"
        assert ok["rule"] == "exact"
        assert Decimal(ok["expected_amount"]) == Decimal(ok["billed_amount"]) == Decimal("50.00")
        assert Decimal(ok["amount_variance"]) == 0
        assert ok["matched_by"] == "item_code"
        assert ok["vendor_invoice_id"] == recon.ids["VI-OK"]
        assert ok["vendor_id"] == recon.vendor_id
    assert Decimal(ok_w["ordered_quantity"]) == Decimal(ok_w["received_quantity"]) == 10
    assert Decimal(ok_w["billed_quantity"]) == 5
    assert ok_w["invoice_date"] == "2026-11-10"
    assert ok_w["vendor_name"] == "شركة الأمل للتجارة"
    assert datetime.fromisoformat(ok_w["matched_at"]).tzinfo is not None


def test_filters(any_api: Api, recon: Recon) -> None:
    _, content = exported(any_api, recon.owner, format="csv", outcome="exception")
    assert [r["invoice_number"] for r in csv_rows(content)] == ["VI-BAD"]
    _, content = exported(
        any_api, recon.owner, format="csv", outcome="matched,matched_with_tolerance"
    )
    assert {r["invoice_number"] for r in csv_rows(content)} == {"VI-OK"}
    body, content = exported(
        any_api, recon.owner, format="csv", **{"from": "2026-11-15", "to": "2026-11-30"}
    )
    assert [r["invoice_number"] for r in csv_rows(content)] == ["VI-BAD"]
    assert (body["from"], body["to"]) == ("2026-11-15", "2026-11-30")
    assert body["file_name"] == "match-results-2026-11-15-2026-11-30.csv"
    _, content = exported(any_api, recon.owner, format="csv", vendor_id=recon.vendor_id)
    assert len(csv_rows(content)) == 3
    _, content = exported(any_api, recon.owner, format="csv", vendor_id=str(uuid.uuid4()))
    assert csv_rows(content) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"outcome": "pending"}, "outcome"),
        ({"vendor_id": "not-a-uuid"}, "vendor_id"),
        ({"status": "sent"}, "status"),  # an option of another report
        ({"from": "2026-12-01", "to": "2026-11-01"}, "from"),
    ],
)
def test_bad_filters_are_422(any_api: Api, recon: Recon, query: dict[str, str], field: str) -> None:
    reply = any_api.get(
        "/api/reports/export",
        as_=recon.owner,
        query={"report": "match-results", "format": "csv", **query},
    )
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert field in str(reply.error["details"])


def test_xlsx_cells_are_typed(any_api: Api, recon: Recon) -> None:
    body, content = exported(any_api, recon.owner, format="xlsx")
    sheet = xlsx_sheet(content)
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header == [c.key for c in match_results.MATCH_COLUMNS]
    lines = [dict(zip(header, line, strict=True)) for line in sheet.iter_rows(min_row=2)]
    assert len(lines) == body["rows"] == 3
    bad = lines[0]
    assert bad["invoice_number"].value == "VI-BAD"
    assert bad["invoice_date"].is_date
    assert bad["invoice_date"].value.date() == date(2026, 11, 20)
    assert bad["billed_amount"].data_type == "n"
    assert bad["billed_amount"].value == 62.5
    assert bad["billed_amount"].number_format == writers.MONEY_FORMATS[2]
    assert bad["price_variance"].value == 2.5
    assert bad["price_variance"].number_format == writers.DECIMAL_FORMAT
    assert bad["line_number"].value == 1
    assert bad["billed_quantity"].value == 5
    assert bad["matched_at"].is_date


def test_pdf_has_the_rows_and_the_shaped_vendor(any_api: Api, recon: Recon) -> None:
    body, content = exported(any_api, recon.owner, format="pdf")
    assert content.startswith(b"%PDF-")
    assert body["rows"] == 3
    text = pdf_text(content)
    assert "Reconciliation match results" in text
    assert "VI-BAD" in text
    assert "VI-OK" in text
    assert " price " in text  # the rule
    assert "62.50" in text
    assert "page 1 of 1" in text
    # Drawn in its joining forms, copied as typed (the fonts' ToUnicode maps).
    assert "شركة الأمل" in text


def test_a_stranger_exports_none_of_them(any_api: Api, recon: Recon) -> None:
    for fmt in ("csv", "xlsx", "pdf"):
        body, content = exported(any_api, recon.stranger, format=fmt)
        assert body["rows"] == 0, fmt
        assert not body["key"].startswith(recon.org)
        if fmt == "csv":
            assert csv_rows(content) == []
        elif fmt == "pdf":
            text = pdf_text(content)
            assert "VI-OK" not in text
            assert "No rows in this range." in text


def test_a_stranger_naming_the_organization_is_refused(any_api: Api, recon: Recon) -> None:
    reply = any_api.get(
        "/api/reports/export",
        as_=recon.stranger,
        org=recon.org,
        query={"report": "match-results", "format": "csv"},
    )
    assert reply.status in (403, 404), reply.json()


def test_pages_are_read_by_keyset_across_invoices_and_lines(
    api: Api, recon: Recon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 1 and 2 rows: every row exactly once, in order, whichever row a page ends
    on (the middle of an invoice's lines or its last one)."""
    _, whole = exported(api, recon.owner, format="csv")
    expected = [(r["vendor_invoice_id"], r["line_number"]) for r in csv_rows(whole)]
    for size in (1, 2):
        monkeypatch.setattr(reading, "PAGE_ROWS", size)
        body, content = exported(api, recon.owner, format="csv")
        got = [(r["vendor_invoice_id"], r["line_number"]) for r in csv_rows(content)]
        assert got == expected, size
        assert body["rows"] == 3


def test_an_invoice_without_line_evidence_is_one_row_and_pages_go_on_after_it(
    api: Api, world: World, aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invoice of no lines (made in SQL: the imports always give lines) is matched
    without line evidence: one row, its line columns empty; a page ending on it goes on
    with the next invoice (the keyset without a line number)."""
    who = f"mr_lineless_{uuid.uuid4().hex[:6]}"
    org = world.add_person(who).personal_org
    imported = _post(
        api,
        who,
        "/api/reconciliation/invoices",
        {
            "invoices": [
                {
                    "vendor_name": "Initech",
                    "invoice_number": f"IN-{day}",
                    "invoice_date": f"2026-11-{day:02d}",
                    "currency": "USD",
                    "lines": [{"description": "Stapler", "quantity": "1", "unit_price": "9"}],
                }
                for day in (1, 3)
            ]
        },
    )
    ids = [a["id"] for a in imported["accepted"]]
    ids.append(
        world.sql(
            "insert into public.vendor_invoices (organization_id, vendor_name, invoice_number,"
            " invoice_date, currency, subtotal, total_amount)"
            " values (%s, 'Initech', 'IN-EMPTY', '2026-11-02', 'USD', 0, 0) returning id::text",
            org,
        )[0][0]
    )
    matched = api.post("/api/reconciliation/match", as_=who, json_body={"invoice_ids": ids})
    assert matched.status == 200, matched.json()
    _, whole = exported(api, who, format="csv")
    rows = csv_rows(whole)
    assert [(r["invoice_number"], r["line_number"]) for r in rows] == [
        ("IN-3", "1"),
        ("IN-EMPTY", ""),
        ("IN-1", "1"),
    ]
    empty = rows[1]
    assert empty["invoice_outcome"] in match_results.MATCH_OUTCOMES
    assert empty["rule"] == empty["line_outcome"] == empty["billed_amount"] == ""
    monkeypatch.setattr(reading, "PAGE_ROWS", 1)
    body, paged = exported(api, who, format="csv")
    assert [(r["invoice_number"], r["line_number"]) for r in csv_rows(paged)] == [
        (r["invoice_number"], r["line_number"]) for r in rows
    ]
    assert body["rows"] == 3
