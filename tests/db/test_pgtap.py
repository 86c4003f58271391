"""Every pgTAP file of supabase/tests, run against the real PostgreSQL as pg_prove would."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack import pgtap
from devstack.postgres import Database


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
