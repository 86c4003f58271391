"""POST /api/reconciliation/imports: a CSV import starts here. The batch is recorded
(``awaiting_upload``) and a presigned S3 PUT URL returned; the upload's S3 event runs the
import (functions/reconciliation/import_worker.py)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter
from pydantic import BaseModel, Field

from shared import aws, db
from shared.api import make_handler
from shared.context import Member
from shared.errors import ApiError
from shared.models import Input
from shared.reconciliation.imports import ImportBatch
from shared.reconciliation.ingest import MAX_FILE_BYTES, DateOrder, Kind, Policy
from shared.reconciliation.routes import error_responses

router = APIRouter(tags=["reconciliation"])

CONTENT_TYPE = "text/csv"


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


def object_name(file_name: str) -> str:
    """The file name as a safe S3 key segment (ASCII letters, digits, ``._-``)."""
    ascii_name = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._-")[:116] or "import"
    # The bucket's event fires for .csv keys (serverless.yml).
    return safe if safe.lower().endswith(".csv") else safe + ".csv"


@router.post(
    "/api/reconciliation/imports",
    status_code=201,
    response_model=ImportUpload,
    summary="Start a CSV import: the batch and a presigned S3 PUT URL for the file",
    responses=error_responses(400, 401, 403, 422, 503),
)
async def create_import(ctx: Member, body: ImportCreate) -> ImportUpload:
    settings = ctx.user.settings
    row = db.rpc(
        ctx.db,
        "create_import_upload",
        {
            "organization_id": str(ctx.organization_id),
            "kind": body.kind,
            "file_name": body.file_name,
            "object_name": object_name(body.file_name),
            "policy": body.policy,
            "date_order": body.date_order,
        },
    )
    batch = ImportBatch.model_validate(row)
    params = {"Bucket": settings.uploads_bucket, "Key": row["s3_key"], "ContentType": CONTENT_TYPE}
    if body.size is not None:
        params["ContentLength"] = body.size  # signed: S3 refuses another size
    try:
        url = aws.client("s3").generate_presigned_url(
            "put_object",
            Params=params,
            ExpiresIn=settings.presigned_url_seconds,
            HttpMethod="PUT",
        )
    except (BotoCoreError, ClientError):
        raise ApiError(
            503,
            "service_unavailable",
            "the upload link could not be made; retry shortly",
            headers={"Retry-After": "1"},
        ) from None
    seconds = settings.presigned_url_seconds
    return ImportUpload(
        batch=batch,
        upload=Upload(
            url=url,
            headers={"Content-Type": CONTENT_TYPE},
            key=row["s3_key"],
            max_bytes=MAX_FILE_BYTES,
            expires_in=seconds,
            expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
        ),
    )


handler = make_handler(router)
