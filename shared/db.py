"""The PostgREST client bound to the caller's JWT, and the one way queries are run.

`postgrest` alone (not the `supabase` umbrella) keeps the import small. One
`httpx.Client` per Lambda instance keeps connections to PostgREST alive between
invocations. Responses are parsed with ``Decimal`` for every JSON number that has a
fraction, so money never passes through a float.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import httpx
from postgrest import SyncPostgrestClient
from postgrest.exceptions import APIError

from shared.errors import ApiError, from_postgrest, unavailable
from shared.settings import Settings

_http_lock = threading.Lock()


class _Instance:
    """What a Lambda instance keeps between invocations."""

    http: httpx.Client | None = None


_CONTENT_RANGE = re.compile(r"^\s*(?:\*|\d+-\d+)/(\d+|\*)\s*$")


def http_client(settings: Settings) -> httpx.Client:
    with _http_lock:
        if _Instance.http is None:
            _Instance.http = httpx.Client(
                timeout=httpx.Timeout(settings.http_timeout_seconds, connect=3.0),
                limits=httpx.Limits(max_keepalive_connections=8, max_connections=16),
            )
        return _Instance.http


def rest(settings: Settings, token: str | None = None, *, service: str | None = None) -> Any:
    """A PostgREST client speaking as the user whose ``token`` it is (RLS applies).

    Typed ``Any``: the builder's fluent types add nothing over the JSON it returns.
    ``service`` (the service-role key) is for scheduled jobs only.
    """
    bearer = service or token or settings.supabase_anon_key
    return SyncPostgrestClient(
        settings.rest_url,
        headers={"apikey": settings.supabase_anon_key, "Authorization": f"Bearer {bearer}"},
        http_client=http_client(settings),
        retry_enabled=False,
    )


def close() -> None:
    """Closes the instance's HTTP connections (tests and the local emulator)."""
    with _http_lock:
        if _Instance.http is not None:
            _Instance.http.close()
            _Instance.http = None


class _Builder(Protocol):
    request: Any


@dataclass(frozen=True)
class Result:
    data: Any
    count: int | None = None


def run(query: _Builder) -> Result:
    """Runs a postgrest-py query and returns its JSON with ``Decimal`` numbers.

    Network failures and PostgREST's own unavailability become a 503 with a
    retryable code; PostgreSQL errors are mapped by `shared.errors.from_postgrest`.
    """
    try:
        response: httpx.Response = query.request.send(httpx.Headers())
    except httpx.TimeoutException:
        raise ApiError(
            503,
            "service_unavailable",
            "the database took too long to answer; retry shortly",
            headers={"Retry-After": "1"},
        ) from None
    except httpx.HTTPError:
        raise unavailable() from None
    content = response.content
    if response.is_success:
        data = json.loads(content, parse_float=Decimal) if content else None
        return Result(data=data, count=_count(response.headers.get("content-range")))
    if response.status_code == 416:
        # A page past the end: an empty page, with the total PostgREST still reports.
        return Result(data=[], count=_count(response.headers.get("content-range")))
    try:
        body = json.loads(content) if content else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict) or "message" not in body:
        if response.status_code in (502, 503, 504, 520):
            raise unavailable()
        body = {"message": response.text[:200], "code": f"HTTP{response.status_code}"}
    raise from_postgrest(APIError(body))


def _count(content_range: str | None) -> int | None:
    if not content_range:
        return None
    match = _CONTENT_RANGE.match(content_range)
    if not match or match.group(1) == "*":
        return None
    return int(match.group(1))


def rpc(client: Any, function: str, params: dict[str, Any]) -> Any:
    """Calls a SQL function with JSON-ready parameters (see `shared.models.to_json`)."""
    return run(client.rpc(function, params)).data
