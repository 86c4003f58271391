"""The browser tests run against the API tests' stack (tests/api/conftest.py) and the
Stripe stand-in (tests/api/stripe/conftest.py): their fixtures, by name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared import portal
from tests.api.conftest import (  # noqa: F401  (fixtures)
    api_env,
    aws,
    emulator,
    function_host,
    http_api,
    world,
)
from tests.api.stripe.conftest import standin  # noqa: F401  (fixture)
from tests.browser.chromium import executable

if executable() is None:  # devstack/install-system-deps.sh installs it
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


@pytest.fixture(autouse=True)
def _no_portal_windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The client page's rate windows off (every request comes from one address)."""
    monkeypatch.setenv("PORTAL_TOKEN_LIMIT", "0")
    monkeypatch.setenv("PORTAL_ADDRESS_LIMIT", "0")
    portal.config.cache_clear()
    yield
    portal.config.cache_clear()
