"""Query parameters a route does not declare are refused (shared.query, docs/api.md "Query
parameters"): ``400 unknown_parameter`` naming each one, on every route of serverless.yml,
before the token is checked; a declared single-valued parameter given twice is ``400
repeated_parameter``. The names are read from the query string the route reads (API
Gateway's ``rawQueryString``), and are those FastAPI knows of the route: its own, its
dependencies', a query model's fields, by alias."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from devstack.functions import (
    ROOT,
    FunctionHost,
    FunctionSpec,
    LambdaContext,
    http_event,
    http_routes,
)
from devstack.openapi import build_openapi
from shared.api import make_handler
from tests.api.conftest import Api, Response, World

ROUTES = http_routes()
OURS = ("unknown_parameter", "repeated_parameter")


def _path(spec: FunctionSpec) -> str:
    """The route's path with a well-formed id (of nothing) for each path parameter."""
    path = spec.path or ""
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return path


def raw(
    api: Api,
    method: str,
    path: str,
    query: str,
    *,
    as_: str | None = "alice",
    json_body: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A request with the query string exactly as written (repeats, empty names, no `=`),
    through the handler or over HTTP, as `api` goes."""
    sent = {"user-agent": "invoiceflow-tests"}
    if as_ is not None:
        sent["authorization"] = f"Bearer {api.world.token(as_)}"
        if as_ in ("maria", "victor"):
            sent["x-organization-id"] = api.world.org_a
    sent.update(headers or {})
    body = b""
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent["content-type"] = "application/json"
        sent["content-length"] = str(len(body))
    if api.transport == "http":
        reply = httpx.request(
            method, f"{api.url}{path}?{query}", content=body or None, headers=sent, timeout=30
        )
        return Response(reply.status_code, dict(reply.headers), reply.content)
    spec, params, _ = api.host.match(method, path)
    assert spec is not None, f"no function serves {method} {path}"
    result = api.host.invoke(spec, http_event(spec, method, path, query, sent, body, params))
    return Response(int(result["statusCode"]), {}, str(result.get("body") or "").encode())


def refused(reply: Response, code: str = "unknown_parameter") -> list[str]:
    """The names an answer refuses (asserting it is that refusal, in the error shape)."""
    assert reply.status == 400, (reply.status, reply.json())
    error = reply.error
    assert error["code"] == code, error
    assert error["request_id"]
    assert all(d["in"] == "query" and d["message"] for d in error["details"]), error
    return [d["field"] for d in error["details"]]


def _count(world: World, table: str) -> int:
    return int(world.sql(f"select count(*) from public.{table}")[0][0])


# ------------------------------------------------------------------------- the issue


def test_the_issue_s_example_names_both_parameters(any_api: Api) -> None:
    """`GET /api/clients?per_page=10&search=acme` answered 25 unfiltered rows."""
    reply = raw(any_api, "GET", "/api/clients", "per_page=10&search=acme")
    assert refused(reply) == ["per_page", "search"]
    message = reply.error["message"]
    assert message.startswith("unknown query parameters: per_page, search;"), message
    assert ", page_size, q, " in message  # what it takes instead


def test_the_names_the_route_takes_still_filter(any_api: Api) -> None:
    tag = uuid.uuid4().hex[:10]
    for n in range(3):
        created = any_api.post(
            "/api/clients", as_="alice", json_body={"company_name": f"Acme {tag} {n}"}
        )
        assert created.status == 201, created.json()
    reply = raw(any_api, "GET", "/api/clients", f"page_size=2&q={tag}&sort=-company_name")
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["pagination"]["total"] == 3
    assert [c["company_name"] for c in body["data"]] == [f"Acme {tag} 2", f"Acme {tag} 1"]


# -------------------------------------------------------------------------- every route


@pytest.mark.parametrize("spec", ROUTES, ids=[s.route_key for s in ROUTES])
def test_every_route_refuses_an_unknown_parameter(api: Api, spec: FunctionSpec) -> None:
    method = spec.method or ""
    reply = raw(api, method, _path(spec), "zz_unknown=1")
    assert refused(reply) == ["zz_unknown"]
    assert "zz_unknown" in reply.error["message"]


@pytest.mark.parametrize("spec", ROUTES, ids=[s.route_key for s in ROUTES])
def test_every_route_accepts_each_parameter_it_documents(
    api: Api, spec: FunctionSpec, documented: dict[tuple[str, str], list[str]]
) -> None:
    """Every parameter of the OpenAPI document, all at once: whatever the route then makes
    of the values (here "1", often a 422), it is not refused as unknown or repeated."""
    names = documented[(spec.method or "", spec.path or "")]
    query = "&".join(f"{name}=1" for name in names)
    reply = raw(api, spec.method or "", _path(spec), query)
    if reply.status == 400:
        assert reply.error["code"] not in OURS, reply.error


@pytest.fixture(scope="module")
def documented() -> dict[tuple[str, str], list[str]]:
    return {
        (method.upper(), path): [
            p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
        ]
        for path, operations in build_openapi()["paths"].items()
        for method, operation in operations.items()
    }


def test_writes_refused_for_a_parameter_change_nothing(api: Api, world: World) -> None:
    before = _count(world, "clients")
    reply = raw(
        api, "POST", "/api/clients", "dry_run=true", json_body={"company_name": "Never made"}
    )
    assert refused(reply) == ["dry_run"]
    assert _count(world, "clients") == before
    made = api.post("/api/clients", as_="alice", json_body={"company_name": "Kept"})
    assert made.status == 201
    client_id = made.json()["id"]
    assert refused(raw(api, "DELETE", f"/api/clients/{client_id}", "force=1")) == ["force"]
    assert api.get(f"/api/clients/{client_id}", as_="alice").status == 200


def test_public_routes_refuse_them_too(api: Api, world: World) -> None:
    email = f"query-{uuid.uuid4().hex[:8]}@example.com"
    body = {
        "email": email,
        "password": "a long enough password 1",
        "first_name": "Q",
        "last_name": "P",
    }
    reply = raw(api, "POST", "/api/auth/signup", "invite=abc", as_=None, json_body=body)
    assert refused(reply) == ["invite"]
    assert not world.sql("select 1 from auth.users where email = %s", email)
    login = {"email": email, "password": "x"}
    assert refused(raw(api, "POST", "/api/auth/login", "remember=1", as_=None, json_body=login))


# ---------------------------------------------------------------------- order and shape


def test_the_check_comes_before_the_token_and_the_role(api: Api) -> None:
    """A request of the wrong shape is refused the same way for anyone (as malformed JSON
    and an oversized body are): no token, a forged one, a role too weak."""
    assert refused(raw(api, "GET", "/api/clients", "per_page=1", as_=None)) == ["per_page"]
    assert raw(api, "GET", "/api/clients", "page_size=1", as_=None).status == 401
    forged = {"authorization": "Bearer not.a.token"}
    assert refused(raw(api, "GET", "/api/auth/me", "who=1", as_=None, headers=forged)) == ["who"]
    assert raw(api, "GET", "/api/auth/me", "", as_=None, headers=forged).status == 401
    body = {"company_name": "Viewer's"}
    assert raw(api, "POST", "/api/clients", "", as_="victor", json_body=body).status == 403
    viewer = raw(api, "POST", "/api/clients", "x=1", as_="victor", json_body=body)
    assert refused(viewer) == ["x"]


def test_an_unknown_parameter_comes_before_the_route_s_own_validation(api: Api) -> None:
    reply = raw(api, "GET", "/api/clients/not-a-uuid", "expand=invoices")
    assert refused(reply) == ["expand"]
    assert refused(raw(api, "GET", "/api/clients", "page_size=abc&expand=1")) == ["expand"]
    assert raw(api, "GET", "/api/clients", "page_size=abc").status == 422


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("search=", ["search"]),  # an empty value is still the parameter
        ("search", ["search"]),  # no `=` at all
        ("=acme", [""]),  # no name
        ("Page_Size=10", ["Page_Size"]),  # names are case-sensitive
        ("page_size=10&x=1&x=2&y=", ["x", "y"]),  # a repeated unknown one, named once
        ("status[]=active", ["status[]"]),  # a frontend library's array form
    ],
)
def test_unknown_names_however_written(api: Api, query: str, names: list[str]) -> None:
    assert refused(raw(api, "GET", "/api/clients", query)) == names


@pytest.mark.parametrize("query", ["", "&", "q=", "page_size=10&", "page%5Fsize=10", "q=a%26b"])
def test_what_is_not_an_unknown_parameter(api: Api, query: str) -> None:
    """An empty query string, a stray `&`, an empty known value, a percent-encoded known
    name (decoded as FastAPI decodes it), a value holding an encoded `&`."""
    reply = raw(api, "GET", "/api/clients", query)
    assert reply.status == 200, reply.json()


def test_a_single_valued_parameter_given_twice_is_refused(any_api: Api) -> None:
    """FastAPI kept the last value: `status=active&status=inactive` listed only inactive
    clients. Several values are comma-separated."""
    reply = raw(any_api, "GET", "/api/clients", "status=active&status=inactive&page_size=5")
    assert refused(reply, "repeated_parameter") == ["status"]
    assert "comma-separated" in reply.error["message"]
    assert raw(any_api, "GET", "/api/clients", "status=active,inactive").status == 200
    both = raw(any_api, "GET", "/api/clients", "page=1&page=1&nope=1")
    assert refused(both) == ["nope", "page"]  # unknown first; both named
    assert [d["message"].startswith("given 2 times") for d in both.error["details"]] == [
        False,
        True,
    ]


def test_the_route_s_raw_query_string_is_what_counts(function_host: FunctionHost) -> None:
    """API Gateway gives both `rawQueryString` and `queryStringParameters` (repeats joined
    with commas); Mangum hands the route the raw string, so the check reads it."""
    spec, params, _ = function_host.match("GET", "/api/clients")
    assert spec is not None

    def answer(raw_query: str, parameters: dict[str, str] | None) -> tuple[int, Any]:
        event = http_event(spec, "GET", "/api/clients", raw_query, {}, b"", params)
        if parameters is None:
            event.pop("queryStringParameters", None)
        else:
            event["queryStringParameters"] = parameters
        result = function_host.invoke(spec, event)
        return int(result["statusCode"]), json.loads(result["body"])

    status, body = answer("page_size=5&per_page=10", {"page_size": "5"})
    assert (status, [d["field"] for d in body["error"]["details"]]) == (400, ["per_page"])
    status, body = answer("page_size=5", {"page_size": "5", "per_page": "10"})
    assert status == 401, body  # no unknown parameter in what the route reads: the token next
    status, body = answer("status=active&status=inactive", {"status": "active,inactive"})
    assert (status, body["error"]["code"]) == (400, "repeated_parameter")


# ------------------------------------------------------- what FastAPI knows of a route


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str | None = None
    tags: list[str] = []
    size: int = Field(10, alias="page-size")


class Anything(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str | None = None


async def _since(since: Annotated[str | None, Query(alias="from")] = None) -> str | None:
    return since


router = APIRouter()


@router.get("/api/model")
async def with_a_model(filters: Annotated[Filters, Query()]) -> dict[str, Any]:
    return filters.model_dump()


@router.get("/api/open")
async def with_an_open_model(filters: Annotated[Anything, Query()]) -> dict[str, Any]:
    return filters.model_dump()


@router.get("/api/dependency")
async def with_a_dependency(
    since: Annotated[str | None, Depends(_since)],
    ids: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    return {"since": since, "ids": ids}


@router.get("/api/nothing")
async def without_parameters() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="module")
def handler(api_env: None) -> Iterator[Any]:
    loop = asyncio.new_event_loop()  # Mangum takes the thread's loop, as in Lambda
    asyncio.set_event_loop(loop)
    try:
        yield make_handler(router)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _call(handler: Any, path: str, query: str) -> tuple[int, Any]:
    spec = FunctionSpec("probe", "tests", "handler", "GET", path, 10)
    result = handler(http_event(spec, "GET", path, query), LambdaContext(spec))
    return int(result["statusCode"]), json.loads(result["body"])


@pytest.mark.parametrize(
    ("path", "query", "status", "refused_names"),
    [
        ("/api/model", "kind=a&tags=x&tags=y&page-size=3", 200, None),  # alias; a list repeats
        ("/api/model", "size=3", 400, ["size"]),  # the field's name is not its alias
        ("/api/model", "kind=a&kind=b", 400, ["kind"]),
        ("/api/open", "kind=a&whatever=1", 200, None),  # extra="allow" takes any name
        ("/api/dependency", "from=2026-01-01&ids=a&ids=b", 200, None),
        ("/api/dependency", "since=2026-01-01", 400, ["since"]),  # the alias, not the name
        ("/api/nothing", "", 200, None),
        ("/api/nothing", "a=1&b", 400, ["a", "b"]),
    ],
)
def test_the_names_are_what_fastapi_knows_of_the_route(
    handler: Any, path: str, query: str, status: int, refused_names: list[str] | None
) -> None:
    got, body = _call(handler, path, query)
    assert got == status, body
    if refused_names is not None:
        assert [d["field"] for d in body["error"]["details"]] == refused_names
        assert body["error"]["code"] in OURS


def test_a_cold_start_without_a_query_string_does_not_load_the_check() -> None:
    """Lambda ships no bytecode: shared.query is compiled by the first request with a query
    string, not by the import of every function (the import cost stays as it was)."""
    probe = "import sys, functions.clients.api; print('shared.query' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "False"
