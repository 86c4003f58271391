"""The platform's roles and settings are a Supabase database's (supabase/postgres'
migrations/db: init-scripts/00000000000000-initial-schema.sql, 00000000000003-post-
setup.sql; migrations 10000000000000_demote-postgres.sql, 20230201083204_grant_auth_roles_
to_postgres.sql, 20230529180330_alter_api_roles_for_inherit.sql, 20250421084701_revoke_
admin_roles_from_postgres.sql, the safeupdate ones). Everything here holds on a real
Supabase too (DATABASE_URL), where the session's connection is the same `postgres`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors

from devstack import postgres
from devstack.postgres import Database


def _rows(database: Database, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.url) as conn:
        return conn.execute(query).fetchall()


def test_the_session_is_postgres_and_postgres_is_not_a_superuser(database: Database) -> None:
    rows = _rows(
        database,
        "select current_user, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,"
        " rolreplication, rolcanlogin from pg_roles where rolname = current_user",
    )
    assert rows == [("postgres", False, True, True, True, True, True)]


def test_postgres_is_a_member_of_the_api_roles_not_of_the_auth_admin(database: Database) -> None:
    member = dict(
        _rows(
            database,
            "select r, pg_has_role('postgres', r, 'member') from unnest(array['anon',"
            " 'authenticated', 'service_role', 'supabase_auth_admin']) r",
        )
    )
    assert member == {
        "anon": True,
        "authenticated": True,
        "service_role": True,
        "supabase_auth_admin": False,
    }


def test_the_api_roles_inherit_and_authenticator_does_not(database: Database) -> None:
    rows = dict(
        _rows(
            database,
            "select rolname, (rolinherit, rolcanlogin, rolbypassrls)::text from pg_roles"
            " where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')",
        )
    )
    assert rows == {
        "anon": "(t,f,f)",
        "authenticated": "(t,f,f)",
        "service_role": "(t,f,t)",
        "authenticator": "(f,t,f)",
    }


def test_a_superuser_exists_and_it_is_not_postgres(database: Database) -> None:
    supers = [
        str(name) for (name,) in _rows(database, "select rolname from pg_roles where rolsuper")
    ]
    assert supers
    assert "postgres" not in supers
    if not os.environ.get("DATABASE_URL"):
        assert supers == ["supabase_admin"]  # initdb's, as on Supabase


def test_search_path_is_set_per_role_not_for_the_database(database: Database) -> None:
    per_database = _rows(
        database,
        "select setconfig from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase"
        " where d.datname = current_database() and s.setrole = 0",
    )
    assert not any("search_path=" in str(config) for (config,) in per_database)
    (path,) = _rows(
        database,
        "select setting from pg_db_role_setting s, unnest(s.setconfig) setting"
        " where s.setrole = 'postgres'::regrole and s.setdatabase = 0"
        " and setting like 'search_path=%'",
    )
    assert "public" in str(path[0])
    assert "extensions" in str(path[0])
    assert _rows(database, "select current_schemas(false)")[0][0][:2] == ["public", "extensions"]


def test_the_data_api_preloads_safeupdate_and_postgres_has_it_off(database: Database) -> None:
    settings = dict(
        _rows(
            database,
            "select r.rolname, s.setconfig from pg_db_role_setting s"
            " join pg_roles r on r.oid = s.setrole"
            " where s.setdatabase = 0 and r.rolname in ('authenticator', 'postgres')",
        )
    )
    preload = [
        str(s) for s in settings["authenticator"] if str(s).startswith("session_preload_libraries=")
    ]
    assert len(preload) == 1
    assert "safeupdate" in preload[0]
    with psycopg.connect(database.url) as conn:
        # postgres (migrations, seed, the tests' own SQL) may update every row.
        assert conn.execute("show safeupdate.enabled").fetchone() in {("off",), ("0",)}


def test_the_database_and_what_the_migrations_made_belong_to_postgres(database: Database) -> None:
    assert _rows(
        database,
        "select pg_get_userbyid(datdba) from pg_database where datname = current_database()",
    ) == [("postgres",)]
    others = _rows(
        database,
        "select n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner) from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname in ('public', 'private', 'supabase_migrations')"
        " and pg_get_userbyid(c.relowner) <> 'postgres'"
        " union all"
        " select p.oid::regprocedure::text, pg_get_userbyid(p.proowner) from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname in ('public', 'private') and pg_get_userbyid(p.proowner) <> 'postgres'",
    )
    assert others == []


def test_a_migration_that_needs_a_superuser_fails_as_on_supabase(
    database: Database, tmp_path: Path
) -> None:
    """Writing a server file needs a superuser (or pg_write_server_files, which Supabase's
    postgres lacks): the migration fails whole and is not recorded."""
    for migration in postgres.migrations():
        shutil.copy(migration.path, tmp_path / migration.path.name)
    (tmp_path / "29990101000000_needs_a_superuser.sql").write_text(
        "create table public.needs_a_superuser (id int);\n"
        "copy (select 1) to '/tmp/invoiceflow-needs-a-superuser';\n"
    )
    with pytest.raises(errors.InsufficientPrivilege, match="pg_write_server_files"):
        postgres.bootstrap(database.url, seed=False, migrations_dir=tmp_path)
    assert _rows(database, "select to_regclass('public.needs_a_superuser')") == [(None,)]
    assert _rows(
        database,
        "select count(*) from supabase_migrations.schema_migrations"
        " where version = '29990101000000'",
    ) == [(0,)]


# Every statement of every PL/pgSQL function in public and private, analysed as the API's
# sessions analyse them (safeupdate on), by plpgsql_check: trigger functions once per
# trigger, with its transition tables. A statement that cannot be analysed in one trigger's
# setting (a branch for another table) is in another's.
_PLPGSQL_REFUSED = """
select p.oid::regprocedure::text || ': ' || r.message
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_language l on l.oid = p.prolang and l.lanname = 'plpgsql'
cross join lateral (
  select t.tgrelid, t.tgoldtable, t.tgnewtable from pg_trigger t where t.tgfoid = p.oid
  union all
  select 0, null, null where not exists (select from pg_trigger t where t.tgfoid = p.oid)
) trig
cross join lateral extensions.plpgsql_check_function_tb(
  p.oid, trig.tgrelid, fatal_errors => false,
  oldtable => trig.tgoldtable, newtable => trig.tgnewtable) r
