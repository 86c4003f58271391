"""Supabase's own tools judge the schema: the pinned Supabase CLI (package.json,
``node_modules/.bin/supabase``, installed by ``npm ci`` -- ``make test`` runs it first)
pushes the migrations as a user's deployment does, and its plpgsql linter and its
security and performance advisors run over the result.

The CLI works on a database of its own here: an ephemeral cluster with the platform SQL
and none of the migrations, so ``supabase db push`` applies them all. With
``DATABASE_URL`` (a real Supabase, already migrated by the session) the push test is
skipped and the others look at that database.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from devstack import postgres as pg

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "node_modules" / ".bin" / "supabase"
CLI_VERSION = "2.117.0"

Run = Callable[..., subprocess.CompletedProcess[str]]

# The schemas our migrations create functions in. `supabase db lint` would also lint
# `extensions`, where pgTAP's own PL/pgSQL lives (an extension's code, written for many
# PostgreSQL versions: plpgsql_check finds errors in it, e.g. pg_proc.proisagg), and
# `auth`, which is the platform's.
OUR_SCHEMAS = "public,private"

# Advisor findings kept on purpose, by name, with the measured reason. The CLI has no way
# to exclude a finding (no flag, no config.toml key in 2.117.0), so the test does it.
# See supabase/migrations/20261206100100_platform.sql.
ALLOWED_FINDINGS: dict[tuple[str, str], str] = {
    ("function_search_path_mutable", "private.round_money"): (
        "inlined SQL helper run once per item row; a SET stops the inlining: "
        "0.21 s -> 2.3 s per million calls"
    ),
    ("function_search_path_mutable", "private.currency_minor_unit"): (
        "inlined into round_money and the generated amounts: 0.16 s -> 1.9 s per million calls"
    ),
    ("function_search_path_mutable", "private.invoice_report_status"): (
        "inlined once per invoice of a report (five years of them): "
        "0.10 s -> 1.5 s per million calls"
    ),
    ("function_search_path_mutable", "private.reminder_slots"): (
        "inlined into open_reminder_slots so that a chunk's invoice ids reach the primary "
        "key; with a SET it is a function scan over every open invoice, per chunk"
    ),
    ("function_search_path_mutable", "private.effective_tax_rate"): (
        "inlined twice per line of every document answered (the tax model): with a SET "
        "the items' JSON of a 20-line invoice took 0.5 ms more"
    ),
    ("function_search_path_mutable", "private.effective_vat_category"): (
        "inlined with effective_tax_rate, once per line of every document answered"
    ),
    ("function_search_path_mutable", "private.line_tax_problem"): (
        "inlined into the lines' CHECK (the tax model's rules), run once per line written"
    ),
}


def _cli_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SUPABASE_TELEMETRY_DISABLED="1",
        DO_NOT_TRACK="1",
        SUPABASE_HOME=str(home),
        NO_COLOR="1",
    )
    return env


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Runs the CLI in the repository (its supabase/ directory is the project)."""
    if not CLI.exists():
        if shutil.which("node") is None:
            pytest.skip("Node.js is not installed: the Supabase CLI comes from npm")
        pytest.fail(f"{CLI} is missing: `make test` installs it (npm ci)")
    home = tmp_path_factory.mktemp("supabase-home")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(CLI), *args],
            check=False,
            cwd=ROOT,
            env=_cli_env(home),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"supabase {' '.join(args[:2])} exited {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    version = run("--version").stdout.strip()
    assert version == CLI_VERSION, f"package.json pins {CLI_VERSION}, node_modules has {version}"
    return run


def _cli_url(url: str) -> str:
    """The CLI connects with TLS unless told otherwise; the local server has none."""
    if os.environ.get("DATABASE_URL"):
        return url
    return url + ("&" if "?" in url else "?") + "sslmode=disable"


