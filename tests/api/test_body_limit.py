"""The body limit (MAX_BODY_BYTES, 1 MB) holds whatever the headers say: a request
without Content-Length (chunked) or with one smaller than its body is refused with 413
as one that declares its size. test_errors.py checks the declared case."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx

from devstack.functions import FunctionHost, http_event
from tests.api.conftest import World

LIMIT = 1_000_000


def _clients(world: World) -> int:
    return int(world.sql("select count(*) from public.clients")[0][0])


def _body(notes: int) -> bytes:
    return json.dumps({"company_name": "Chunked", "notes": "n" * notes}).encode()


def _invoke(
    host: FunctionHost, world: World, body: bytes, length: str | None
) -> tuple[int, dict[str, object]]:
    spec, params, _ = host.match("POST", "/api/clients")
    assert spec is not None
    headers = {
        "authorization": f"Bearer {world.token('alice')}",
        "content-type": "application/json",
        "transfer-encoding": "chunked",
    }
    if length is not None:
        headers["content-length"] = length
        del headers["transfer-encoding"]
    event = http_event(spec, "POST", "/api/clients", "", headers, body, params)
    result = host.invoke(spec, event)
    return int(result["statusCode"]), json.loads(result["body"])


def test_a_body_without_content_length_over_the_limit_is_413(
    function_host: FunctionHost, world: World
) -> None:
    before = _clients(world)
    status, answer = _invoke(function_host, world, _body(LIMIT + 10), None)
    assert status == 413, answer
    assert answer["error"]["code"] == "payload_too_large"  # type: ignore[index]
    assert _clients(world) == before


def test_a_content_length_smaller_than_the_body_is_no_way_past(
    function_host: FunctionHost, world: World
) -> None:
    status, answer = _invoke(function_host, world, _body(LIMIT + 10), "100")
    assert status == 413, answer


def test_a_body_within_the_limit_without_content_length_reaches_the_route(
    function_host: FunctionHost, world: World
) -> None:
    """Counted, not refused: the route sees the whole body (here its notes are too long
    for the field: the route's own 422, naming it)."""
    status, answer = _invoke(function_host, world, _body(LIMIT // 2), None)
    assert status == 422, answer
    assert answer["error"]["details"][0]["field"] == "notes"  # type: ignore[index]
    status, answer = _invoke(function_host, world, _body(10), None)
    assert status == 201, answer


def test_a_chunked_upload_over_http_is_413(emulator: str, world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"company_name": "Chunked", "notes": "'
        for _ in range(12):
            yield b"n" * 100_000
        yield b'"}'

    before = _clients(world)
    reply = httpx.post(
        f"{emulator}/api/clients",
        content=chunks(),
        headers={
            "authorization": f"Bearer {world.token('alice')}",
            "content-type": "application/json",
        },
        timeout=30,
    )
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"]["code"] == "payload_too_large"
    assert _clients(world) == before
