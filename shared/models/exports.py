"""Models of the report export (``GET /api/reports/export``; docs/api.md, "Report
export"): which report, in which format, the options each report takes, and the answer
(the file in S3 behind a presigned URL)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from shared.models import Output

Report = Literal[
    "overview",
    "revenue",
    "revenue-by-client",
    "payment-status",
    "client-performance",
    "invoices",
    "payments",
    "match-results",
    "quotes",
    "credit-notes",
    "refunds",
    "recurring-profiles",
    "client-credit",
    "audit",
]
Format = Literal["csv", "xlsx", "pdf"]

# The options each report takes besides from/to; any other is refused (422).
OPTIONS: dict[str, set[str]] = {
    "overview": set(),
    "revenue": {"group_by", "client_id"},
    "revenue-by-client": {"limit"},
    "payment-status": set(),
    "client-performance": {"sort", "limit", "currency"},
    "invoices": {
        "q",
        "status",
        "client_id",
        "overdue",
        "issue_date_from",
        "issue_date_to",
        "due_date_from",
        "due_date_to",
        "total_from",
        "total_to",
    },
    "payments": {
        "q",
        "invoice_id",
        "client_id",
        "payment_method",
        "currency",
        "payment_date_from",
        "payment_date_to",
        "amount_from",
        "amount_to",
    },
    "match-results": {"outcome", "vendor_id"},
    # The billing lifecycle's lists: the filters of their list routes.
    "quotes": {
        "q",
        "status",
        "client_id",
        "issue_date_from",
        "issue_date_to",
        "valid_until_from",
        "valid_until_to",
        "total_from",
        "total_to",
    },
    "credit-notes": {"q", "invoice_id", "client_id", "kind", "issue_date_from", "issue_date_to"},
    "refunds": {
        "client_id",
        "invoice_id",
        "payment_id",
        "source",
        "refund_date_from",
        "refund_date_to",
    },
    "recurring-profiles": {"q", "status", "client_id", "frequency"},
    "client-credit": {"client_id", "kind", "currency"},
    # The audit trail (shared/exports/audit.py): the filters of GET /api/audit.
    "audit": {"table", "record_id", "actor", "action"},
}
# Query parameters that are not options.
FIXED_PARAMETERS = {"report", "format", "from", "to"}


class ExportResult(Output):
    url: str = Field(description="presigned GET URL of the file; expires at `expires_at`")
    key: str = Field(description="the S3 key, under `<organization_id>/exports/`")
    report: str
    format: str
    content_type: str
    file_name: str
    rows: int = Field(description="data rows written (the header not counted)")
    bytes: int
    from_: date | None = Field(alias="from", description="the range covered, when it has one")
    to: date | None
    generated_at: datetime
    expires_in: int = Field(description="seconds the URL stays valid")
    expires_at: datetime
