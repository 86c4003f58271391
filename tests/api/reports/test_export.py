"""GET /api/reports/export: every report in every format, downloaded from the presigned
URL (moto's S3 server) and parsed back: csv, openpyxl for typed XLSX cells, pypdf for the
PDF's text (docs/api.md, "Report export").

The organization (exp_owner's own; exp_viewer is a viewer in it) bills in USD and JPY in
the first quarter of 2025, with a client whose name is a formula, one with accents and
one in Japanese; exp_stranger has an organization of their own with one invoice.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import openpyxl  # type: ignore[import-untyped]
import pypdf
import pytest

from devstack.aws import CREDENTIALS, REGION, Provisioned
from shared import db
from shared.errors import ApiError
from shared.exports import lists, reading, writers
from shared.exports.storage import S3Sink
from shared.settings import get_settings
from tests.api.conftest import Api, Response, World
from tests.api.dashboard.test_dashboard import add_invoice, add_payment

Q1 = {"from": "2025-01-01", "to": "2025-03-31"}
FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'
REPORTS = (
    "overview",
    "revenue",
    "revenue-by-client",
    "payment-status",
    "client-performance",
    "invoices",
    "payments",
)
FORMATS = ("csv", "xlsx", "pdf")


@dataclass
class Fixture:
    org: str
    stranger_org: str
    invoices: dict[str, str]  # number -> id


@pytest.fixture(scope="module")
def exp(world: World, aws: Provisioned) -> Fixture:
    owner = world.add_person("exp_owner")
    org = owner.personal_org
    world.add_person("exp_viewer", org, "viewer")
    stranger = world.add_person("exp_stranger")

    def client(o: str, name: str, currency: str) -> str:
        found: str = world.sql(
            "insert into public.clients (organization_id, company_name, currency)"
            " values (%s, %s, %s) returning id::text",
            o,
            name,
            currency,
        )[0][0]
        return found

    acme = client(org, "Acmé Ünïcode GmbH", "USD")
    evil = client(org, FORMULA_NAME, "USD")
    yen = client(org, "東京商事", "JPY")
    d = date.fromisoformat
    ids = {
        "A-1": add_invoice(
            world, org, acme, ("A-1", d("2025-01-15"), d("2025-02-14"), "1200", "paid")
        ),
        "A-2": add_invoice(
            world, org, acme, ("A-2", d("2025-02-20"), d("2099-12-31"), "800", "sent")
        ),
        "E-1": add_invoice(
            world, org, evil, ("E-1", d("2025-03-01"), d("2025-03-31"), "450.5", "sent")
        ),
        "E-2": add_invoice(
            world, org, evil, ("E-2", d("2025-03-01"), d("2025-03-31"), "10", "draft")
        ),
        "E-3": add_invoice(
            world, org, evil, ("E-3", d("2025-03-01"), d("2025-03-31"), "20", "draft")
        ),
        "Y-1": add_invoice(
            world, org, yen, ("Y-1", d("2025-01-05"), d("2025-02-04"), "150000", "paid")
        ),
        "Y-2": add_invoice(
            world, org, yen, ("Y-2", d("2025-03-20"), d("2025-04-19"), "20000", "overdue")
        ),
    }
    add_payment(world, ids["A-1"], "1200", d("2025-02-10"))
    add_payment(world, ids["A-2"], "300", d("2025-03-05"))
    add_payment(world, ids["Y-1"], "150000", d("2025-01-25"))
    add_payment(world, ids["Y-2"], "5000", d("2025-03-25"))
    other = client(stranger.personal_org, "Stranger Only Co", "USD")
    add_invoice(
        world, stranger.personal_org, other, ("S-1", d("2025-02-01"), d("2025-03-01"), "77", "paid")
    )
    add_payment(
        world,
        world.sql(
            "select id::text from public.invoices where organization_id = %s", stranger.personal_org
        )[0][0],
        "77",
        d("2025-02-02"),
    )
    return Fixture(org=org, stranger_org=stranger.personal_org, invoices=ids)


def export(api: Api, who: str = "exp_owner", **query: Any) -> Response:
    org = api.world.people["exp_owner"].personal_org if who == "exp_viewer" else None
    return api.get("/api/reports/export", as_=who, org=org, query=query)


def exported(api: Api, who: str = "exp_owner", **query: Any) -> tuple[dict[str, Any], bytes]:
    reply = export(api, who, **query)
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    download = httpx.get(body["url"], timeout=30)
    assert download.status_code == 200, download.text[:300]
    assert download.headers["content-type"] == body["content_type"]
    assert len(download.content) == body["bytes"]
    return body, download.content


def csv_rows(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "a BOM for Excel"
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def xlsx_sheet(content: bytes) -> Any:
    """The data sheet; its header row is frozen and filtered."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert [sheet.title for sheet in book.worksheets][1] == "About"
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None
    assert all(cell.font.b for cell in next(sheet.iter_rows(max_row=1)))
    return sheet


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


