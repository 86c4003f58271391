"""The database tests run where a developer's `supabase test db` runs: on a database
that already holds `supabase/seed.sql` (`supabase start` and `supabase db reset` load
it), connected as `postgres`, which is not a superuser.

Locally, ``database`` here is a second database of the session's cluster: the platform
SQL (as the superuser), every migration and the seed (as postgres), then the pgTAP
helpers. Against a real Supabase (DATABASE_URL) it is the session's database, with the
seed loaded first when it is not there yet. So no test here may assume an empty
database, the seed's ids free, or a superuser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from devstack import pgtap, postgres
from devstack.postgres import SEED_SQL, Database

# The seed's demo user (supabase/seed.sql).
SEED_USER = "d0000000-0000-4000-8000-000000000001"


def seed_loaded(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("select exists (select from auth.users where id = %s)", (SEED_USER,))
        found = row.fetchone()
    return bool(found and found[0])


@pytest.fixture(scope="session")
def database(database: Database) -> Iterator[Database]:  # the session's, overridden here
    if os.environ.get("DATABASE_URL"):
        if not seed_loaded(database.url):
            with psycopg.connect(database.url, autocommit=True) as conn, conn.transaction():
                conn.execute(SEED_SQL.read_text(encoding="utf-8"))
        yield database
        return
    name = f"seeded_{uuid4().hex[:10]}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = make_conninfo(database.url, dbname=name)
    try:
        applied = postgres.bootstrap(url, seed=True)
        assert applied[0] == "platform"
        assert applied[-1] == "seed.sql"
        setup = pgtap.run_file(url, pgtap.SETUP_FILE)
        assert setup.ok, setup.explain()
        yield Database(url=url)
    finally:
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
