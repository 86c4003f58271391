"""Fixtures for the HTTP API: the functions of serverless.yml invoked through their real
``handler(event, context)`` (in process, as Lambda does) or over HTTP through the API
Gateway emulator, against the local Supabase (or a real one named by SUPABASE_URL).

The world: organization A (alice owner, maria member, victor viewer) and organization B
(bob, the stranger). Tokens are minted exactly as Supabase Auth mints them.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from moto.server import ThreadedMotoServer

from devstack.aws import Provisioned, provision
from devstack.functions import FunctionHost, create_app, http_event, load_functions
from devstack.openapi import build_openapi
from devstack.postgres import Database, free_port
from devstack.stack import AppServer
from shared import aws as shared_aws
from shared.settings import get_settings
from tests.stacks import Target


@dataclass
class Person:
    name: str
    id: str
    email: str
    personal_org: str


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content, parse_float=Decimal) if self.content else None

    @property
    def error(self) -> dict[str, Any]:
        body = self.json()
        assert isinstance(body, dict), f"not an error: {self.status} {body}"
        assert "error" in body, f"not an error: {self.status} {body}"
        error: dict[str, Any] = body["error"]
        return error


@dataclass
class World:
    stack: Target
    database: Database
    tag: str
    people: dict[str, Person] = field(default_factory=dict)
    org_a: str = ""
    org_b: str = ""

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database.url, autocommit=True) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []

    def token(self, name: str, **claims: Any) -> str:
        person = self.people[name]
        now = int(time.time())
        payload: dict[str, Any] = {
            "sub": person.id,
            "role": "authenticated",
            "aud": "authenticated",
            "iat": now,
            "exp": now + 3600,
            "email": person.email,
            "aal": "aal1",
        }
        payload.update(claims)
        return jwt.encode(payload, self.stack.config.keys.jwt_secret, algorithm="HS256")

    def add_person(self, name: str, org: str | None = None, role: str | None = None) -> Person:
        ident = f"{name}-{self.tag}"
        uid = self.sql("select tests.create_supabase_user(%s)::text", ident)[0][0]
        email = self.sql("select email from auth.users where id = %s", uid)[0][0]
        personal = self.sql("select tests.personal_org(%s)::text", ident)[0][0]
        if org and role:
            self.sql("select tests.add_member(%s, %s, %s)", org, ident, role)
        person = Person(name=name, id=uid, email=email, personal_org=personal)
        self.people[name] = person
        return person


class Api:
    """Calls routes by method and path, as a person (their token and organization)."""

    def __init__(self, world: World, transport: str, host: FunctionHost, url: str) -> None:
        self.world = world
        self.transport = transport
        self.host = host
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=30) if transport == "http" else None

    def request(
        self,
        method: str,
        path: str,
        *,
        as_: str | None = None,
        token: str | None = None,
        org: str | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        sent: dict[str, str] = {"user-agent": "invoiceflow-tests"}
        if as_ is not None:
            token = self.world.token(as_)
            person = self.world.people[as_]
            if org is None and person.name in ("maria", "victor"):
                org = self.world.org_a
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        if org is not None:
            sent["x-organization-id"] = org
        body = b""
        if json_body is not None:
            body = json.dumps(json_body, default=str).encode()
            sent["content-type"] = "application/json"
        elif content is not None:
            body = content
            sent.setdefault("content-type", "application/json")
        sent.update(headers or {})
        if body:
            sent["content-length"] = str(len(body))
        query_string = httpx.QueryParams(
            {k: str(v) for k, v in (query or {}).items() if v is not None}
        )
        if self._http is not None:
            reply = self._http.request(
                method, path, content=body or None, params=query_string, headers=sent
            )
            return Response(reply.status_code, dict(reply.headers), reply.content)
        spec, params, _ = self.host.match(method, path)
        assert spec is not None, f"no function serves {method} {path}"
        event = http_event(spec, method, path, str(query_string), sent, body, params)
        result = self.host.invoke(spec, event)
        raw = str(result.get("body") or "")
        # Binary bodies (PDFs) come back base64-encoded, as API Gateway expects them.
        content = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        return Response(
            int(result["statusCode"]),
            {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()},
            content,
        )

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


@pytest.fixture(scope="session")
def api_env(stack: Target) -> Iterator[None]:
    """The functions' environment, pointing at the stack under test (rate limit off;
    the rate-limit test turns it on)."""
    values = {
        "SUPABASE_URL": stack.url,
        "SUPABASE_ANON_KEY": stack.config.keys.anon_key,
        "SUPABASE_JWT_SECRET": stack.config.keys.jwt_secret,
        # The scheduled jobs and queue workers act as the service role.
        "SUPABASE_SERVICE_ROLE_KEY": stack.config.keys.service_role_key,
        "RATE_LIMIT_PER_WINDOW": "0",
        "LOG_LEVEL": "WARNING",
        # An inline bulk send's safety message visible at once (not a minute later, in
        # another test's queue): the tests drain it themselves.
        "BULK_INLINE_SAFETY_DELAY_SECONDS": "0",
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    get_settings.cache_clear()
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def aws(api_env: None) -> Iterator[Provisioned]:
    """A moto server (as `make dev` runs it) with the bucket, queues and verified sender
    serverless.yml declares; the functions' environment points at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    provisioned = provision(f"http://{host}:{port}")
    values = provisioned.environment()
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    get_settings.cache_clear()
    shared_aws.reset()
    yield provisioned
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()
    shared_aws.reset()
    server.stop()


@pytest.fixture(scope="session")
def world(stack: Target, database: Database) -> World:
    w = World(stack=stack, database=database, tag=uuid.uuid4().hex[:8])
    alice = w.add_person("alice")
    w.org_a = alice.personal_org
    w.add_person("maria", w.org_a, "member")
    w.add_person("victor", w.org_a, "viewer")
    w.org_b = w.add_person("bob").personal_org
    return w


@pytest.fixture(scope="session")
def function_host(api_env: None) -> Iterator[FunctionHost]:
    host = FunctionHost(load_functions())
    yield host
    host.close()


@pytest.fixture(scope="session")
def emulator(function_host: FunctionHost) -> Iterator[str]:
    """The API Gateway emulator over HTTP, as `make dev` serves it on :3000."""
    server = AppServer(create_app(function_host, build_openapi), free_port(), "functions").start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(scope="session")
def api(world: World, function_host: FunctionHost) -> Iterator[Api]:
    """Routes invoked through each function's handler(event, context), in process."""
    client = Api(world, "handler", function_host, "")
    yield client
    client.close()


@pytest.fixture(scope="session")
def http_api(world: World, function_host: FunctionHost, emulator: str) -> Iterator[Api]:
    """Routes over real HTTP through the API Gateway emulator."""
    client = Api(world, "http", function_host, emulator)
    yield client
    client.close()


@pytest.fixture(params=["handler", "http"])
def any_api(request: pytest.FixtureRequest) -> Api:
    """Both ways in: the end-to-end suites run over each."""
    fixture = "api" if request.param == "handler" else "http_api"
    client: Api = request.getfixturevalue(fixture)
    return client
