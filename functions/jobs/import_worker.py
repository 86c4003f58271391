"""The CSV and e-invoice import: invoked by the uploads bucket's ``ObjectCreated`` event
(no HTTP). The file is read by its content: a PDF or XML is an e-invoice (one vendor
invoice: shared/reconciliation/ingest/einvoice.py), anything else a CSV file.

For each record of the event: the batch is found by its S3 key and claimed once
(``claim_import_upload``: a redelivered event, or a second record of the same key, finds
it claimed or finished and does nothing), its organization is the batch's (never taken
from the key), the file is read (at most ``MAX_FILE_BYTES``), parsed and validated
(`shared.reconciliation.ingest`), stored in one RPC with the batch's policy, and matched.

Failures: the database or S3 briefly unavailable -> the batch goes back to
``awaiting_upload`` and the handler raises, so Lambda's retry of the asynchronous
invocation runs it again; anything else (a file that is gone, too large, a bug) -> the
batch is ``failed`` with a reason a person reads, and the event is not retried.

Matching runs after the import committed, in calls of at most
``imports.MATCH_CHUNK`` invoices (each well inside the 8 s statement timeout). A call
cancelled (57014) or refused for a moment raises `Retry`: the batch stays ``completed``,
its unmatched invoices ``pending``, and the retried event, finding the batch completed,
matches what is left (docs/architecture.md, "Statement timeouts").
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from shared import aws, db
from shared.errors import ApiError
from shared.log import get_logger
from shared.reconciliation import imports
from shared.reconciliation.ingest import MAX_FILE_BYTES, Parsed, RowError, parse_csv
from shared.settings import get_settings


class Retry(RuntimeError):
    """A transient failure: the batch was released for the event's retry."""


def _records(event: Any) -> list[tuple[str, str, int | None]]:
    found = []
    for record in (event or {}).get("Records") or []:
        if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
            continue
        s3_part = record.get("s3") or {}
        bucket = str((s3_part.get("bucket") or {}).get("name") or "")
        obj = s3_part.get("object") or {}
        key = unquote_plus(str(obj.get("key") or ""))
        size = obj.get("size")
        found.append((bucket, key, int(size) if isinstance(size, int) else None))
    return found


def _release(client: Any, batch_id: str, error: str, *, retry: bool) -> None:
    db.rpc(
        client,
        "release_import_upload",
        {"import_batch_id": batch_id, "error": error, "retry": retry},
    )


def import_object(client: Any, bucket: str, key: str, size: int | None) -> dict[str, Any]:
    """Imports one uploaded file; answers what happened (for the log and the tests)."""
    claim = db.rpc(client, "claim_import_upload", {"s3_key": key, "size_bytes": size})
    batch = claim.get("batch")
    if not claim.get("claimed"):
        status = batch["status"] if batch else None
        skipped: dict[str, Any] = {"key": key, "outcome": "skipped", "status": status}
        if batch and status == "completed":
            # A retry after matching was interrupted (or a duplicate event): the import
            # stands; match what it left unmatched (nothing, for a duplicate).
            resumed = _match(client, str(batch["organization_id"]), batch["kind"], str(batch["id"]))
            if resumed and resumed.get("invoices"):
                skipped["matching"] = resumed
        return skipped
    batch_id = str(batch["id"])
    organization_id = str(batch["organization_id"])
    started = time.perf_counter()
    try:
        if size is not None and size > MAX_FILE_BYTES:
            _release(client, batch_id, _too_large(size), retry=False)
            return {"key": key, "outcome": "failed", "batch_id": batch_id}
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        data = body.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            _release(client, batch_id, _too_large(len(data)), retry=False)
            return {"key": key, "outcome": "failed", "batch_id": batch_id}
        read = time.perf_counter()
        parsed = _parse(data, batch, key)
        validated = time.perf_counter()
        db.rpc(
            client,
            "describe_import_upload",
            {
                "import_batch_id": batch_id,
                "date_order": parsed.date_order,
                "decimal_mark": parsed.decimal_mark,
            },
        )
        report = imports.store(client, organization_id, parsed, batch["policy"], batch_id=batch_id)
        stored = time.perf_counter()
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404", "AccessDenied", "403"):
            _release(
                client,
                batch_id,
                "the uploaded file could not be read; upload it again",
                retry=False,
            )
            return {"key": key, "outcome": "failed", "batch_id": batch_id}
        _release(client, batch_id, "the file store was unavailable; retrying", retry=True)
        raise Retry(f"S3 {code}") from error
    except BotoCoreError as error:
        _release(client, batch_id, "the file store was unavailable; retrying", retry=True)
        raise Retry(type(error).__name__) from error
    except ApiError as error:
        if error.status == 503:
            _release(client, batch_id, "the database was unavailable; retrying", retry=True)
            raise Retry(error.code) from error
        _release(client, batch_id, f"the import was refused: {error.message}", retry=False)
        return {"key": key, "outcome": "failed", "batch_id": batch_id}
    except Exception:
        _release(
            client, batch_id, "the import failed on our side; upload the file again", retry=False
        )
        raise
    done = report["batch"]
    matching = None
    if report.get("accepted"):
        matching = _match(client, organization_id, batch["kind"], batch_id)
    matched = time.perf_counter()
    return {
        "key": key,
        "outcome": done["status"],
        "batch_id": batch_id,
        "rows_total": done["rows_total"],
        "rows_accepted": done["rows_accepted"],
        "rows_rejected": done["rows_rejected"],
        "matching": matching,
        "seconds": {
            "read": round(read - started, 3),
            "validate": round(validated - read, 3),
            "store": round(stored - validated, 3),
            "match": round(matched - stored, 3),
            "total": round(matched - started, 3),
        },
    }


