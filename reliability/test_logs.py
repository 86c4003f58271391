"""No secrets or tokens in logs: every line logged during the load run (the same run as
test_load.py, `load_run` in conftest.py, with its failing paths: wrong passwords,
unknown emails, forged, `alg=none`, expired, role-escalating, garbage and ended tokens,
a refresh token as a bearer, malformed and over-full login bodies, a taken email, a too
short password, a bad refresh at the gateway, a forged token at the REST gateway).

What is read: every log record of every logger in this process (the functions'
``invoiceflow`` JSON lines at LOG_LEVEL=INFO, the gateway's Auth and REST servers,
uvicorn, moto and the libraries with the root logger at INFO), every write to
sys.stdout/sys.stderr (where the functions log, as Lambda ships stdout to CloudWatch),
and what PostgreSQL wrote to its server log meanwhile.

What must not be in any of it: the JWT secret; the service role key; every access and
refresh token a client held (from signup, each login and each refresh); every forged
token sent; every password typed (the right one and the wrong ones); the signature part
of any of these tokens (a token cut short); any JWT-shaped text at all; an
``Authorization``/``apikey`` header or a ``Bearer`` value.

The anon key is public by design: it ships in every frontend, its only authority is the
role ``anon`` (which can execute nothing in public or private, 005-schema-security.sql)
and row-level security decides what it reads. A line containing it is not a leak; the
test reports how many there are but does not fail on them.

Environment: as test_load.py (the run is shared).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from devstack.local import LocalStack
from reliability.conftest import record
from reliability.load import AUTH_HEADER, JWT_SHAPE, LoadResult, LogCapture
from shared.log import get_logger
from tests.tokens import hs256


def _secrets(stack: LocalStack, result: LoadResult) -> dict[str, set[str]]:
    keys = stack.config.keys
    secrets = {kind: set(values) for kind, values in result.secrets.items()}
    secrets["jwt_secret"] = {keys.jwt_secret}
    secrets["service_role_key"] = {keys.service_role_key}
    for kind in ("access_token", "forged_token", "service_role_key"):
        secrets[f"{kind}_signature"] = {
            token.rsplit(".", 1)[1]
            for token in secrets.get(kind, set())
            if token.count(".") == 2 and len(token.rsplit(".", 1)[1]) >= 16
        }
    return secrets


def _where(capture: LogCapture, needle: str) -> str:
    for where, line in capture.lines():
        if needle in line:
            return f"{where}: {line[:300]}"
    return "?"


def test_the_capture_saw_the_runs_log_lines(load_run: tuple[LoadResult, LogCapture]) -> None:
    """Not vacuous: one access log line per function call, the failing ones included."""
    result, capture = load_run
    function_calls = [c for c in result.calls if c.route.startswith("/api/") and c.status]
    access = [line for line in capture.records if '"message": "request"' in line]
    assert len(access) >= len(function_calls), (len(access), len(function_calls))
    refused = [line for line in access if '"status": 401' in line]
    assert len(refused) >= sum(1 for c in function_calls if c.status == 401)
    assert capture.streams, "nothing written to stdout/stderr: the functions log there"


def test_no_secret_or_token_in_any_log_line(
    stack: LocalStack, load_run: tuple[LoadResult, LogCapture]
) -> None:
    result, capture = load_run
    secrets = _secrets(stack, result)
    text = "\n".join(line for _, line in capture.lines())
    leaks: dict[str, list[str]] = {}
    for kind, values in sorted(secrets.items()):
        found = [v for v in values if v and v in text]
        if found:
            leaks[kind] = [_where(capture, v) for v in found[:3]]
    anon = stack.config.keys.anon_key
    shaped = [m.group(0) for m in JWT_SHAPE.finditer(text) if m.group(0) != anon]
    headers = [m.group(0) for m in AUTH_HEADER.finditer(text)]
    figures: dict[str, Any] = {
        "log_records": len(capture.records),
        "stdout_stderr_lines": sum(1 for w, _ in capture.lines() if w == "stdout/stderr"),
        "postgresql_log_lines": len(capture.postgres.splitlines()),
        "bytes_searched": len(text),
        "secrets_searched": {kind: len(v) for kind, v in sorted(secrets.items())},
        "leaks": {kind: len(v) for kind, v in leaks.items()},
        "jwt_shaped": len(shaped),
        "auth_headers": len(headers),
        "anon_key_lines": text.count(anon),
        "requests": len(result.calls),
    }
    record("logs", figures)
    assert leaks == {}
    assert shaped == [], [_where(capture, s) for s in shaped[:3]]
    assert headers == [], [_where(capture, h) for h in headers[:3]]


def test_the_patterns_find_what_they_are_for() -> None:
    """The shape checks would catch a logged header or token (so passing means something)."""
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLWhlcmU"
    assert JWT_SHAPE.search(f'{{"message": "auth failed for {token}"}}')
    assert AUTH_HEADER.search('{"authorization": "Bearer abcdefgh123"}')
    assert AUTH_HEADER.search("headers={'apikey': 'sb_secret_0123456789'}")
    assert AUTH_HEADER.search("sent Bearer abcdefghijkl to auth")
    assert not AUTH_HEADER.search('{"message": "request", "route": "/api/auth/login"}')
    assert re.search(JWT_SHAPE, '{"request_id": "5b0c7e1a-..."}') is None


def test_the_capture_catches_a_leak(stack: LocalStack) -> None:
    """A token logged by the functions' logger, a library's logger or a print is found."""
    token = hs256({"sub": "leak"}, "capture-self-test-" + "k" * 32)
    with LogCapture(stack) as capture:
        get_logger().info("leaky", extra={"fields": {"authorization": f"Bearer {token}"}})
        logging.getLogger("devstack.auth").warning("refused %s", token)
        print(f"token={token}")
    found = {where for where, line in capture.lines() if token in line}
    assert found == {"log record", "stdout/stderr"}
    assert sum(1 for _, line in capture.lines() if token in line) >= 4
    assert JWT_SHAPE.search(token)
