"""Bad input and failures get a clear 4xx/5xx in the one error shape — never a bare 500,
never a partial write — and the log line carries the request id but no token."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator

import pytest
from fastapi import APIRouter

from devstack.functions import FunctionSpec, LambdaContext, http_event
from devstack.postgres import free_port
from shared.api import make_handler
from shared.settings import get_settings
from tests.api.conftest import Api, World


def _count_clients(world: World) -> int:
    return int(world.sql("select count(*) from public.clients")[0][0])


def test_malformed_json_is_400(api: Api, world: World) -> None:
    before = _count_clients(world)
    reply = api.post("/api/clients", as_="alice", content=b'{"company_name": "Broken",')
    assert reply.status == 400
    assert reply.error["code"] == "malformed_json"
    assert _count_clients(world) == before


def test_body_over_the_limit_is_413(api: Api) -> None:
    huge = json.dumps({"company_name": "x", "notes": "n" * 1_100_000}).encode()
    reply = api.post("/api/clients", as_="alice", content=huge)
    assert reply.status == 413
    assert reply.error["code"] == "payload_too_large"


def test_a_function_s_own_limit_applies_locally_as_in_lambda(api: Api) -> None:
    """serverless.yml gives the JSON import routes MAX_BODY_BYTES 6,000,000; the local
    stack runs every function in one process and must apply it to those routes only."""
    body = json.dumps({"documents": [], "notes": "n" * 1_500_000}).encode()
    reply = api.post("/api/reconciliation/invoices", as_="alice", content=body)
    assert reply.status != 413, reply.json()
    assert reply.status in (400, 422)
    over = json.dumps({"documents": [], "notes": "n" * 6_100_000}).encode()
    assert api.post("/api/reconciliation/invoices", as_="alice", content=over).status == 413
    assert api.post("/api/clients", as_="alice", content=body).status == 413


def test_deeply_nested_json_is_refused_cleanly(api: Api) -> None:
    nested = b'{"company_name": "Deep", "notes": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    reply = api.post("/api/clients", as_="alice", content=nested)
    assert reply.status in (400, 422)
    assert reply.error["code"] in ("malformed_json", "validation_failed")


def test_wrong_types_and_unknown_fields_name_each_field(api: Api) -> None:
    reply = api.post(
        "/api/clients",
        as_="alice",
        json_body={"company_name": 12, "is_admin": True, "email": ["x"]},
    )
    assert reply.status == 422
    error = reply.error
    assert error["code"] == "validation_failed"
    fields = {d["field"] for d in error["details"]}
    assert {"is_admin", "email"} <= fields
    assert all(d["in"] == "body" for d in error["details"])


def test_non_uuid_id_is_422(api: Api) -> None:
    reply = api.get("/api/clients/not-a-uuid", as_="alice")
    assert reply.status == 422
    assert reply.error["details"][0]["field"] == "id"
    assert reply.error["details"][0]["in"] == "path"


def test_members_of_several_organizations_must_name_one(api: Api, world: World) -> None:
    # victor belongs to his own organization and (as a viewer) to organization A.
    token = world.token("victor")
    reply = api.get("/api/clients", token=token)
    assert reply.status == 400
    assert reply.error["code"] == "organization_required"
    assert set(reply.error["details"]["organizations"]) == {
        world.org_a,
        world.people["victor"].personal_org,
    }
    bad = api.get("/api/clients", token=token, org="not-a-uuid")
    assert bad.status == 400
    assert bad.error["code"] == "invalid_organization"
    assert api.get("/api/clients", token=token, org=world.org_a).status == 200


@pytest.fixture
def database_unreachable(api_env: None) -> Iterator[None]:
    saved = os.environ["SUPABASE_URL"]
    os.environ["SUPABASE_URL"] = f"http://127.0.0.1:{free_port()}"
    get_settings.cache_clear()
    yield
    os.environ["SUPABASE_URL"] = saved
    get_settings.cache_clear()


@pytest.mark.usefixtures("database_unreachable")
def test_unreachable_backend_is_a_retryable_503(api: Api) -> None:
    reply = api.get("/api/auth/me", as_="alice")
    assert reply.status == 503
    assert reply.error["code"] == "service_unavailable"
    assert reply.headers["retry-after"] == "1"


def test_a_crash_is_a_500_in_the_error_shape_and_logged_without_the_token(
    api_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    router = APIRouter()

    @router.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    loop = asyncio.new_event_loop()  # Mangum takes the thread's loop, as in Lambda
    asyncio.set_event_loop(loop)
    handler = make_handler(router)
    spec = FunctionSpec("boom", "tests", "handler", "GET", "/api/boom", 10)
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2VjcmV0LXRva2Vu"
    event = http_event(spec, "GET", "/api/boom", "", {"authorization": f"Bearer {token}"})
    try:
        result = handler(event, LambdaContext(spec))  # type: ignore[arg-type]
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    assert result["statusCode"] == 500
    body = json.loads(result["body"])
    assert body["error"]["code"] == "internal_error"
    assert "secret internals" not in result["body"]
    request_id = event["requestContext"]["requestId"]
    assert body["error"]["request_id"] == request_id
    logged = capsys.readouterr().out
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == request_id and line["level"] == "ERROR" for line in lines)
    assert token not in logged
