"""The client page's rate windows off for its tests (every request of a session comes
from one address); test_portal.py's rate-limit tests set their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared import portal


@pytest.fixture(autouse=True)
def _no_portal_windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PORTAL_TOKEN_LIMIT", "0")
    monkeypatch.setenv("PORTAL_ADDRESS_LIMIT", "0")
    portal.config.cache_clear()
    yield
    portal.config.cache_clear()