where n.nspname in ('public', 'private') and r.sqlstate = '21000'
group by 1 order by 1
"""

_SQL_FUNCTIONS = """
select p.oid, p.oid::regprocedure::text from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_language l on l.oid = p.prolang and l.lanname = 'sql'
where n.nspname in ('public', 'private') order by 2
"""


def _refused_under_safeupdate(conn: psycopg.Connection[tuple[Any, ...]]) -> list[str]:
    """The functions with an UPDATE or DELETE that safeupdate refuses (in the caller's
    transaction, safeupdate loaded and on)."""
    refused = [str(row[0]) for row in conn.execute(_PLPGSQL_REFUSED)]
    for oid, name in conn.execute(_SQL_FUNCTIONS).fetchall():
        try:
            with conn.transaction():
                conn.execute("select fmgr_sql_validator(%s)", (oid,))
        except errors.CardinalityViolation as exc:
            refused.append(f"{name}: {exc.diag.message_primary}")
    return refused


def test_no_function_updates_or_deletes_without_a_where_clause(database: Database) -> None:
    """Supabase's Data API refuses UPDATE and DELETE without WHERE (pg-safeupdate) in the
    functions a request calls too; the API tests reach most of ours, this reaches them
    all. The check is shown to catch one of each kind first."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("needs a superuser: switching safeupdate on, creating plpgsql_check")
    with psycopg.connect(postgres.admin_url(database.url)) as conn:
        conn.execute("create extension if not exists plpgsql_check with schema extensions")
        conn.execute(
            "create function public.unqualified_update() returns void language plpgsql"
            " as $$ begin update public.clients set notes = notes; end $$"
        )
        conn.execute(
            "create function private.unqualified_delete() returns void language sql"
            " as $$ delete from public.payments $$"
        )
        conn.execute("load 'safeupdate'")
        conn.execute("set local safeupdate.enabled = on")
        assert sorted(_refused_under_safeupdate(conn)) == [
            "private.unqualified_delete(): DELETE requires a WHERE clause",
            "unqualified_update(): UPDATE requires a WHERE clause",
        ]
        conn.rollback()
        conn.execute("create extension if not exists plpgsql_check with schema extensions")
        conn.execute("load 'safeupdate'")
        conn.execute("set local safeupdate.enabled = on")
        assert _refused_under_safeupdate(conn) == []
        conn.rollback()
