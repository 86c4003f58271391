"""The ``Idempotency-Key`` header of write routes: a retry under the same key never does
the work twice and is answered with the first answer (header ``Idempotent-Replayed:
true``); the same key for a different request is refused (docs/api.md, "Sending and
bulk actions").

The database keeps the keys, per organization and person (``public.idempotency_keys``):
``begin_idempotent_request`` holds a key for one request (or says how its first request
ended), ``release_idempotent_request`` gives it back, and the write's own RPC completes
it with its answer in the write's transaction (``mark_invoice_sent(idempotency_key =>
…)``), so the stored answer and the write commit together. A route::

    async def route(ctx: Member, idempotency: Idempotency, body: Body) -> Any:
        replay = await idempotency.begin(ctx, "POST /api/…", [body.to_json()], Answer)
        if replay is not None:
            return replay
        with idempotency.held():
            ...  # refused, or failed before its effect: the key is given back
            idempotency.keep()  # the effect happened (an email went out): keep the key
            return db.rpc(ctx.db, "the_write", {..., "idempotency_key": idempotency.key})
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared import db
from shared.context import Context
from shared.errors import ApiError

# How long a request waits for a concurrent one holding its key.
WAIT_FOR_CONCURRENT_SECONDS = 8.0
POLL_SECONDS = 0.2


def fingerprint(*parts: Any) -> str:
    """A hash of what a request means (its JSON-ready parts): the same key with another
    fingerprint is a different request."""
    content = json.dumps(list(parts), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


class IdempotentRequest:
    """One request's ``Idempotency-Key`` (``key`` None: the request gave none, and every
    step here does nothing)."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self._ctx: Context | None = None  # set while this request holds the key
        self._kept = False

    async def begin(
        self,
        ctx: Context,
        operation: str,
        parts: list[Any],
        response_model: type[BaseModel],
        unknown: str = "the first request with this Idempotency-Key stopped before "
        "finishing and may have done its work; check before trying again with a new key",
    ) -> JSONResponse | None:
        """Holds the key for this request (None: go ahead), or answers for it: the first
        answer replayed through ``response_model``, or an error (the key reused for
        another request, its first request still running, or dead part-way: 409 with
        the ``unknown`` message, which says what to check)."""
        if not self.key:
            return None
        params = {
            "organization_id": str(ctx.organization_id),
            "key": self.key,
            "operation": operation,
            "fingerprint": fingerprint(*parts),
        }
        deadline = time.monotonic() + WAIT_FOR_CONCURRENT_SECONDS
        while True:
            answer = db.rpc(ctx.db, "begin_idempotent_request", params)
            outcome = answer.get("outcome")
            if outcome == "started":
                self._ctx = ctx
                return None
            if outcome == "completed":
                return _replay(answer, response_model)
            if outcome == "mismatch":
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was already used for a different request; "
                    "use a new key for a new request",
                    details=[{"in": "header", "field": "Idempotency-Key", "message": "reused"}],
                )
            if outcome == "unknown":
                raise ApiError(409, "conflict", unknown)
            if time.monotonic() >= deadline:
                raise ApiError(
                    409,
                    "conflict",
                    "a request with this Idempotency-Key is still in progress; retry shortly",
                    headers={"Retry-After": str(int(answer.get("retry_after") or 1))},
                )
            await asyncio.sleep(POLL_SECONDS)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """The work under the key: an exception out of it gives the key back (nothing was
        done; a retry under the key runs again), unless `keep` was called (the effect may
        have happened: the key stays held until its lease runs out, and a retry is told
        the outcome is unknown)."""
        try:
            yield
        except BaseException:
            if not self._kept:
                self.release()
            raise

    def keep(self) -> None:
        """The request's effect happened: the key is not given back on a later failure."""
        self._kept = True

    def release(self) -> None:
        """Gives the key back (only while this request holds it)."""
        ctx, self._ctx = self._ctx, None
        if ctx is None or not self.key:
            return
        # If this fails too, the key's lease runs out and a retry is told its outcome is
        # unknown.
        with contextlib.suppress(ApiError):
            db.rpc(
                ctx.db,
                "release_idempotent_request",
                {"organization_id": str(ctx.organization_id), "key": self.key},
            )


def _replay(answer: dict[str, Any], response_model: type[BaseModel]) -> JSONResponse:
    # Through the response model, as the first answer went: the same JSON byte for byte.
    body = response_model.model_validate(answer.get("response")).model_dump(mode="json")
    return JSONResponse(
        body,
        status_code=int(answer.get("status") or 200),
        headers={"Idempotent-Replayed": "true"},
    )


async def _idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Retries with the same key never do the work twice and get the "
            "first answer",
        ),
    ] = None,
) -> IdempotentRequest:
    return IdempotentRequest(key.strip() if key else None)


# A route's parameter: the request's Idempotency-Key (the header is optional).
Idempotency = Annotated[IdempotentRequest, Depends(_idempotency_key)]
