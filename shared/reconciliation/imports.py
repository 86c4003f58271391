"""Storing parsed imports: one RPC per batch, then 3-way matching when it exists.

Used by the JSON import routes (with the caller's JWT) and the S3 import worker (with
the service role, naming the batch it claimed). No AWS SDK here.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from shared import db
from shared.errors import ApiError
from shared.log import get_logger
from shared.models.imports import Accepted, ImportBatch, ImportReport, Rejected
from shared.models.reconciliation import MatchSummary
from shared.reconciliation.ingest import JSON_LIST, Kind, Parsed, Policy
from shared.settings import get_settings

RPC: dict[Kind, str] = {
    "vendor_invoices": "import_vendor_invoices",
    "purchase_orders": "import_purchase_orders",
    "goods_receipts": "import_goods_receipts",
}
MATCH_RPC = "match_vendor_invoices"
# Invoices per matching call: 1.5-3 ms each on a loaded 2-core machine (bench/RESULTS.md,
# "Issue 13: statement timeouts"), so a call stays far below the 8 s timeout and 4 s budget.
MATCH_CHUNK = 250
# A JSON import route starts no matching call after this long (API Gateway answers 504
# at 30 s): a sweep over a large organization is finished by the next one, or by
# ``POST /api/reconciliation/match``.
ROUTE_MATCH_SECONDS = 15.0


def store(
    client: Any,
    organization_id: UUID | str,
    parsed: Parsed,
    policy: Policy,
    *,
    batch_id: UUID | str | None = None,
) -> dict[str, Any]:
    """One RPC call stores the whole batch (or nothing); returns its report."""
    if any("vendor_tax_id" in document for document in parsed.documents):
        # E-invoices name the seller's VAT id: only its keyed hash and seal are sent.
        from shared.reconciliation.vendor_tax_ids import seal_vendor_tax_ids  # noqa: PLC0415

        seal_vendor_tax_ids(parsed, str(organization_id))
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


class MatchingInterrupted(RuntimeError):
    """A matching call failed part-way (cancelled by the statement timeout, the database
    briefly unavailable, ...). The chunks before it are committed; the invoices of the
    failed chunk and after it are still ``pending`` and unmatched (``matched_at`` null),
    so calling again resumes where it stopped. ``api`` is the failure as `shared.db`
    mapped it, ``code`` the database's own code when it gave one (57014); ``retryable``
    for a 503 (57014, 55P03, 40001, a connection failure)."""

    def __init__(self, api: ApiError, done: dict[str, Any]) -> None:
        super().__init__(f"matching interrupted: {api.status} {api.sqlstate or api.code}")
        self.api = api
        self.status = api.status
        self.code = api.sqlstate or api.code
        self.done = done

    @property
    def retryable(self) -> bool:
        return self.status == 503


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if key == "skipped":
            total["skipped"] = [*total.get("skipped", []), *(value or [])]
        elif isinstance(value, int):
            total[key] = total.get(key, 0) + value
    total["calls"] = total.get("calls", 0) + 1


def _unmatched_page(
    client: Any, organization_id: str, *, batch_id: str | None, after: str | None
) -> list[str]:
    """The next ids to match, id order: a batch's invoices never matched yet (pending,
    ``matched_at`` null: what a cancelled call left), or every pending and exception
    invoice of the organization after ``after``."""
    query = (
        client.table("vendor_invoices")
        .select("id")
        .eq("organization_id", organization_id)
        .order("id")
        .limit(MATCH_CHUNK)
    )
    if batch_id is not None:
        query = (
            query.eq("import_batch_id", batch_id).eq("status", "pending").is_("matched_at", "null")
        )
    else:
        query = query.in_("status", ["pending", "exception"])
    if after is not None:
        query = query.gt("id", after)
    rows = db.run(query).data or []
    return [str(row["id"]) for row in rows]


def match_in_chunks(
    client: Any,
    organization_id: UUID | str,
    *,
    invoice_ids: list[str] | None = None,
    batch_id: UUID | str | None = None,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """3-way matching in calls of at most MATCH_CHUNK invoices, each its own transaction,
    so that no statement approaches the API roles' statement timeout (docs/architecture.md,
    "Statement timeouts"): the given ids; or a batch's invoices not matched yet (what a
    retry resumes); or (neither) every pending and exception invoice of the organization.
    Answers the summed counts (``calls``: how many);
    raises `MatchingInterrupted` (with what was done) when a call fails. With
    ``max_seconds`` (a route, inside API Gateway's 30 s), no call starts after that
    long: the answer says ``"incomplete": true`` and the rest keeps its earlier state."""
    org = str(organization_id)
    total: dict[str, Any] = {
        "invoices": 0,
        "matched": 0,
        "matched_with_tolerance": 0,
        "exception": 0,
        "skipped": [],
    }
    total["calls"] = 0
    after: str | None = None
    pending = list(invoice_ids) if invoice_ids is not None else None
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    try:
        while True:
            if deadline is not None and time.monotonic() > deadline:
                total["incomplete"] = True
                return total
            if pending is not None:
                chunk, pending = pending[:MATCH_CHUNK], pending[MATCH_CHUNK:]
            else:
                chunk = _unmatched_page(
                    client,
                    org,
                    batch_id=None if batch_id is None else str(batch_id),
                    after=None if batch_id is not None else after,
                )
            if not chunk:
                return total
            part = db.rpc(client, MATCH_RPC, {"organization_id": org, "invoice_ids": chunk})
            _add(total, part)
            if batch_id is not None and not part.get("invoices"):
                return total  # nothing of the page could be matched: never loop on it
            after = chunk[-1]
    except ApiError as error:  # a matching call, or reading the next page, failed
        raise MatchingInterrupted(error, total) from error


def match_after(
    client: Any, organization_id: UUID | str, kind: Kind, report: dict[str, Any]
) -> Any:
    """Runs 3-way matching for what a JSON import changed (`match_in_chunks`): the new
    vendor invoices, or every pending and exception invoice after new purchase orders or
    receipts. Skipped (None) when nothing was stored.
    A failure is logged and leaves the invoices pending (the import stands and is
    answered; ``POST /api/reconciliation/match`` matches them later). The import worker
    does not use this: it retries instead (functions/jobs/import_worker.py)."""
    # Vendor credit notes ("kind") are stored beside the invoices but never matched.
    accepted = [a for a in report.get("accepted") or [] if a.get("kind") != "vendor_credit_note"]
    if not accepted:
        return None
    ids = [str(item["id"]) for item in accepted] if kind == "vendor_invoices" else None
    try:
        return match_in_chunks(
            client, organization_id, invoice_ids=ids, max_seconds=ROUTE_MATCH_SECONDS
        )
    except MatchingInterrupted as error:
        log = get_logger(get_settings().log_level)
        log.warning(
            "matching failed",
            extra={
                "fields": {
                    "status": error.status,
                    "code": error.code,
                    "done": error.done.get("invoices"),
                }
            },
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
        matching=MatchSummary.model_validate(matching) if isinstance(matching, dict) else None,
    )
