"""GET /api/reports/export?report=audit (shared/exports/audit.py): the audit trail as CSV,
XLSX and PDF for admins and owners, with the filters of GET /api/audit; what an update
changed in one cell; members and viewers refused; bad filters 422 naming the field."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.api.audit.test_audit import audited  # noqa: F401 (the module's fixture)
from tests.api.conftest import Api

pytestmark = pytest.mark.usefixtures("aws")


def export(api: Api, a: dict[str, Any], who: str = "admin", **query: Any) -> Any:
    return api.get(
        "/api/reports/export",
        as_=a["team"][who].name,
        org=a["org"],
        query={"report": "audit", **query},
    )


def csv_rows(api: Api, a: dict[str, Any], **query: Any) -> list[dict[str, str]]:
    reply = export(api, a, format="csv", **query)
    assert reply.status == 200, reply.json()
    download = httpx.get(reply.json()["url"], timeout=30)
    assert download.status_code == 200
    found = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"), newline="")))
    assert len(found) == reply.json()["rows"]
    return found


def test_the_audit_trail_exports_with_its_filters(
    api: Api,
    audited: dict[str, Any],  # noqa: F811
) -> None:
    everything = csv_rows(api, audited)
    listed = api.get(
        "/api/audit", as_=audited["team"]["admin"].name, org=audited["org"], query={}
    ).json()["pagination"]["total"]
    assert len(everything) == listed
    ids = [int(r["entry_id"]) for r in everything]
    assert ids == sorted(ids, reverse=True)
    payments = csv_rows(api, audited, table="payments", action="insert")
    assert [(r["table"], r["action"], r["record_id"]) for r in payments] == [
        ("payments", "insert", audited["payment"])
    ]
    assert "amount=" in payments[0]["changes"]
    assert payments[0]["changed_by"] == audited["team"]["member"].id
    invoice_updates = csv_rows(
        api, audited, table="invoices", record_id=audited["invoice"], action="update"
    )
    assert invoice_updates
    assert all("->" in r["changes"] for r in invoice_updates)
    assert "updated_at" not in " ".join(r["changes"] for r in invoice_updates)
    for fmt in ("xlsx", "pdf"):
        reply = export(api, audited, format=fmt)
        assert reply.status == 200, reply.json()
        assert reply.json()["rows"] == listed


def test_only_admins_export_it_and_bad_filters_are_refused(
    api: Api,
    audited: dict[str, Any],  # noqa: F811
) -> None:
    for who in ("member", "viewer"):
        reply = export(api, audited, who=who, format="csv")
        assert reply.status == 403, reply.json()
    for query, field in (
        ({"action": "erase"}, "action"),
        ({"actor": "nobody"}, "actor"),
        ({"record_id": "x"}, "record_id"),
        ({"table": "Robert'); drop"}, "table"),
        ({"status": "sent"}, "status"),
    ):
        reply = export(api, audited, format="csv", **query)
        assert reply.status == 422, (query, reply.json())
        assert field in str(reply.json())
