"""The upload of a CSV or e-invoice import (``POST /api/reconciliation/imports``): the S3 key's file
name and the presigned PUT the client sends the file with; the upload's S3 event runs
the import (functions/jobs/import_worker.py). Imports boto3: only the route
that makes the link imports this module."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from shared import aws
from shared.errors import ApiError
from shared.models.imports import Upload
from shared.reconciliation.ingest import MAX_FILE_BYTES
from shared.settings import Settings

CONTENT_TYPE = "text/csv"
# The key's suffix per content type: a CSV file, or an e-invoice (UBL/CII XML, a
# Factur-X / ZUGFeRD PDF). The worker reads the content, not the suffix.
SUFFIXES = {
    "text/csv": ".csv",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "application/pdf": ".pdf",
}


def object_name(file_name: str, content_type: str = CONTENT_TYPE) -> str:
    """The file name as a safe S3 key segment (ASCII letters, digits, ``._-``), ending
    with its content type's suffix."""
    ascii_name = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._-")[:116] or "import"
    suffix = SUFFIXES.get(content_type, ".csv")
    return safe if safe.lower().endswith(suffix) else safe + suffix


def presigned_upload(
    settings: Settings, key: str, size: int | None, content_type: str = CONTENT_TYPE
) -> Upload:
    """A presigned PUT of ``key`` in the uploads bucket; with ``size``, signed for that
    size only (S3 refuses another)."""
    params: dict[str, str | int] = {
        "Bucket": settings.uploads_bucket,
        "Key": key,
        "ContentType": content_type,
    }
    if size is not None:
        params["ContentLength"] = size
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
    return Upload(
        url=url,
        headers={"Content-Type": content_type},
        key=key,
        max_bytes=MAX_FILE_BYTES,
        expires_in=seconds,
        expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
    )
