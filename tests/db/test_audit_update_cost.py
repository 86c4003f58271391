"""The audit trigger's cost grows with an UPDATE's rows, not with their square
(migration 20261206171300_matching_speed.sql; bench/RESULTS.md, "Issue 19: e-invoices in").

``private.record_audit`` pairs a statement's old and new rows on the table's key. Paired by
a condition no join can hash (20261206171000's ``not exists`` over the key columns), an
UPDATE of N rows compared N² pairs: 100 matched invoices cost 0.94 s in the trigger, and the
2,000-row UPDATEs below run for minutes, far past their 20 s statement timeout. So do they
when the trigger's statement was first planned in the session for a one-row UPDATE (a static
statement keeps the transition tables' sizes of its first parse: a nested loop whatever the
join condition, 170200's pairing on id included). Each case also checks what is recorded:
one UPDATE entry per changed row, its old and new values from the same row, record_id the
key when it is one uuid column."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from devstack.postgres import Database

ROWS = 2000
ORG = str(uuid.uuid4())

TABLES = {
    # keyed by id, as most audited tables
    "id": "create table public.audit_cost_t (id uuid primary key default gen_random_uuid(),"
    " organization_id uuid not null, k integer not null, v text)",
    # keyed by one uuid column of another name, as the settings tables
    "uuid_key": "create table public.audit_cost_t (ref uuid primary key default"
    " gen_random_uuid(), organization_id uuid not null, k integer not null, v text)",
    # keyed by two columns
    "composite": "create table public.audit_cost_t (organization_id uuid not null,"
    " k integer not null, v text, primary key (organization_id, k))",
}


@pytest.mark.parametrize("kind", list(TABLES))
def test_an_update_of_many_rows_is_audited_in_linear_time(database: Database, kind: str) -> None:
    with psycopg.connect(database.url) as conn:
        conn.execute(TABLES[kind])
        conn.execute("select private.enable_audit('public.audit_cost_t')")
        conn.execute(
            "insert into public.audit_cost_t (organization_id, k, v)"
            " select %s, k, 'a' || k from generate_series(1, %s) k",
            (ORG, ROWS),
        )
        # One-row UPDATEs first, as a pooled connection meets them: the trigger's plan made
        # for them must not be the one a 2,000-row UPDATE runs.
        for k in range(1, 7):
            conn.execute("update public.audit_cost_t set v = v where k = %s", (k,))
        conn.execute("set local statement_timeout = '20s'")
        started = time.perf_counter()
        conn.execute("update public.audit_cost_t set v = 'b' || k")
        seconds = time.perf_counter() - started
        conn.execute("set local statement_timeout = 0")
        rows = conn.execute(
            "select (a.old_record ->> 'k')::integer, a.old_record ->> 'v',"
            " (a.new_record ->> 'k')::integer, a.new_record ->> 'v', a.record_id::text,"
            " coalesce(t.id_or_ref, '')"
            " from public.audit_log a"
            " left join lateral (select coalesce(a.new_record ->> 'id', a.new_record ->> 'ref')"
            "   as id_or_ref) t on true"
            " where a.table_name = 'public.audit_cost_t' and a.operation = 'UPDATE'"
            " order by 1"
        ).fetchall()
        conn.rollback()
    assert seconds < 10, f"{ROWS} rows updated in {seconds:.1f} s"
    assert len(rows) == ROWS
    for n, (old_k, old_v, new_k, new_v, record_id, key) in enumerate(rows, start=1):
        assert (old_k, old_v, new_k, new_v) == (n, f"a{n}", n, f"b{n}")
        if kind == "composite":
            assert record_id is None
        else:
            assert record_id == key


def test_an_update_that_changes_nothing_is_not_recorded(database: Database) -> None:
    with psycopg.connect(database.url) as conn:
        conn.execute(TABLES["composite"])
        conn.execute("select private.enable_audit('public.audit_cost_t')")
        conn.execute(
            "insert into public.audit_cost_t (organization_id, k, v)"
            " select %s, k, 'a' || k from generate_series(1, 10) k",
            (ORG,),
        )
        conn.execute("update public.audit_cost_t set v = v")
        conn.execute("update public.audit_cost_t set v = 'c' where k = 3")
        found = conn.execute(
            "select old_record ->> 'v', new_record ->> 'v' from public.audit_log"
            " where table_name = 'public.audit_cost_t' and operation = 'UPDATE'"
        ).fetchall()
        conn.rollback()
    assert found == [("a3", "c")]
