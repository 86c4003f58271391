"""One export (``GET /api/reports/export``, functions/reports/export.py): the report's
options checked, its table read with the caller's JWT and written as it comes into an
S3 upload, and the answer with a presigned URL."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import ApiError, validation
from shared.exports import sources, storage, writers
from shared.models.exports import FIXED_PARAMETERS, OPTIONS, ExportResult
from shared.settings import Settings


def options(given: Iterable[str], report: str, values: dict[str, Any]) -> dict[str, Any]:
    """The report's options among ``values`` (the route's parameters); a query parameter
    ``given`` that the report does not take is refused, and so are a revenue's client id
    that is no UUID and a client performance's currency that is no ISO code."""
    allowed = OPTIONS[report]
    for name in given:
        if name not in FIXED_PARAMETERS and name not in allowed:
            hint = f"it takes {sorted(allowed)}" if allowed else "it takes only from and to"
            raise validation(name, f"not an option of the {report} report; {hint}")
    chosen = {k: v for k, v in values.items() if k in allowed and v is not None}
    client_id = chosen.get("client_id")
    if report == "revenue" and client_id is not None:
        try:
            chosen["client_id"] = UUID(client_id)
        except ValueError:
            raise validation("client_id", f"{client_id!r} is not a client id (UUID)") from None
    currency = chosen.get("currency")
    if (
        report == "client-performance"
        and currency is not None
        and not (len(currency) == 3 and currency.isascii() and currency.isupper())
    ):
        raise validation("currency", "a three-letter ISO 4217 code, e.g. USD")
    return chosen


def export(query: sources.ReportQuery, report: str, fmt: str, settings: Settings) -> ExportResult:
    """Writes the report's file into the exports bucket under the organization's prefix."""
    table = sources.REPORTS[report](query)  # the filters are checked before any S3 call

    generated = datetime.now(UTC).replace(microsecond=0)
    content_type, extension = writers.FORMATS[fmt]
    span = "-".join(d.isoformat() for d in (table.date_from, table.date_to) if d is not None)
    file_name = f"{table.name}{'-' + span if span else ''}.{extension}"
    key = (
        f"{query.organization_id}/exports/{generated:%Y/%m}/"
        f"{generated:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}-{file_name}"
    )
    client = storage.s3()
    bucket = settings.exports_bucket
    try:
        with storage.S3Sink(
            client,
            bucket,
            key,
            content_type=content_type,
            disposition=f'attachment; filename="{file_name}"',
        ) as sink:
            writers.write(table, fmt, sink, generated_at=generated)
        signed = datetime.now(UTC).replace(microsecond=0)  # the URL's X-Amz-Date
        url = storage.presigned_get(client, bucket, key, settings.presigned_url_seconds)
    except writers.TooManyRows as error:
        raise ApiError(
            422,
            "validation_failed",
            f"format: a PDF holds at most {error.limit} rows; narrow the range or the "
            "filters, or export csv or xlsx",
            details=[{"in": "query", "field": "format", "message": "too many rows for a PDF"}],
        ) from None
    except (BotoCoreError, ClientError):
        raise storage.storage_failed() from None
    return ExportResult.model_validate(
        {
            "url": url,
            "key": key,
            "report": report,
            "format": fmt,
            "content_type": content_type,
            "file_name": file_name,
            "rows": table.rows_written,
            "bytes": sink.written,
            "from": table.date_from,
            "to": table.date_to,
            "generated_at": generated,
            "expires_in": settings.presigned_url_seconds,
            "expires_at": signed + timedelta(seconds=settings.presigned_url_seconds),
        }
    )
