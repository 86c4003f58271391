"""The gateway (REST + Auth) the tests talk to: the local one, or a real Supabase named
by the environment (the proof that the local stack is faithful)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devstack.config import StackConfig
from devstack.keys import Keys
from devstack.postgres import Database
from devstack.stack import GatewayServer, serve

# The environment the session started with: the API tests point the functions' settings
# (SUPABASE_URL, ...) at the stack under test, which must not read as "an external stack".
_ENV = dict(os.environ)


@dataclass(frozen=True)
class ExternalStack:
    """A real Supabase (e.g. `supabase start`) named by the environment."""

    url: str
    config: StackConfig


Target = GatewayServer | ExternalStack


def external_stack() -> ExternalStack | None:
    """SUPABASE_URL (+ keys, JWT secret and DATABASE_URL) points the suite at a real
    Supabase instead of the local stack: the proof that the local stack is faithful."""
    url = _ENV.get("SUPABASE_URL")
    if not url:
        return None
    missing = [
        name
        for name in (
            "SUPABASE_ANON_KEY",
            "SUPABASE_SERVICE_ROLE_KEY",
            "SUPABASE_JWT_SECRET",
            "DATABASE_URL",
        )
        if not _ENV.get(name)
    ]
    if missing:
        raise RuntimeError("SUPABASE_URL is set but not " + ", ".join(missing))
    keys = Keys(
        jwt_secret=_ENV["SUPABASE_JWT_SECRET"],
        anon_key=_ENV["SUPABASE_ANON_KEY"],
        service_role_key=_ENV["SUPABASE_SERVICE_ROLE_KEY"],
    )
    config = StackConfig(database_url=_ENV["DATABASE_URL"], public_url=url, keys=keys)
    return ExternalStack(url=url.rstrip("/"), config=config)


def local_only(reason: str) -> None:
    """Skips a test that needs to start a second, differently configured local server."""
    if _ENV.get("SUPABASE_URL"):
        pytest.skip(f"local stack only: {reason}")


@pytest.fixture(scope="session")
def stack(database: Database) -> Iterator[Target]:
    """The gateway (REST + Auth) under test: the local one over the session database, or
    a real Supabase when SUPABASE_URL is set."""
    external = external_stack()
    if external is not None:
        yield external
        return
    server = serve(database.url)
    yield server
    server.stop()