# --------------------------------------------------------------------------------------
# Every report in every format
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("report", REPORTS)
def test_every_report_in_every_format(any_api: Api, exp: Fixture, report: str, fmt: str) -> None:
    body, content = exported(any_api, report=report, format=fmt, **Q1)
    assert body["report"] == report
    assert body["format"] == fmt
    assert body["key"].startswith(f"{exp.org}/exports/")
    assert body["key"].endswith("." + fmt)
    assert body["from"] == "2025-01-01"
    assert body["to"] == "2025-03-31"
    assert body["rows"] > 0
    if fmt == "csv":
        rows = csv_rows(content)
        assert len(rows) == body["rows"]
    elif fmt == "xlsx":
        sheet = xlsx_sheet(content)
        assert sheet.max_row == body["rows"] + 1
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
        for line in sheet.iter_rows(min_row=2):
            for name, cell in zip(header, line, strict=True):
                if cell.value is None:
                    continue
                if name in (
                    "billed",
                    "paid",
                    "outstanding",
                    "total_amount",
                    "amount",
                    "total",
                    "collected",
                    "balance_due",
                ):
                    assert cell.data_type == "n", (name, cell.value)
                    assert cell.number_format in writers.MONEY_FORMATS.values(), name
                if name in (
                    "start",
                    "end",
                    "issue_date",
                    "due_date",
                    "payment_date",
                    "last_invoice_date",
                ):
                    assert cell.is_date, (name, cell.value)
    else:
        assert content.startswith(b"%PDF-")
        text = pdf_text(content)
        assert "2025-01-01 to 2025-03-31" in text or "issued 2025-01-01" in text


# --------------------------------------------------------------------------------------
# What is in the files
# --------------------------------------------------------------------------------------


