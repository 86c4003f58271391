"""The realtime schema of the local platform (devstack/sql/platform.sql) as Supabase has
it, for what the local stack does beyond Supabase's own SQL: supautils' policy_grants
(postgres writes policies on realtime.messages, and nothing else there), the day
partitions bootstrap makes, and a development database made before the realtime schema
existed, which bootstrap brings up to date without seeding it again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo

from devstack import postgres
from devstack.postgres import Database, admin_url
from tests.stacks import local_only


@pytest.fixture
def fresh(database: Database) -> Iterator[str]:
    """A new database of the session's cluster with the platform, migrations and seed."""
    local_only("makes databases as the local superuser")
    name = f"rt_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = make_conninfo(database.url, dbname=name)
    try:
        postgres.bootstrap(url, seed=True)
        yield url
    finally:
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def test_postgres_writes_policies_on_realtime_messages_and_nothing_else(fresh: str) -> None:
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute(
            "create policy probe on realtime.messages for select to authenticated using (false)"
        )
        conn.execute("alter policy probe on realtime.messages using (true)")
        conn.execute("drop policy probe on realtime.messages")
        member = conn.execute(
            "select pg_has_role('postgres', 'supabase_realtime_admin', 'member')"
        ).fetchone()
        assert member == (False,)  # the policy statement's grant was taken back
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("alter table realtime.messages add column extra text")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("create table realtime.extra (id int)")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("alter table realtime.messages disable row level security")


def test_a_failed_policy_statement_leaves_postgres_no_membership(fresh: str) -> None:
    with psycopg.connect(fresh, autocommit=True) as conn:
        with pytest.raises(errors.UndefinedObject):
            conn.execute("drop policy nobody on realtime.messages")
        member = conn.execute(
            "select pg_has_role('postgres', 'supabase_realtime_admin', 'member')"
        ).fetchone()
        assert member == (False,)


def test_bootstrap_makes_the_day_partitions_around_today(fresh: str) -> None:
    with psycopg.connect(admin_url(fresh), autocommit=True) as conn:
        conn.execute("drop table realtime.messages_" + _today(conn))
    postgres.bootstrap(fresh, seed=False)
    with psycopg.connect(fresh, autocommit=True) as conn:
        days = conn.execute(
            "select count(*) from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " where i.inhparent = 'realtime.messages'::regclass"
            " and pg_get_userbyid(c.relowner) = 'supabase_realtime_admin'"
            " and c.relname = any(array(select 'messages_' || to_char(d, 'YYYY_MM_DD')"
            " from generate_series((now() at time zone 'utc')::date - 1,"
            " (now() at time zone 'utc')::date + 3, interval '1 day') d))"
        ).fetchone()
        assert days == (5,)
        conn.execute("select realtime.send('{}', 'probe', 'probe-topic')")
        stored = conn.execute(
            "select count(*) from realtime.messages where topic = 'probe-topic'"
        ).fetchone()
        assert stored == (1,)


def test_a_database_made_before_the_realtime_schema_is_brought_up_to_date(fresh: str) -> None:
    """As a development database of before issue 18 (its platform without the realtime
    schema, its migrations recorded up to then): bootstrap applies the platform SQL
    again, then the realtime migration, and keeps the data (no second seed)."""
    with psycopg.connect(admin_url(fresh), autocommit=True) as conn:
        conn.execute("drop event trigger supautils_policy_grants_begin")
        conn.execute("drop event trigger supautils_policy_grants_end")
        conn.execute("drop schema _supautils cascade")
        conn.execute("drop schema realtime cascade")
        conn.execute("delete from supabase_migrations.schema_migrations where name = 'realtime'")
        conn.execute(
            "alter table public.invoices replica identity default;"
            " drop function private.broadcast_import_progress() cascade;"
            " drop function private.broadcast_match_results() cascade;"
            " drop function private.broadcast_exception_changes() cascade;"
            " drop function private.signal_dashboard_changed() cascade;"
        )
        clients = conn.execute("select count(*) from public.clients").fetchone()
    applied = postgres.bootstrap(fresh, seed=False)
    assert applied[0] == "platform (updated)"
    assert "20261206120100_realtime.sql" in applied
    assert "seed.sql" not in applied
    with psycopg.connect(fresh, autocommit=True) as conn:
        assert conn.execute("select count(*) from public.clients").fetchone() == clients
        policies = conn.execute(
            "select count(*) from pg_policies where schemaname = 'realtime'"
        ).fetchone()
        assert policies == (2,)


def _today(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute("select to_char((now() at time zone 'utc')::date, 'YYYY_MM_DD')").fetchone()
    assert row is not None
    return str(row[0])
