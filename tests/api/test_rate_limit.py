"""The per-user rate limit: counted in PostgreSQL (so every Lambda instance shares it),
answered with 429 and Retry-After, and per user (one caller's burst does not limit
another)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shared.settings import get_settings
from tests.api.conftest import Api, World


@pytest.fixture
def limit_of_three(api_env: None) -> Iterator[None]:
    os.environ["RATE_LIMIT_PER_WINDOW"] = "3"
    os.environ["RATE_LIMIT_WINDOW_SECONDS"] = "3600"
    get_settings.cache_clear()
    yield
    os.environ["RATE_LIMIT_PER_WINDOW"] = "0"
    os.environ.pop("RATE_LIMIT_WINDOW_SECONDS", None)
    get_settings.cache_clear()


@pytest.mark.usefixtures("limit_of_three")
def test_fourth_request_in_the_window_is_429(api: Api, http_api: Api, world: World) -> None:
    hasty = world.add_person("hasty")
    calm = world.add_person("calm")
    # Two ways in (the in-process handler and HTTP through the emulator) share one count.
    assert api.get("/api/auth/me", as_="hasty").status == 200
    assert http_api.get("/api/auth/me", as_="hasty").status == 200
    assert api.get("/api/auth/me", as_="hasty").status == 200
    limited = api.get("/api/auth/me", as_="hasty")
    assert limited.status == 429
    assert limited.error["code"] == "rate_limited"
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 3600
    assert limited.error["details"] == {"retry_after": retry_after, "limit": 3}
    # Another user is not affected.
    assert api.get("/api/auth/me", as_="calm").status == 200
    hits = world.sql(
        "select user_id::text, hits from private.rate_limit_windows where user_id in (%s, %s)"
        " order by hits desc",
        hasty.id,
        calm.id,
    )
    assert hits == [(hasty.id, 4), (calm.id, 1)]
