"""deploy/smoke.sh, the health check deploy.yml runs after each deploy, against the API
Gateway emulator over HTTP: it passes on a working API, signed in or not, and fails on one
that does not answer as the API does."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.api.auth.test_auth import PASSWORD, signup
from tests.api.conftest import Api

SMOKE = Path(__file__).resolve().parents[2] / "deploy" / "smoke.sh"


def smoke(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SMOKE), url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


def test_smoke_passes_on_the_api_without_signing_in(http_api: Api) -> None:
    result = smoke(http_api.url)
    assert result.returncode == 0, result.stderr
    assert "401 missing_token" in result.stdout


@pytest.fixture(scope="module")
def smoke_user(http_api: Api) -> str:
    """A user of an empty organization, as docs/deploy.md asks for the smoke test."""
    reply = signup(http_api)
    assert reply.status == 201, reply.json()
    email: str = reply.json()["user"]["email"]
    return email


def test_smoke_signs_in_when_given_a_user(http_api: Api, smoke_user: str) -> None:
    result = smoke(http_api.url, SMOKE_EMAIL=smoke_user, SMOKE_PASSWORD=PASSWORD)
    assert result.returncode == 0, result.stderr
    assert "signed in, /api/auth/me -> 200" in result.stdout


def test_smoke_fails_on_a_wrong_password(http_api: Api, smoke_user: str) -> None:
    result = smoke(http_api.url, SMOKE_EMAIL=smoke_user, SMOKE_PASSWORD="not the password")
    assert result.returncode == 1
    assert "sign-in failed" in result.stderr


def test_smoke_fails_where_the_api_is_not(http_api: Api) -> None:
    result = smoke(http_api.url + "/not-the-api")
    assert result.returncode == 1
    assert "expected 401" in result.stderr
