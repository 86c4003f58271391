"""Every pgTAP file of supabase/tests, run against the real PostgreSQL as pg_prove would."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from devstack import pgtap
from devstack.postgres import SEED_SQL, Database
from tests.db.conftest import seed_loaded


def test_the_files_run_on_a_database_holding_the_seed_as_postgres(database: Database) -> None:
    """As `supabase test db` after `supabase start`: the seed is there, its fixed ids
    taken, and the files run as postgres, which is not a superuser."""
    assert seed_loaded(database.url)
    with psycopg.connect(database.url) as conn:
        row = conn.execute("select rolsuper from pg_roles where rolname = current_user")
        assert row.fetchone() == (False,)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def test_no_file_uses_an_id_the_seed_takes() -> None:
    """The seed's fixed ids (demo user, clients) are taken wherever the seed was loaded;
    a file inserting one stops at a duplicate key there (the files mark their own ids
    with 7e57, "test")."""
    seed_ids = {u.lower() for u in _UUID.findall(SEED_SQL.read_text(encoding="utf-8"))}
    seed_ids.discard("00000000-0000-0000-0000-000000000000")  # auth.users.instance_id, no key
    assert seed_ids
    reused = {
        path.name: sorted(found)
        for path in pgtap.test_files()
        if (found := seed_ids & {u.lower() for u in _UUID.findall(path.read_text())})
    }
    assert reused == {}


@pytest.mark.parametrize("path", pgtap.test_files(), ids=lambda p: p.name)
def test_pgtap_file(database: Database, path: Path) -> None:
    result = pgtap.run_file(database.url, path)
    assert result.ok, result.explain()


def test_tap_parser_reports_failures_and_short_plans() -> None:
    """The runner itself must not let a failing or truncated file pass."""
    path = Path("x.sql")
    assert pgtap.parse_tap(path, 0, "1..2\nok 1 - a\nok 2 - b\n").ok
    failing = pgtap.parse_tap(path, 0, "1..2\nok 1 - a\nnot ok 2 - b\n# Failed test 2\n")
    assert not failing.ok
    assert "Failed test 2" in failing.failures[0]
    assert not pgtap.parse_tap(path, 0, "1..3\nok 1 - a\nok 2 - b\n").ok
    assert not pgtap.parse_tap(path, 3, "1..1\nok 1 - a\n").ok
    assert not pgtap.parse_tap(path, 0, "ok 1 - a\n").ok
    assert pgtap.parse_tap(path, 0, "1..1\nnot ok 1 - later # TODO not yet\n").ok