def _einvoice_content(data: bytes) -> bool:
    """A PDF, or XML (after a BOM and blanks): an e-invoice, whatever the key's suffix
    (a CSV file never starts with ``<``)."""
    head = data[:1024]
    if head.lstrip().startswith(b"%PDF-"):
        return True
    for bom, encoding in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, "ignore").lstrip().startswith("<")
    return head.lstrip().startswith(b"<")


def _parse(data: bytes, batch: dict[str, Any], key: str) -> Parsed:
    """The file read by its content: an e-invoice (UBL or CII XML, a Factur-X / ZUGFeRD
    PDF; shared/reconciliation/ingest/einvoice.py) or a CSV file."""
    kind = batch["kind"]
    if _einvoice_content(data):
        name = str(batch.get("file_name") or key.rsplit("/", 1)[-1])
        if kind != "vendor_invoices":
            message = f"{name} is an e-invoice (XML or PDF): import it as vendor invoices"
            return Parsed(kind, [], [RowError(0, None, None, message)], 0)
        from shared.reconciliation.ingest.einvoice import parse_einvoice  # noqa: PLC0415

        return parse_einvoice(data, name)
    return parse_csv(
        data, kind, policy=batch["policy"], date_order=batch.get("requested_date_order")
    )


def _match(client: Any, organization_id: str, kind: str, batch_id: str) -> dict[str, Any]:
    """Matching after an import, in bounded calls (`imports.match_in_chunks`): the batch's
    invoices not matched yet, or after purchase orders or receipts every pending and
    exception invoice of the organization. A call cancelled by the statement timeout
    (57014) or the database briefly unavailable raises `Retry`: the import stands, what
    was matched stays matched, and Lambda's retry of the event resumes with the rest (the
    batch is ``completed``, so the retry only matches). Any other failure of matching is
    raised too: never a silently unmatched batch."""
    try:
        if kind == "vendor_invoices":
            return imports.match_in_chunks(client, organization_id, batch_id=batch_id)
        return imports.match_in_chunks(client, organization_id)
    except imports.MatchingInterrupted as error:
        if error.retryable:
            raise Retry(
                f"matching {error.code}; {error.done.get('invoices', 0)} matched"
            ) from error
        raise


def _too_large(size: int) -> str:
    limit = MAX_FILE_BYTES // 1_048_576
    return f"the file is {size / 1_048_576:.1f} MB; at most {limit} MB per import"


def handler(event: Any, context: Any) -> dict[str, Any]:
    settings = get_settings()
    log = get_logger(settings.log_level)
    key = settings.supabase_service_role_key
    if not key:
        raise RuntimeError("the import worker needs SUPABASE_SERVICE_ROLE_KEY (the service role)")
    client = db.rest(settings, service=key)
    results = []
    for bucket, object_key, size in _records(event):
        if bucket != settings.uploads_bucket:
            results.append({"key": object_key, "outcome": "ignored", "bucket": bucket})
            continue
        try:
            result = import_object(client, bucket, object_key, size)
        except Retry:
            log.warning("import retried", extra={"fields": {"key": object_key}})
            raise
        except Exception:
            log.exception("import failed", extra={"fields": {"key": object_key}})
            raise
        fields = {name: value for name, value in result.items() if name != "matching"}
        log.info("import", extra={"fields": fields})
        results.append(result)
    return {"records": len(results), "results": results}
