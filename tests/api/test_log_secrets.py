"""No password, token or key in what the functions log, on the failing auth paths too
(the cheap in-process version of reliability/test_logs.py, which reads every log line
of a whole load run): a wrong password, a malformed login body, forged, expired and
ended tokens, a logout. Read: the functions' JSON lines on stdout and every log record
of the libraries at INFO (httpx logs each URL the functions call)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterator

import pytest

from shared.settings import get_settings
from tests.api.auth.test_auth import PASSWORD, signup
from tests.api.conftest import Api, World


def _sign(claims: dict[str, object], secret: str) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


@pytest.fixture
def info_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions at LOG_LEVEL=INFO (the suite runs them at WARNING): every request's
    access line is written."""
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.usefixtures("info_logs")
def test_failing_auth_paths_log_no_password_token_or_key(
    api: Api, world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    wrong = f"Wrong!{uuid.uuid4().hex}"
    created = signup(api)
    assert created.status == 201, created.json()
    email = created.json()["user"]["email"]
    first = created.json()["session"]
    assert api.post("/api/auth/login", json_body={"email": email, "password": wrong}).status == 401
    login = api.post("/api/auth/login", json_body={"email": email, "password": PASSWORD})
    assert login.status == 200, login.json()
    session = login.json()["session"]
    token = session["access_token"]
    malformed = f'{{"email": "{email}", "password": "{PASSWORD}"'.encode()
    assert api.post("/api/auth/login", content=malformed).status == 400
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    forged = _sign(claims, "not-the-secret-" + "x" * 32)
    expired = _sign(claims | {"exp": int(time.time()) - 60}, world.stack.config.keys.jwt_secret)
    for bad in (forged, expired, first["refresh_token"]):
        assert api.get("/api/invoices", token=bad).status == 401
    assert api.post("/api/auth/logout", token=token).status == 204
    assert api.get("/api/invoices", token=token).status == 401  # session ended

    logged = capsys.readouterr().out + "\n".join(r.getMessage() for r in caplog.records)
    assert '"status": 401' in logged  # the refusals were logged: the check reads them
    keys = world.stack.config.keys
    secrets = {
        "password": PASSWORD,
        "wrong password": wrong,
        "access token": token,
        "its signature": token.rsplit(".", 1)[1],
        "first access token": first["access_token"],
        "refresh token": session["refresh_token"],
        "first refresh token": first["refresh_token"],
        "forged token": forged,
        "expired token": expired,
        "JWT secret": keys.jwt_secret,
        "service role key": keys.service_role_key,
    }
    assert [name for name, value in secrets.items() if value in logged] == []
    assert "bearer " not in logged.lower()
