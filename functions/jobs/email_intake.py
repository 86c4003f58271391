"""The inbound mail worker: invoked by the inbound bucket's ``ObjectCreated`` event for
the raw messages SES stores under ``inbound/`` (serverless.yml: the receipt rule's S3
action), and by an admin's release of a quarantined message (the route re-stores the
object, which raises the event again).

For each record: the object is read (at most the largest message an organization may
accept; a larger one only by its headers, so that it is recorded and rejected), the
message parsed (`shared.payables.email_intake`), its recipient tokens resolved to
organizations (nothing else in it names one), and each organization's intake run with
the service role: the Message-ID recorded once, the sender checked (else quarantined),
the limits, one import batch with a result per attachment, matching.

Failures: S3 or the database briefly unavailable -> raised, so Lambda's retry of the
asynchronous invocation runs it again (a message already imported is skipped by its
Message-ID); anything else is logged and raised as well (the event goes to Lambda's
retries, then is dropped; the object stays in the bucket for 30 days).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from shared import aws, db
from shared.log import get_logger
from shared.payables import email_intake
from shared.settings import get_settings

PREFIX = "inbound/"
# The largest message an organization may accept (inbound_settings.max_message_bytes);
# a larger object is read by its first bytes only (its headers).
READ_LIMIT = 31_457_280
HEAD_BYTES = 262_144


def _records(event: Any) -> list[tuple[str, str]]:
    found = []
    for record in (event or {}).get("Records") or []:
        if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
            continue
        s3_part = record.get("s3") or {}
        bucket = str((s3_part.get("bucket") or {}).get("name") or "")
        key = unquote_plus(str((s3_part.get("object") or {}).get("key") or ""))
        found.append((bucket, key))
    return found


def read_object(bucket: str, key: str) -> email_intake.Message:
    s3 = aws.client("s3")
    head = s3.head_object(Bucket=bucket, Key=key)
    size = int(head.get("ContentLength") or 0)
    if size > READ_LIMIT:
        part = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}")
        return email_intake.parse_message(part["Body"].read(), size=size, headers_only=True)
    raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read(READ_LIMIT + 1)
    return email_intake.parse_message(raw)


def process(
    client: Any, bucket: str, key: str, domain: str, authserv_id: str = "amazonses.com"
) -> dict[str, Any]:
    """One stored message: every organization it was addressed to, each on its own; its
    sender authenticated once by SES's verdicts (``authserv_id``'s header)."""
    try:
        message = read_object(bucket, key)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404", "NotFound"):
            return {"key": key, "outcome": "gone"}  # expired or deleted: nothing to import
        raise
    tokens = email_intake.tokens_for(message, domain)
    if not tokens:
        return {"key": key, "outcome": "no_recipient", "message_id": message.message_id}
    organizations = db.rpc(client, "inbound_recipients", {"tokens": sorted(tokens)}) or []
    authentication = email_intake.authenticate(message, authserv_id)
    intakes = []
    for settings in organizations:
        intake = email_intake.import_message(
            client,
            str(settings["organization_id"]),
            message,
            key,
            tokens[str(settings["address_token"])],
            authentication=authentication,
        )
        intakes.append(intake.__dict__)
    return {
        "key": key,
        "outcome": "processed" if intakes else "no_recipient",
        "message_id": message.message_id,
        "organizations": intakes,
    }


def handler(event: Any, context: Any) -> dict[str, Any]:
    settings = get_settings()
    log = get_logger(settings.log_level)
    service = settings.supabase_service_role_key
    if not service:
        raise RuntimeError("the mail worker needs SUPABASE_SERVICE_ROLE_KEY (the service role)")
    client = db.rest(settings, service=service)
    results = []
    for bucket, key in _records(event):
        if bucket != settings.inbound_bucket or not key.startswith(PREFIX):
            results.append({"key": key, "outcome": "ignored", "bucket": bucket})
            continue
        try:
            result = process(
                client, bucket, key, settings.inbound_email_domain, settings.inbound_authserv_id
            )
        except Exception:
            log.exception("inbound message failed", extra={"fields": {"key": key}})
            raise
        summary = [
            {k: o[k] for k in ("organization_id", "status", "batch_id", "seconds")}
            for o in result.get("organizations") or []
        ]
        log.info(
            "inbound message",
            extra={"fields": {"key": key, "outcome": result["outcome"], "organizations": summary}},
        )
        results.append(result)
    return {"records": len(results), "results": results}
