"""Shared fixtures: one real PostgreSQL 15 per test session, bootstrapped with the
platform SQL and every migration (or the server named by ``DATABASE_URL``)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from devstack import pgtap
from devstack.postgres import Database, test_database
from tests.stacks import stack

__all__ = ["stack"]


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
