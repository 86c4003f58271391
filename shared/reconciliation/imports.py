"""Storing parsed imports: one RPC per batch, then 3-way matching when it exists.

Used by the JSON import routes (with the caller's JWT) and the S3 import worker (with
the service role, naming the batch it claimed). No AWS SDK here.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from pydantic import BaseModel, Field

from shared import db
from shared.log import get_logger
from shared.models import Output
from shared.reconciliation.ingest import JSON_LIST, Kind, Parsed, Policy
from shared.settings import get_settings

RPC: dict[Kind, str] = {
    "vendor_invoices": "import_vendor_invoices",
    "purchase_orders": "import_purchase_orders",
    "goods_receipts": "import_goods_receipts",
}
MATCH_RPC = "match_vendor_invoices"


class ImportBatch(Output):
    """An import: a CSV upload or a JSON call, its policy, status and counts."""

    id: UUID
    organization_id: UUID
    kind: str = Field(description="vendor_invoices, purchase_orders or goods_receipts")
    source: str = Field(description="csv, api or email")
    policy: str = Field(description="all_or_nothing or accept_valid_rows")
    status: str = Field(description="awaiting_upload, processing, completed, rejected, failed")
    file_name: str | None = None
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    error: str | None = Field(default=None, description="why rows or the file were rejected")
    date_order: str | None = Field(
        default=None, description="how a/b/yyyy dates were read: dmy or mdy"
    )
    decimal_mark: str | None = Field(default=None, description="the file's decimal mark")
    requested_date_order: str | None = None
    size_bytes: int | None = None
    created_by: UUID | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime


class Accepted(BaseModel):
    index: int = Field(description="the document's index in the request")
    id: UUID
    label: str


class Rejected(BaseModel):
    index: int = Field(description="the document's index in the request")
    field: str | None = Field(description="the field path, e.g. invoices[3].lines[0].quantity")
    value: str | None = None
    message: str


class ImportReport(BaseModel):
    batch: ImportBatch
    accepted: list[Accepted]
    rejected: list[Rejected]
    matching: dict[str, Any] | None = Field(
        default=None, description="the 3-way matching summary (vendor invoices), when it ran"
    )


def store(
    client: Any,
    organization_id: UUID | str,
    parsed: Parsed,
    policy: Policy,
    *,
    batch_id: UUID | str | None = None,
) -> dict[str, Any]:
    """One RPC call stores the whole batch (or nothing); returns its report."""
    report: dict[str, Any] = db.rpc(
        client,
        RPC[parsed.kind],
        {
            "organization_id": str(organization_id),
            "batch": parsed.documents,
            "policy": policy,
            "errors": [error.to_json() for error in parsed.errors],
            "rows_total": parsed.rows_total,
            "import_batch_id": None if batch_id is None else str(batch_id),
            "columns": parsed.columns,
        },
    )
    return report


def match_after(
    client: Any, organization_id: UUID | str, kind: Kind, report: dict[str, Any]
) -> Any:
    """Runs 3-way matching for what the import changed: the new vendor invoices, or every
    pending and exception invoice after new purchase orders or receipts. Skipped (None)
    when nothing was stored or the matching RPC is not deployed (PostgREST's PGRST202);
    a matching failure is logged and leaves the invoices pending: the import stands."""
    accepted = report.get("accepted") or []
    if not accepted:
        return None
    ids = [str(item["id"]) for item in accepted] if kind == "vendor_invoices" else None
    params = {"organization_id": str(organization_id), "invoice_ids": ids}
    log = get_logger(get_settings().log_level)
    try:
        response: httpx.Response = client.rpc(MATCH_RPC, params).request.send(httpx.Headers())
    except httpx.HTTPError as error:
        log.warning("matching unreachable", extra={"fields": {"error": type(error).__name__}})
        return None
    body = json.loads(response.content, parse_float=Decimal) if response.content else None
    if response.is_success:
        return body
    code = body.get("code") if isinstance(body, dict) else None
    if code != "PGRST202":
        log.warning(
            "matching failed", extra={"fields": {"status": response.status_code, "code": code}}
        )
    return None


def response_report(kind: Kind, report: dict[str, Any], matching: Any = None) -> ImportReport:
    """The JSON import's answer: rejected rows by document index and field path."""
    name = JSON_LIST[kind]
    rejected = []
    for error in report.get("rejected") or []:
        column = error.get("column")
        path = f"{name}[{error['row']}]" + (f".{column}" if column else "")
        rejected.append(
            Rejected(
                index=error["row"], field=path, value=error.get("value"), message=error["message"]
            )
        )
    return ImportReport(
        batch=ImportBatch.model_validate(report["batch"]),
        accepted=[Accepted.model_validate(item) for item in report.get("accepted") or []],
        rejected=rejected,
        matching=matching if isinstance(matching, dict) else None,
    )
