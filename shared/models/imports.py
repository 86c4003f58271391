"""Models of the reconciliation imports (docs/api.md, "Reconciliation imports"): a CSV
upload started by ``POST /api/reconciliation/imports`` and run by the S3 import worker,
or a JSON call (``POST /api/reconciliation/invoices``, ``/purchase-orders``,
``/receipts``); each is an import batch with its counts and rejected rows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models import Input, Output
from shared.models.common import Page
from shared.models.reconciliation import MatchSummary
from shared.reconciliation.ingest import MAX_FILE_BYTES, DateOrder, Kind, Policy

# What an import upload may be (docs/api.md, "E-invoices in").
UploadContentType = Literal["text/csv", "application/xml", "text/xml", "application/pdf"]


def upload_content_type(file_name: str, given: str | None) -> str:
    """The upload's content type: the one given, else the file name's suffix's."""
    if given:
        return given
    lowered = file_name.lower()
    if lowered.endswith(".xml"):
        return "application/xml"
    if lowered.endswith(".pdf"):
        return "application/pdf"
    return "text/csv"


# =============================================================================
# Requests
# =============================================================================


class ImportCreate(Input):
    kind: Kind
    file_name: str = Field(min_length=1, max_length=255, description="the file's name, as shown")
    policy: Policy = Field(
        default="all_or_nothing",
        description="all_or_nothing: one bad row imports nothing; accept_valid_rows: the good "
        "documents are imported, the bad rows reported",
    )
    date_order: DateOrder | None = Field(
        default=None,
        description="how to read a/b/yyyy dates (dmy, mdy); default: decided from the file",
    )
    size: int | None = Field(
        default=None,
        ge=1,
        le=MAX_FILE_BYTES,
        description="the file's size in bytes: when given, the URL accepts only that size",
    )
    content_type: UploadContentType | None = Field(
        default=None,
        description="text/csv, or an e-invoice (vendor invoices only): application/xml or "
        "text/xml (UBL, CII), application/pdf (Factur-X / ZUGFeRD); default: from the file "
        "name's suffix (.xml, .pdf), else text/csv",
    )

    @model_validator(mode="after")
    def _e_invoices_are_vendor_invoices(self) -> ImportCreate:
        if (
            self.kind != "vendor_invoices"
            and upload_content_type(self.file_name, self.content_type) != "text/csv"
        ):
            raise ValueError(
                "an XML or PDF file is an e-invoice: import it as kind vendor_invoices"
            )
        return self


# =============================================================================
# Responses
# =============================================================================


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


class RowError(BaseModel):
    row: int = Field(description="1 = the first data row after the header; 0 = the file")
    column: str | None
    value: str | None
    message: str


class ImportBatchDetail(ImportBatch):
    errors: Page[RowError] = Field(description="the rejected rows' errors, by row, paged")


class Upload(BaseModel):
    url: str = Field(description="presigned S3 URL: PUT the file's bytes to it")
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(description="headers the PUT must send")
    key: str = Field(description="the S3 key: <organization_id>/imports/<batch_id>/<file>")
    max_bytes: int
    expires_in: int
    expires_at: datetime


class ImportUpload(BaseModel):
    batch: ImportBatch
    upload: Upload


class Accepted(BaseModel):
    index: int = Field(description="the document's index in the request")
    id: UUID
    label: str
    warnings: list[str] = Field(
        default_factory=list,
        description="what was not checked, the document imported all the same (an e-invoice "
        "in ZUGFeRD 1.0: 'ZUGFERD-1.0: ... not against the EN 16931 rules')",
    )


class Rejected(BaseModel):
    index: int = Field(description="the document's index in the request")
    field: str | None = Field(description="the field path, e.g. invoices[3].lines[0].quantity")
    value: str | None = None
    message: str


class ImportReport(BaseModel):
    # The route sets ``matching`` after the import (a dict from the SQL): validated then.
    model_config = ConfigDict(validate_assignment=True)

    batch: ImportBatch
    accepted: list[Accepted]
    rejected: list[Rejected]
    matching: MatchSummary | None = Field(
        default=None, description="the 3-way matching summary (vendor invoices), when it ran"
    )