def test_invoice_list_csv_has_the_figures_and_neutralises_formulas(
    any_api: Api, exp: Fixture
) -> None:
    body, content = exported(any_api, report="invoices", format="csv", **Q1)
    rows = csv_rows(content)
    by_number = {r["invoice_number"]: r for r in rows}
    assert set(by_number) == set(exp.invoices)
    assert body["rows"] == 7
    assert by_number["A-1"]["total_amount"] == "1200.00"
    assert by_number["A-1"]["client_company_name"] == "Acmé Ünïcode GmbH"
    assert by_number["Y-1"]["total_amount"] == "150000"
    assert by_number["Y-1"]["client_company_name"] == "東京商事"
    assert by_number["E-1"]["client_company_name"] == "'" + FORMULA_NAME
    assert by_number["E-1"]["total_amount"] == "450.50"
    assert by_number["Y-2"]["is_overdue"] == "true"
    assert by_number["A-1"]["issue_date"] == "2025-01-15"
    # Newest issue date first, ties by id descending (the keyset order).
    keys = [(r["issue_date"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)


def test_invoice_list_filters_as_the_list_route(any_api: Api, exp: Fixture) -> None:
    _, content = exported(any_api, report="invoices", format="csv", status="sent,overdue", **Q1)
    assert sorted(r["invoice_number"] for r in csv_rows(content)) == ["A-2", "E-1", "Y-2"]
    _, content = exported(any_api, report="invoices", format="csv", q="東京")
    assert sorted(r["invoice_number"] for r in csv_rows(content)) == ["Y-1", "Y-2"]
    _, content = exported(any_api, report="invoices", format="csv", total_from="1000")
    assert sorted(r["invoice_number"] for r in csv_rows(content)) == ["A-1", "Y-1", "Y-2"]


def test_pages_are_read_by_keyset_without_loss_or_repeat(
    api: Api, exp: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 2 rows: three invoices share 2025-03-01, so pages break inside a date."""
    monkeypatch.setattr(reading, "PAGE_ROWS", 2)
    monkeypatch.setattr(lists, "INVOICE_PAGE_ROWS", 2)
    _, content = exported(api, report="invoices", format="csv")
    numbers = [r["invoice_number"] for r in csv_rows(content)]
    assert sorted(numbers) == sorted(exp.invoices)
    _, content = exported(api, report="payments", format="csv")
    assert len(csv_rows(content)) == 4


def test_payment_list_has_invoice_and_client(any_api: Api, exp: Fixture) -> None:
    _body, content = exported(any_api, report="payments", format="csv", **Q1)
    rows = csv_rows(content)
    assert [(r["payment_date"], r["invoice_number"], r["amount"]) for r in rows] == [
        ("2025-03-25", "Y-2", "5000"),
        ("2025-03-05", "A-2", "300.00"),
        ("2025-02-10", "A-1", "1200.00"),
        ("2025-01-25", "Y-1", "150000"),
    ]
    assert rows[0]["client_name"] == "東京商事"
    _, content = exported(any_api, report="payments", format="csv", currency="JPY", **Q1)
    assert [r["invoice_number"] for r in csv_rows(content)] == ["Y-2", "Y-1"]


def test_invoice_list_xlsx_cells_are_typed(any_api: Api, exp: Fixture) -> None:
    _, content = exported(any_api, report="invoices", format="xlsx", **Q1)
    sheet = xlsx_sheet(content)
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header == [c.key for c in lists.INVOICE_COLUMNS]
    rows = {
        line[0].value: dict(zip(header, line, strict=True)) for line in sheet.iter_rows(min_row=2)
    }
    a1, y1, e1 = rows["A-1"], rows["Y-1"], rows["E-1"]
    assert a1["total_amount"].value == 1200
    assert a1["total_amount"].data_type == "n"
    assert a1["total_amount"].number_format == "#,##0.00"
    assert e1["total_amount"].value == pytest.approx(450.5)
    assert y1["total_amount"].value == 150000
    assert y1["total_amount"].number_format == "#,##0"
    assert a1["issue_date"].is_date
    assert a1["issue_date"].value == datetime(2025, 1, 15)
    assert a1["issue_date"].number_format == "yyyy-mm-dd"
    assert e1["client_company_name"].value == FORMULA_NAME  # a string cell, not a formula
    assert e1["client_company_name"].data_type == "s"
    assert rows["Y-2"]["is_overdue"].value is True
    assert sheet.column_dimensions["B"].width > 20


def test_revenue_pdf_has_the_figures_and_a_chart(any_api: Api, exp: Fixture) -> None:
    _, content = exported(any_api, report="revenue", format="pdf", **Q1)
    text = pdf_text(content)
    assert "Revenue by month" in text
    assert "Billed and collected (USD)" in text
    assert "Billed and collected (JPY)" in text
    assert "1,200.00" in text
    assert "150,000" in text
    reader = pypdf.PdfReader(io.BytesIO(content))
    drawing = reader.pages[0].get_contents().get_data()  # type: ignore[union-attr]
    assert drawing.count(b" re") >= 6, "bars are drawn as rectangles"


def test_revenue_by_quarter_and_client_performance_csv(any_api: Api, exp: Fixture) -> None:
    _, content = exported(any_api, report="revenue", format="csv", group_by="quarter", **Q1)
    rows = csv_rows(content)
    assert [(r["period"], r["currency"], r["billed"], r["collected"]) for r in rows] == [
        ("2025-Q1", "USD", "2450.50", "1500.00"),
        ("2025-Q1", "JPY", "170000", "155000"),
    ]
    _, content = exported(any_api, report="client-performance", format="csv", **Q1)
    names = [r["client_name"] for r in csv_rows(content)]
    assert "'" + FORMULA_NAME in names
    assert "東京商事" in names


# --------------------------------------------------------------------------------------
# Who sees what
# --------------------------------------------------------------------------------------


def test_viewer_may_export(any_api: Api, exp: Fixture) -> None:
    body, _ = exported(any_api, who="exp_viewer", report="invoices", format="csv")
    assert body["rows"] == 7
    assert body["key"].startswith(f"{exp.org}/exports/")


@pytest.mark.parametrize("report", REPORTS)
def test_stranger_exports_only_their_own_organization(
    any_api: Api, exp: Fixture, report: str
) -> None:
    body, content = exported(any_api, who="exp_stranger", report=report, format="csv", **Q1)
    assert body["key"].startswith(f"{exp.stranger_org}/exports/")
    text = content.decode("utf-8-sig")
    for secret in ("Acmé", "東京", "HYPERLINK", "A-1", "1200.00", *exp.invoices.values()):
        assert secret not in text
    if report in ("invoices", "payments"):
        assert "S-1" in text


def test_stranger_naming_organization_a_is_refused(api: Api, world: World, exp: Fixture) -> None:
    reply = api.get(
        "/api/reports/export",
        as_="exp_stranger",
        org=exp.org,
        query={"report": "invoices", "format": "csv"},
    )
    assert reply.status == 403, reply.json()


# --------------------------------------------------------------------------------------
# The URL and the object
# --------------------------------------------------------------------------------------


def test_the_url_expires(any_api: Api, exp: Fixture) -> None:
    reply = export(any_api, report="overview", format="csv")
    assert reply.status == 200, reply.json()
    body = reply.json()
    seconds = get_settings().presigned_url_seconds
    query = parse_qs(urlparse(body["url"]).query)
    assert query["X-Amz-Expires"] == [str(seconds)]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert body["expires_in"] == seconds
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert abs(expires_at - (signed + timedelta(seconds=seconds))) <= timedelta(seconds=1)
    generated = datetime.fromisoformat(body["generated_at"])
    assert timedelta(0) <= expires_at - generated <= timedelta(seconds=seconds + 5)


def test_the_object_is_stored_with_type_and_name(aws: Provisioned, api: Api, exp: Fixture) -> None:
    body, _ = exported(api, report="invoices", format="xlsx", **Q1)
    head = _s3(aws).head_object(Bucket=aws.exports_bucket, Key=body["key"])
    assert head["ContentType"] == writers.FORMATS["xlsx"][0]
    assert (
        head["ContentDisposition"] == 'attachment; filename="invoices-2025-01-01-2025-03-31.xlsx"'
    )
    assert body["file_name"] == "invoices-2025-01-01-2025-03-31.xlsx"


# --------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"report": "nope", "format": "csv"}, "report"),
        ({"report": "overview", "format": "docx"}, "format"),
        ({"format": "csv"}, "report"),
        ({"report": "overview"}, "format"),
        ({"report": "overview", "format": "csv", "from": "2025-03-01", "to": "2025-01-01"}, "from"),
        ({"report": "overview", "format": "csv", "from": "2025-02-30"}, "from"),
        ({"report": "overview", "format": "csv", "from": "2015-01-01", "to": "2025-01-01"}, "to"),
        ({"report": "invoices", "format": "csv", "group_by": "month"}, "group_by"),
        ({"report": "overview", "format": "csv", "status": "sent"}, "status"),
        ({"report": "invoices", "format": "csv", "status": "lost"}, "status"),
        ({"report": "invoices", "format": "csv", "client_id": "x"}, "client_id"),
        ({"report": "payments", "format": "csv", "payment_method": "gold"}, "payment_method"),
        (
            {"report": "payments", "format": "csv", "amount_from": "5", "amount_to": "1"},
            "amount_from",
        ),
        ({"report": "revenue", "format": "csv", "group_by": "week"}, "group_by"),
        ({"report": "revenue", "format": "csv", "client_id": "nope"}, "client_id"),
        ({"report": "client-performance", "format": "csv", "sort": "height"}, None),
        ({"report": "client-performance", "format": "csv", "limit": "101"}, "limit"),
    ],
)
def test_bad_parameters_are_422(
    any_api: Api, exp: Fixture, query: dict[str, str], field: str | None
) -> None:
    reply = export(any_api, **query)
    assert reply.status == 422, reply.json()
    error = reply.error
    assert error["code"] == "validation_failed"
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error


def test_unknown_client_for_revenue_is_404(any_api: Api, exp: Fixture) -> None:
    reply = export(
        any_api, report="revenue", format="csv", client_id="00000000-0000-0000-0000-000000000000"
    )
    assert reply.status == 404, reply.json()


def test_a_pdf_too_long_is_422_and_stores_nothing(
    aws: Provisioned, api: Api, exp: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writers, "PDF_MAX_ROWS", 3)
    before = _keys(aws, exp.org)
    reply = export(api, report="invoices", format="pdf")
    assert reply.status == 422, reply.json()
    assert "at most 3 rows" in reply.error["message"]
    assert _keys(aws, exp.org) == before


# --------------------------------------------------------------------------------------
# S3 failures leave nothing behind
# --------------------------------------------------------------------------------------


def _s3(aws: Provisioned) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=aws.endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


def _keys(aws: Provisioned, org: str) -> set[str]:
    listed = _s3(aws).list_objects_v2(Bucket=aws.exports_bucket, Prefix=f"{org}/")
    return {o["Key"] for o in listed.get("Contents", [])}


@pytest.fixture
def missing_bucket(aws: Provisioned) -> Iterator[str]:
    name = "invoiceflow-exports-missing"
    saved = os.environ.get("EXPORTS_BUCKET")
    os.environ["EXPORTS_BUCKET"] = name
    get_settings.cache_clear()
    yield name
    os.environ["EXPORTS_BUCKET"] = saved or aws.exports_bucket
    get_settings.cache_clear()


def test_storage_failure_is_503_in_the_error_shape(
    aws: Provisioned, api: Api, exp: Fixture, missing_bucket: str
) -> None:
    before = _keys(aws, exp.org)
    reply = export(api, report="invoices", format="xlsx")
    assert reply.status == 503, reply.json()
    assert reply.error["code"] == "service_unavailable"
    assert "could not be stored" in reply.error["message"]
    assert reply.headers["retry-after"]
    assert _keys(aws, exp.org) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_database_failure_half_way_leaves_nothing(
    aws: Provisioned, api: Api, exp: Fixture, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Pages of 2 rows; the third page's call fails as an outage does: the answer is the
    database's 503, no object, no unfinished upload, no temporary file."""
    monkeypatch.setattr(lists, "INVOICE_PAGE_ROWS", 2)
    real = db.rpc
    calls = {"pages": 0}

    def failing(client: Any, function: str, params: dict[str, Any]) -> Any:
        if function == "export_invoice_page":
            calls["pages"] += 1
            if calls["pages"] == 3:
                raise ApiError(503, "service_unavailable", "the database went away")
        return real(client, function, params)

    monkeypatch.setattr(db, "rpc", failing)
    scratch_before = set(Path(tempfile.gettempdir()).glob("export-*"))
    before = _keys(aws, exp.org)
    reply = export(api, report="invoices", format=fmt)
    assert reply.status == 503, reply.json()
    assert reply.error["code"] == "service_unavailable"
    assert calls["pages"] == 3
    assert _keys(aws, exp.org) == before
    assert _s3(aws).list_multipart_uploads(Bucket=aws.exports_bucket).get("Uploads", []) == []
    assert set(Path(tempfile.gettempdir()).glob("export-*")) == scratch_before


def test_a_failed_multipart_upload_is_aborted(aws: Provisioned) -> None:
    s3 = _s3(aws)
    key = "sink-test/exports/broken.csv"
    sink = S3Sink(
        s3,
        aws.exports_bucket,
        key,
        content_type="text/csv",
        disposition="attachment",
        part_bytes=5 * 1024 * 1024,
    )

    def half_a_report() -> None:
        with sink:
            for _ in range(11):
                sink.write(b"x" * (1024 * 1024))
            raise RuntimeError("the report failed half-way")

    with pytest.raises(RuntimeError):
        half_a_report()
    assert sink.upload_id is not None
    assert len(sink.parts) == 2, "two parts were sent before the failure"
    assert s3.list_multipart_uploads(Bucket=aws.exports_bucket).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=aws.exports_bucket, Prefix="sink-test/")


def test_a_multipart_upload_holds_every_byte(aws: Provisioned) -> None:
    s3 = _s3(aws)
    key = "sink-test/exports/whole.bin"
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with S3Sink(
        s3,
        aws.exports_bucket,
        key,
        content_type="application/octet-stream",
        disposition="attachment",
        part_bytes=5 * 1024 * 1024,
    ) as sink:
        for _ in range(12):
            sink.write(chunk)
    assert len(sink.parts) == 3
    assert sink.tell() == 12 * len(chunk)
    got = s3.get_object(Bucket=aws.exports_bucket, Key=key)["Body"].read()
    assert got == chunk * 12
    s3.delete_object(Bucket=aws.exports_bucket, Key=key)


def test_csv_cells_that_look_like_formulas_are_neutralised() -> None:
    for text in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert writers.safe_text(text) == "'" + text
    for text in ("Acme", "1-2", "a=b", ""):
        assert writers.safe_text(text) == text
    assert Decimal("1.50").__format__("f") == "1.50"
