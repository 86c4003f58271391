"""The local PostgreSQL: ephemeral clusters for tests, the persistent one for
`make dev`, and the migration runner."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from devstack import postgres
from devstack.postgres import ClusterError, Database


def test_ephemeral_cluster_is_fresh_tuned_and_removed_afterwards() -> None:
    with postgres.ephemeral_cluster() as cluster:
        with psycopg.connect(cluster.url) as conn:
            row = conn.execute(
                "select current_setting('fsync'), current_setting('server_version_num')::int"
            ).fetchone()
        assert row is not None
        assert row[0] == "off"
        assert 150000 <= int(str(row[1])) < 160000
        datadir = cluster.datadir
        assert datadir.exists()
    assert not datadir.exists()
    assert not datadir.parent.exists()


def test_persistent_cluster_keeps_its_data_across_restarts() -> None:
    # Not pytest's tmp_path: the postgres system user must be able to reach the directory.
    base = Path(tempfile.mkdtemp(prefix="invoiceflow-devhome-"))
    base.chmod(0o755)
    home = base / "devstack"
    port = postgres.free_port()
    cluster = postgres.persistent_cluster(home, port)
    try:
        applied = postgres.bootstrap(cluster.url, seed=True)
        assert applied[0] == "platform"
        assert applied[-1] == "seed.sql"
        cluster.stop()

        again = postgres.persistent_cluster(home, port)
        assert postgres.bootstrap(again.url, seed=False) == []
        with psycopg.connect(again.url) as conn:
            row = conn.execute(
                "select count(*) from auth.users where email = 'demo@invoiceflow.local'"
            ).fetchone()
        assert row == (1,)
    finally:
        postgres.Cluster(
            datadir=home / "pgdata", port=port, ephemeral=False, sockdir=home / "sock"
        ).stop()
        shutil.rmtree(base, ignore_errors=True)


def test_bootstrap_records_migrations_like_the_supabase_cli(database: Database) -> None:
    with psycopg.connect(database.url) as conn:
        recorded = [
            str(row[0])
            for row in conn.execute(
                "select version from supabase_migrations.schema_migrations order by version"
            )
        ]
    assert recorded == [m.version for m in postgres.migrations()]
    # Nothing is pending, so a second bootstrap applies nothing.
    assert postgres.bootstrap(database.url, seed=False) == []


def test_platform_sql_gives_what_supabase_has(database: Database) -> None:
    with psycopg.connect(database.url) as conn:
        roles = {
            str(r[0]): (bool(r[1]), bool(r[2]))
            for r in conn.execute(
                "select rolname, rolcanlogin, rolbypassrls from pg_roles"
                " where rolname in ('anon','authenticated','service_role','authenticator')"
            )
        }
        assert roles == {
            "anon": (False, False),
            "authenticated": (False, False),
            "service_role": (False, True),
            "authenticator": (True, False),
        }
        publication = conn.execute(
            "select count(*) from pg_publication where pubname = 'supabase_realtime'"
        ).fetchone()
        assert publication == (1,)
        extension = conn.execute(
            "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
            " where e.extname = 'pgcrypto'"
        ).fetchone()
        assert extension == ("extensions",)


def test_auth_uid_is_null_once_the_claims_are_gone(database: Database) -> None:
    """Reference §5.6: on a pooled connection the GUC reads '' after the transaction."""
    with psycopg.connect(database.url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(
                "select set_config('request.jwt.claims',"
                ' \'{"sub":"00000000-0000-4000-8000-000000000001"}\', true)'
            )
            inside = conn.execute("select auth.uid()::text").fetchone()
        after = conn.execute("select auth.uid()").fetchone()
    assert inside == ("00000000-0000-4000-8000-000000000001",)
    assert after == (None,)


def test_a_migration_with_a_bad_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "20260101000000_ok.sql").write_text("select 1;")
    (tmp_path / "add_things.sql").write_text("select 1;")
    with pytest.raises(ClusterError, match=r"add_things\.sql"):
        postgres.migrations(tmp_path)


def _copy_of_the_migrations(into: Path) -> None:
    for migration in postgres.migrations():
        shutil.copy(migration.path, into / migration.path.name)


def test_a_database_that_recorded_other_migrations_is_refused(
    database: Database, tmp_path: Path
) -> None:
    """A development database made by the migrations before they were re-cut: the new
    files are not applied on top of it (as the Supabase CLI refuses a remote history
    the local directory does not have); it is started over."""
    _copy_of_the_migrations(tmp_path)
    first = postgres.migrations()[0]
    (tmp_path / first.path.name).unlink()
    (tmp_path / "20990101000000_never_applied.sql").write_text(
        "create table public.never_applied (id int);"
    )
    with pytest.raises(ClusterError) as refused:
        postgres.bootstrap(database.url, seed=False, migrations_dir=tmp_path)
    message = str(refused.value)
    assert first.version in message
    assert "the migrations were re-cut before the first deployment; run `make dev-reset`" in (
        message
    )
    with psycopg.connect(database.url) as conn:
        row = conn.execute("select to_regclass('public.never_applied')").fetchone()
    assert row == (None,)


def test_a_failing_migration_leaves_nothing_behind(database: Database, tmp_path: Path) -> None:
    _copy_of_the_migrations(tmp_path)
    (tmp_path / "20990101000000_half_done.sql").write_text(
        "create table public.half_done (id int); select 1/0;"
    )
    with pytest.raises(psycopg.errors.DivisionByZero):
        postgres.bootstrap(database.url, seed=False, migrations_dir=tmp_path)
    with psycopg.connect(database.url) as conn:
        leftovers = conn.execute(
            "select to_regclass('public.half_done'),"
            " (select count(*) from supabase_migrations.schema_migrations"
            "  where version = '20990101000000')"
        ).fetchone()
    assert leftovers == (None, 0)
