"""Shared fixtures: one real PostgreSQL 15 per test session, bootstrapped with the
platform SQL and every migration (or the server named by ``DATABASE_URL``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest

from devstack import pgtap
from devstack.postgres import Database, test_database
from tests.stacks import stack

__all__ = ["stack"]

# The fixtures that start the rest of what `make dev` runs: the API Gateway emulator over
# HTTP and moto (S3, SES, SQS). A test using one, or `any_api` by its HTTP side, is marked
# `whole_stack`; `make test-fast` leaves those out (-m "not whole_stack").
WHOLE_STACK_FIXTURES = frozenset({"emulator", "http_api", "aws"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        over_http = callspec is not None and callspec.params.get("any_api") == "http"
        if over_http or WHOLE_STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.whole_stack)


MAIN_LOOP = pytest.StashKey[asyncio.AbstractEventLoop]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The main thread's event loop, made before the test modules are imported and closed
    when the session ends. Mangum's constructor takes the importing thread's loop and makes
    one when there is none: tests/api/portal/test_page_errors_documented.py imports
    functions.portal.pdf (a function of its own, its `handler` built at import) during
    collection, which made a loop nobody closed. The first test to set the thread's loop
    (asyncio.run, a test's own loop) dropped it, and the garbage collector reported
    "unclosed event loop", or its self-pipe's "unclosed socket" (a Unix socket pair),
    during whichever test ran then (four full runs, each in another test)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    session.stash[MAIN_LOOP] = loop


def pytest_sessionfinish(session: pytest.Session) -> None:
    loop = session.stash.get(MAIN_LOOP, None)
    if loop is not None:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    with test_database() as db:
        setup = pgtap.run_file(db.url, pgtap.SETUP_FILE)
        assert setup.ok, setup.explain()
        yield db


@pytest.fixture
def conn(database: Database) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A superuser connection whose work is rolled back after the test."""
    with psycopg.connect(database.url) as connection:
        yield connection
        connection.rollback()
