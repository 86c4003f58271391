"""Outbound webhooks: the body, its Standard Webhooks signature, one attempt, the back-off.

The worker (functions/jobs/webhook_worker.py) takes an attempt from the database
(``webhook_begin_attempt``: the URL, the endpoint's secrets, the event), posts it with
`deliver`, and records the outcome. What a receiver gets (docs/integrations.md):

    POST <url>
    content-type: application/json
    webhook-id: <the event's id, the same on every retry and replay>
    webhook-timestamp: <unix seconds of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>"> [v1,<...> ...]
    {"id": ..., "type": "invoice.paid", "timestamp": ..., "organization_id": ..., "data": {...}}

Signed by the ``standardwebhooks`` library (the specification's reference code), once per
secret the endpoint has (two during a rotation's 24 hours). Nothing here logs a secret, a
signature or the URL's query string.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx
from standardwebhooks import Webhook

from shared.errors import validation
from shared.models.integrations import private_host
from shared.settings import Settings

USER_AGENT = "InvoiceFlow-Webhooks/1"
MAX_RESPONSE_BYTES = 64_000


def check_endpoint_url(url: str, settings: Settings) -> None:
    """https:// only, and no private address, unless the deployment allows plain HTTP (the
    local stack, where receivers listen on 127.0.0.1)."""
    if settings.webhook_allow_http:
        return
    if urllib.parse.urlsplit(url).scheme != "https":
        raise validation("url", "must be an https:// URL", where="body")
    if private_host(url):
        raise validation("url", "must not name a private or local address", where="body")


def body_of(event: dict[str, Any]) -> bytes:
    """The JSON body of an event: the same bytes on every attempt."""
    document = {
        "id": str(event["id"]),
        "type": event["type"],
        "timestamp": event["created_at"],
        "organization_id": str((event.get("payload") or {}).get("organization_id") or ""),
        "data": event["payload"],
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def signature(secrets: list[str], message_id: str, timestamp: dt.datetime, body: bytes) -> str:
    """The webhook-signature header: one ``v1,<sig>`` per secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)


def headers(
    secrets: list[str], message_id: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    moment = dt.datetime.fromtimestamp(int(now if now is not None else time.time()), tz=dt.UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature(secrets, message_id, moment, body),
    }


@dataclass(frozen=True)
class Outcome:
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver(client: httpx.Client, attempt: dict[str, Any], timeout: float) -> Outcome:
    """Posts one attempt (``webhook_begin_attempt``'s answer); never raises for the
    receiver's failures: a non-2xx answer, a timeout or a refused connection is an outcome.
    Redirects are not followed (a receiver answers where it was registered)."""
    event = attempt["event"]
    body = body_of(event)
    sent_headers = headers(list(attempt["secrets"]), str(event["id"]), body)
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        with client.stream(
            "POST", attempt["url"], content=body, headers=sent_headers, timeout=timeout
        ) as response:
            status = response.status_code
            read = 0
            for chunk in response.iter_bytes():  # drained, bounded, never stored
                read += len(chunk)
                if read > MAX_RESPONSE_BYTES:
                    break
        if not 200 <= status < 300:
            error = f"the endpoint answered {status}"
    except httpx.TimeoutException:
        error = f"no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        error = f"could not reach the endpoint ({type(exc).__name__})"
    duration = int((time.monotonic() - clock) * 1000)
    return Outcome(started_at=started, duration_ms=duration, status_code=status, error=error)


def backoff_seconds(round_attempt: int, base: int, cap: int = 3600) -> int:
    """The wait before the next try after the ``round_attempt``-th failed: base, 2 base,
    4 base, ... at most ``cap`` (an hour; SQS's visibility allows 12)."""
    return int(min(cap, base * 2 ** max(round_attempt - 1, 0)))
