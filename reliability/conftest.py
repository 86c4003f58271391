"""The reliability suite's fixtures: one whole local stack per session (the same parts
`make dev` runs, on free ports, over a throw-away home), people signed up through the
real API, and a record of each run's figures.

`make reliability` runs this folder; it is not part of `make test`. Each test writes
what it measured to bench/out/reliability/<name>.json (and prints it), from which
bench/RESULTS.md is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from devstack.local import LocalStack, Ports
from devstack.postgres import free_port
from shared import aws as shared_aws
from shared.settings import get_settings

OUT_DIR = Path(__file__).resolve().parent.parent / "bench" / "out" / "reliability"
PASSWORD = "reliability-Pa55!"

# The functions' settings for the whole session (set before the stack starts, which
# adds the stack's own addresses and keys). The per-user rate limit and the client
# page's per-address one are off: the load's clients share one loopback address, and the
# limits have their own tests (the per-token one stays on).
SUITE_ENV = {"RATE_LIMIT_PER_WINDOW": "0", "PORTAL_ADDRESS_LIMIT": "0", "LOG_LEVEL": "INFO"}


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The local stack, started in this process so that tests can break its parts
    (`restart_postgres`, `stop_aws`/`start_aws`) and read its database directly."""
    home = Path(tempfile.mkdtemp(prefix="invoiceflow-reliability-"))
    os.chmod(home, 0o755)  # noqa: S103 - the postgres user must traverse it
    saved = dict(os.environ)
    os.environ.update(SUITE_ENV)
    ports = Ports(db=free_port(), api=free_port(), aws=free_port(), functions=free_port())
    local = LocalStack(home / "stack", ports, seed=False)
    local.start()
    get_settings.cache_clear()
    shared_aws.reset()
    try:
        yield local
    finally:
        local.close()
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        shared_aws.reset()
        shutil.rmtree(home, ignore_errors=True)


def sql(stack: LocalStack, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """A superuser query (the invariants are checked behind RLS's back)."""
    with psycopg.connect(stack.cluster.url, autocommit=True) as conn:
        cur = conn.execute(query, params or None)
        return cur.fetchall() if cur.description else []


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    content: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.content, parse_float=Decimal) if self.content else None


@dataclass
class User:
    """Someone signed up through POST /api/auth/signup, with their session."""

    email: str
    user_id: str
    organization_id: str
    access_token: str
    refresh_token: str


class Client:
    """The frontend's view of the API: HTTP to the API Gateway emulator, bearer token and
    organization header when signed in. One per thread (httpx clients are not shared)."""

    def __init__(self, stack: LocalStack, user: User | None = None, timeout: float = 60) -> None:
        self.stack = stack
        self.user = user
        self.http = httpx.Client(base_url=stack.functions_url, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        token: str | None = None,
        organization: str | None = None,
    ) -> Reply:
        sent = {"user-agent": "invoiceflow-reliability"}
        if self.user is not None:
            sent["authorization"] = f"Bearer {token or self.user.access_token}"
            sent["x-organization-id"] = organization or self.user.organization_id
        elif token is not None:
            sent["authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        body = content
        if json_body is not None:
            body = json.dumps(json_body, default=str).encode()
            sent["content-type"] = "application/json"
        started = time.perf_counter()
        reply = self.http.request(method, path, content=body, params=params, headers=sent)
        return Reply(reply.status_code, reply.headers, reply.content, time.perf_counter() - started)

    def sign_up(self, tag: str) -> User:
        email = f"{tag}-{uuid.uuid4().hex[:8]}@reliability.example"
        reply = self.request(
            "POST",
            "/api/auth/signup",
            json_body={
                "email": email,
                "password": PASSWORD,
                "first_name": "Reliability",
                "last_name": tag,
            },
        )
        assert reply.status == 201, reply.content
        body = reply.json()
        session = body["session"]
        self.user = User(
            email=email,
            user_id=body["user"]["id"],
            organization_id=body["organization"]["id"],
            access_token=session["access_token"],
            refresh_token=session["refresh_token"],
        )
        return self.user

    def sign_in(self, email: str) -> Reply:
        """POST /api/auth/login; on success the client uses the new session."""
        saved, self.user = self.user, None
        reply = self.request(
            "POST", "/api/auth/login", json_body={"email": email, "password": PASSWORD}
        )
        self.user = saved
        if reply.status == 200 and saved is not None:
            saved.access_token = reply.json()["session"]["access_token"]
        return reply

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def client(stack: LocalStack) -> Iterator[Client]:
    """A new person, signed up, with their own personal organization."""
    c = Client(stack)
    c.sign_up("person")
    yield c
    c.close()


def record(name: str, figures: dict[str, Any]) -> Path:
    """Writes one run's figures to bench/out/reliability/<name>.json and prints them."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    figures = {"recorded_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"), **figures}
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\n[reliability] {name}: {json.dumps(figures, default=str)}", flush=True)
    return path


@pytest.fixture(scope="session")
def load_run(stack: LocalStack) -> Any:
    """One load run (reliability/load.py, RELIABILITY_LOAD_CLIENTS x
    RELIABILITY_LOAD_SECONDS) with every log line captured: test_load.py checks what it
    stored, test_logs.py what it logged. A (LoadResult, LogCapture) pair."""
    from reliability.load import run_captured  # noqa: PLC0415 - it imports this module

    return run_captured(stack)
