"""The MFA restrictive policy's cost stays per statement, not per row (migration
20261206140200_require_mfa.sql; figures in bench/RESULTS.md, "Issue 17: MFA").

For every table that has the policy, a read as the seed's demo user (aal1, the
policy's helper doing its lookup) runs ``private.mfa_pending_organizations()`` as an
initPlan executed once, however many rows the scan checks; and the lookup it does has
the partial index of the organizations that require MFA to read (empty when none does).
A policy written as a per-row call (``private.mfa_satisfied(organization_id)`` unwrapped,
or a correlated sub-select) fails here.
"""

from __future__ import annotations

import json
import re
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
    helper = [
        n
        for n in nodes
        if "mfa_pending_organizations" in json.dumps(n.get("Output", [])) and "Plans" not in n
    ]
    assert helper, f"no node computes the helper on {table}"
    for node in helper:
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
            " where i.indrelid = 'public.organization_settings'::regclass"
            " and pg_get_expr(i.indpred, i.indrelid) = 'require_mfa'"
        ).fetchone()
    assert row is not None
    assert "(organization_id)" in row[0]