@pytest.fixture(scope="module")
def platform_only() -> Iterator[str]:
    """A new cluster with the platform SQL and no migration (what `supabase db push`
    meets on a new project)."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("DATABASE_URL names a database the session has migrated already")
    with pg.ephemeral_cluster() as cluster:
        pg.apply_platform(cluster.admin_url)
        # plpgsql_check is not a trusted extension: on Supabase, postgres may create it
        # (supautils' privileged extensions), here only the superuser. `db lint` creates
        # it `if not exists` in its own transaction, rolled back.
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute("create extension if not exists plpgsql_check with schema extensions")
        yield cluster.url


@pytest.fixture(scope="module")
def pushed(cli: Run, platform_only: str) -> str:
    """The platform-only database after `supabase db push`."""
    url = _cli_url(platform_only)
    result = cli("db", "push", "--db-url", url, "--yes")
    versions = [m.version for m in pg.migrations()]
    for version in versions:
        assert f"Applying migration {version}_" in result.stdout + result.stderr
    return url


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest) -> str:
    """The database the linter and the advisors look at."""
    url = os.environ.get("DATABASE_URL")
    if url:
        request.getfixturevalue("database")  # the session applies what is missing
        return url
    return str(request.getfixturevalue("pushed"))


def test_db_push_applies_every_migration_and_records_it(cli: Run, pushed: str) -> None:
    with psycopg.connect(pushed.replace("?sslmode=disable", "")) as conn:
        recorded = [
            str(row[0])
            for row in conn.execute(
                "select version from supabase_migrations.schema_migrations order by version"
            )
        ]
    assert recorded == [m.version for m in pg.migrations()]

    listing = cli("migration", "list", "--db-url", pushed).stdout
    rows = re.findall(r"^\s*`?(\d{14})?`?\s*\|\s*`?(\d{14})?`?\s*\|", listing, re.M)
    assert rows, listing
    assert all(local == remote for local, remote in rows), listing
    assert sorted(local for local, _ in rows) == recorded

    again = cli("db", "push", "--db-url", pushed, "--yes")
    assert "up to date" in (again.stdout + again.stderr).lower()


def _lint(cli: Run, url: str, schemas: str) -> tuple[int, list[dict[str, Any]]]:
    result = cli(
        "db", "lint", "--db-url", url, "--schema", schemas, "--fail-on", "error", check=False
    )
    found: list[dict[str, Any]] = []
    if "[" in result.stdout:
        found = json.loads(result.stdout[result.stdout.index("[") :])
    return result.returncode, found


def test_db_lint_finds_no_error_in_our_functions(cli: Run, target: str) -> None:
    code, found = _lint(cli, _cli_url(target), OUR_SCHEMAS)
    errors = [
        f"{f['function']}: {issue['message']}"
        for f in found
        for issue in f["issues"]
        if issue["level"] == "error"
    ]
    assert errors == []
    assert code == 0


def test_db_lint_catches_an_error(cli: Run, platform_only: str, pushed: str) -> None:
    """The gate is real: a function reading a missing table fails the same command."""
    with psycopg.connect(platform_only, autocommit=True) as conn:
        conn.execute("create schema lint_canary")
        conn.execute(
            "create function lint_canary.broken() returns bigint language plpgsql as"
            " $$ begin return (select count(*) from lint_canary.missing); end $$"
        )
        try:
            code, found = _lint(cli, pushed, "lint_canary")
        finally:
            conn.execute("drop schema lint_canary cascade")
    assert code != 0
    messages = [issue["message"] for f in found for issue in f["issues"]]
    assert messages == ['relation "lint_canary.missing" does not exist']


def _advisors(cli: Run, url: str, kind: str) -> tuple[int, list[dict[str, Any]]]:
    result = cli(
        "db", "advisors", "--db-url", url, "--type", kind, "--level", "info",
        "--fail-on", "warn", check=False,
    )  # fmt: skip
    found: list[dict[str, Any]] = []
    if result.stdout.strip():
        found = json.loads(result.stdout)
    elif result.returncode != 0:
        pytest.fail(f"supabase db advisors exited {result.returncode}: {result.stderr}")
    return result.returncode, found


def _subject(finding: dict[str, Any]) -> str:
    meta = finding.get("metadata") or {}
    return f"{meta.get('schema')}.{meta.get('name')}"


def test_security_advisors_warn_of_nothing_but_the_named_exceptions(cli: Run, target: str) -> None:
    code, found = _advisors(cli, _cli_url(target), "security")
    warnings = {
        (f["name"], _subject(f)): f["detail"] for f in found if f["level"] in ("WARN", "ERROR")
    }
    unexpected = {key: detail for key, detail in warnings.items() if key not in ALLOWED_FINDINGS}
    assert unexpected == {}
    # An exclusion whose finding has gone (the helper was pinned, renamed or removed)
    # is removed too.
    assert set(ALLOWED_FINDINGS) <= set(warnings)
    assert code != 0 if warnings else code == 0


def test_deleting_a_user_finds_its_rows_through_an_index(cli: Run, target: str) -> None:
    """The performance advisors' unindexed foreign keys, for those to auth.users: a
    deleted user's rows are looked up in every such table (ON DELETE SET NULL/CASCADE)."""
    _, found = _advisors(cli, _cli_url(target), "performance")
    unindexed = {
        (_subject(f), (f.get("metadata") or {}).get("fkey_name"))
        for f in found
        if f["name"] == "unindexed_foreign_keys"
    }
    with psycopg.connect(target.replace("?sslmode=disable", "")) as conn:
        to_users = {
            (f"{row[0]}.{row[1]}", str(row[2]))
            for row in conn.execute(
                "select n.nspname, c.relname, k.conname from pg_catalog.pg_constraint k"
                " join pg_catalog.pg_class c on c.oid = k.conrelid"
                " join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
                " where k.contype = 'f' and k.confrelid = 'auth.users'::regclass"
                " and n.nspname in ('public', 'private')"
            )
        }
    assert len(to_users) > 10
    assert sorted(unindexed & to_users) == []


