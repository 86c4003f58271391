"""shared.idempotency, the Idempotency-Key mechanism of write routes, on its own against
the real database (begin_idempotent_request, release_idempotent_request): a key is held
by one request, given back when the work failed before its effect, kept after it, and
a retry is answered by what the key's first request came to. The send route's use of it
is tested in invoices/test_send.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import pytest
from pydantic import BaseModel

from shared import db, idempotency
from shared.context import Context
from shared.errors import ApiError
from shared.idempotency import IdempotentRequest
from shared.settings import get_settings
from tests.api.conftest import World

pytestmark = pytest.mark.usefixtures("api_env")

OPERATION = "POST /api/probe"


@dataclass(frozen=True)
class _Caller:
    """What the mechanism reads of a route's Context: the caller's client and organization."""

    db: Any
    organization_id: UUID


class Answer(BaseModel):
    done: int


@pytest.fixture
def ctx(world: World) -> Context:
    client = db.rest(get_settings(), world.token("maria"))
    return cast(Context, _Caller(client, UUID(world.org_a)))


def begin(ctx: Context, key: str | None, parts: list[Any] | None = None) -> Any:
    request = IdempotentRequest(key)
    answer = asyncio.run(request.begin(ctx, OPERATION, parts or [{"n": 1}], Answer))
    return request, answer


def _row(world: World, key: str) -> list[tuple[Any, ...]]:
    return world.sql(
        "select state, locked_until > now() from public.idempotency_keys"
        " where organization_id = %s and user_id = %s and key = %s",
        world.org_a,
        world.people["maria"].id,
        key,
    )


class Failed(Exception):
    pass


def _effect_then_failure(request: IdempotentRequest) -> None:
    request.keep()  # say, the email went out
    raise Failed  # and recording it failed


def test_without_a_key_nothing_is_held_or_asked() -> None:
    nowhere = cast(Context, _Caller(None, uuid.uuid4()))  # any call would fail
    request, answer = begin(nowhere, None)
    assert answer is None
    with pytest.raises(Failed), request.held():
        raise Failed
    request.release()


def test_a_failure_before_the_effect_gives_the_key_back(ctx: Context, world: World) -> None:
    key = uuid.uuid4().hex
    request, answer = begin(ctx, key)
    assert answer is None
    assert _row(world, key) == [("in_progress", True)]
    with pytest.raises(Failed), request.held():
        raise Failed
    assert _row(world, key) == []
    _, answer = begin(ctx, key)
    assert answer is None, "a retry under the key runs again"


def test_a_failure_after_the_effect_keeps_the_key(
    ctx: Context, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = uuid.uuid4().hex
    request, _ = begin(ctx, key)
    with pytest.raises(Failed), request.held():
        _effect_then_failure(request)
    assert _row(world, key) == [("in_progress", True)]
    monkeypatch.setattr(idempotency, "WAIT_FOR_CONCURRENT_SECONDS", 0.3)
    with pytest.raises(ApiError) as caught:
        begin(ctx, key)
    assert (caught.value.status, caught.value.code) == (409, "conflict")
    assert "still in progress" in caught.value.message
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 60

    # Its lease over, the first request is presumed dead part-way: the outcome is unknown.
    world.sql(
        "update public.idempotency_keys set locked_until = now() - interval '1 second'"
        " where key = %s",
        key,
    )
    with pytest.raises(ApiError) as caught:
        begin(ctx, key)
    assert (caught.value.status, caught.value.code) == (409, "conflict")
    assert "may have done its work" in caught.value.message


def test_the_key_for_a_different_request_is_refused(ctx: Context) -> None:
    key = uuid.uuid4().hex
    begin(ctx, key, [{"n": 1}])
    with pytest.raises(ApiError) as caught:
        begin(ctx, key, [{"n": 2}])
    assert (caught.value.status, caught.value.code) == (422, "idempotency_key_reused")


def test_a_completed_key_replays_the_first_answer(ctx: Context, world: World) -> None:
    key = uuid.uuid4().hex
    begin(ctx, key)
    # What the write's RPC does in its transaction (mark_invoice_sent's idempotency_key).
    world.sql(
        "update public.idempotency_keys set state = 'completed', response_status = 201,"
        " response = %s::jsonb, completed_at = now() where key = %s",
        json.dumps({"done": 7, "extra": "dropped by the model"}),
        key,
    )
    request, replay = begin(ctx, key)
    assert replay is not None
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert json.loads(replay.body) == {"done": 7}
    with pytest.raises(Failed), request.held():
        raise Failed  # a replaying request holds nothing: nothing is released
    assert _row(world, key) == [("completed", True)]


def test_the_fingerprint_is_the_requests_meaning() -> None:
    assert idempotency.fingerprint("a", {"x": 1, "y": 2}) == idempotency.fingerprint(
        "a", {"y": 2, "x": 1}
    )
    assert idempotency.fingerprint("a", {"x": 1}) != idempotency.fingerprint("b", {"x": 1})
