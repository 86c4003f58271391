"""The MFA restrictive policy's cost (migrations 20261206140200_require_mfa.sql and
20261206170300_mfa_policy_cost.sql; figures in bench/RESULTS.md, "Issue 17: MFA" and
"Issue 17: the MFA policy's cost").

For the tables the bench reads, a read as the seed's demo user at aal1 runs ONE helper:
``private.my_organization_ids_at_aal()``, an initPlan executed once, shared by the
permissive read policy and the restrictive ``mfa_required`` (the same expression, which
PostgreSQL applies once); no ``mfa_pending_organizations()`` and no second membership
lookup on a read. A policy written as a per-row call (``private.mfa_satisfied
(organization_id)`` unwrapped, or a correlated sub-select), or a restrictive read policy
that drifts from the permissive one (two initPlans), fails here. The lookups the write
policies make read the partial index of the flagged memberships.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from devstack.postgres import Database
from tests.db.conftest import SEED_USER

CLAIMS = json.dumps({"sub": SEED_USER, "role": "authenticated", "aal": "aal1"})


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found.extend(_nodes(child))
    return found


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select c.relname from pg_policy p join pg_class c on c.oid = p.polrelid"
            " join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'public' and p.polname = 'mfa_required' order by 1"
        ).fetchall()
    return [r[0] for r in rows]


def test_the_policy_is_on_the_tables_the_bench_reads(database: Database) -> None:
    assert {"invoices", "clients", "payments", "memberships"} <= set(_tables(database.url))


@pytest.mark.parametrize("table", ["invoices", "clients", "invoice_items", "payments", "audit_log"])
def test_the_helper_runs_once_per_statement(database: Database, table: str) -> None:
    with psycopg.connect(database.url) as conn:
        conn.execute(
            "select set_config('role', 'authenticated', true),"
            " set_config('request.jwt.claims', %s, true)",
            (CLAIMS,),
        )
        row = conn.execute(
            f"explain (analyze, verbose, format json) select * from public.{table}"
        ).fetchone()
        conn.rollback()
    assert row is not None
    root = row[0][0]["Plan"]
    nodes = _nodes(root)
    text = json.dumps(nodes)
    assert "mfa_pending_organizations" not in text, (
        f"a read of {table} runs the write policies' helper"
    )
    helper = [
        n
        for n in nodes
        if "my_organization_ids" in json.dumps(n.get("Output", [])) and "Plans" not in n
    ]
    assert len(helper) == 1, f"{len(helper)} membership helpers on a read of {table}, not one"
    for node in helper:
        assert "my_organization_ids_at_aal" in json.dumps(node["Output"]), (table, node)
        assert node.get("Parent Relationship") == "InitPlan", (table, node)
        assert node["Actual Loops"] == 1, (table, node)
    # No per-row call of an MFA helper in any filter or index condition.
    for node in nodes:
        for key in ("Filter", "Index Cond", "Recheck Cond", "Join Filter"):
            assert not re.search(r"mfa_\w+\(", str(node.get(key, ""))), (table, key, node[key])
    assert any(n.get("Relation Name") == table for n in nodes), table


def test_the_lookup_reads_a_partial_index(database: Database) -> None:
    with psycopg.connect(database.url) as conn:
        row = conn.execute(
            "select pg_get_indexdef(i.indexrelid) from pg_index i"
            " where i.indrelid = 'public.memberships'::regclass"
            " and pg_get_expr(i.indpred, i.indrelid) = 'mfa_required'"
        ).fetchone()
    assert row is not None
    assert "(user_id) INCLUDE (organization_id)" in row[0]


# =============================================================================
# memberships.mfa_required under concurrency: a membership added while the owner turns
# the requirement on is flagged whichever commits first (the membership's trigger reads
# the setting FOR SHARE; the setting's trigger rewrites the memberships committed
# before it).
# =============================================================================


def _one(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def _blocked(database: Database, pid: int) -> bool:
    with psycopg.connect(database.url, autocommit=True) as conn:
        return bool(
            _one(
                conn, "select wait_event_type = 'Lock' from pg_stat_activity where pid = %s", (pid,)
            )
        )


def _wait_until_blocked(database: Database, pid: int) -> None:
    deadline = time.monotonic() + 30
    while not _blocked(database, pid):
        assert time.monotonic() < deadline, "the second transaction never waited"
        time.sleep(0.02)


@pytest.fixture
def organization(database: Database) -> Iterator[tuple[Any, Any]]:
    """An organization (a user's personal one) and another user, not yet a member."""
    tag = uuid.uuid4().hex[:10]
    with psycopg.connect(database.url, autocommit=True) as conn:
        owner = _one(conn, "select tests.create_supabase_user(%s)", (f"mfa-race-{tag}",))
        newcomer = _one(conn, "select tests.create_supabase_user(%s)", (f"mfa-new-{tag}",))
        org = _one(conn, "select tests.personal_org(%s)", (f"mfa-race-{tag}",))
    yield org, newcomer
    with psycopg.connect(database.url, autocommit=True) as conn, conn.transaction():
        conn.execute("delete from public.organizations where id = %s", (org,))
        conn.execute("delete from auth.users where id = any(%s)", ([owner, newcomer],))


def _flag(database: Database, org: Any, user: Any) -> bool:
    with psycopg.connect(database.url, autocommit=True) as conn:
        return bool(
            _one(
                conn,
                "select mfa_required from public.memberships"
                " where organization_id = %s and user_id = %s",
                (org, user),
            )
        )


TURN_ON = "update public.organization_settings set require_mfa = true where organization_id = %s"
JOIN = "insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'member')"


@pytest.mark.parametrize("first", ["setting", "membership"])
def test_a_membership_added_meanwhile_is_flagged(
    database: Database, organization: tuple[Any, Any], first: str
) -> None:
    org, newcomer = organization
    statements = {"setting": (TURN_ON, (org,)), "membership": (JOIN, (org, newcomer))}
    second = "membership" if first == "setting" else "setting"
    with (
        psycopg.connect(database.url) as holder,
        psycopg.connect(database.url) as waiter,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        holder.execute(*statements[first])  # uncommitted: its locks held

        def then() -> None:
            waiter.execute(*statements[second])
            waiter.commit()

        pending = pool.submit(then)
        _wait_until_blocked(database, waiter.info.backend_pid)
        holder.commit()
        pending.result(timeout=30)
    assert _flag(database, org, newcomer) is True