def _policy_names(sql: str) -> list[str]:
    return re.findall(r'\b(?:create|alter)\s+policy\s+"((?:[^"]|"")+)"', sql, re.I) + re.findall(
        r'\brename\s+to\s+"((?:[^"]|"")+)"', sql, re.I
    )


def test_policy_names_fit_in_postgres_identifiers() -> None:
    """PostgreSQL cuts identifiers at 63 bytes with a mere NOTICE: two long policy names
    sharing their first 63 bytes would collide, and the name in pg_policies is not the
    one written in the migration."""
    too_long = {
        f"{migration.path.name}: {name}"
        for migration in pg.migrations()
        for name in _policy_names(migration.sql)
        if len(name.replace('""', '"').encode()) > 63
    }
    assert too_long == set()


def test_policy_name_check_sees_a_long_name() -> None:
    names = _policy_names(
        'create policy "Admins can remove members, owners can remove owners, anyone can leave"'
        " on public.memberships for delete to authenticated using (true);"
    )
    assert [len(n.encode()) for n in names] == [69]


def test_deployments_push_with_the_tested_cli() -> None:
    """The CLI that pushes to staging and production is the one these tests pushed with:
    package.json pins it exactly and the deploy workflow runs it from node_modules."""
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    assert package["devDependencies"]["supabase"] == CLI_VERSION
    workflow = yaml.safe_load(
        (ROOT / ".github" / "workflows" / "deploy-stage.yml").read_text(encoding="utf-8")
    )
    steps = workflow["jobs"]["deploy"]["steps"]
    assert not [s for s in steps if "supabase/setup-cli" in str(s.get("uses", ""))]
    commands = "\n".join(str(s.get("run", "")) for s in steps)
    assert "npx supabase db push" in commands
    assert commands.index("npm ci") < commands.index("npx supabase db push")
    assert not re.search(r"(?<!npx )supabase (db push|link)", commands)
