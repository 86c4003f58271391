"""The restore drill (devstack/restore_drill.py, `make restore-drill`): a generated book of
business dumped, restored into a fresh cluster and found whole; and the comparison finds a
restored copy that lost a row or broke a money invariant."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import make_conninfo

from devstack import restore_drill
from devstack.postgres import ADMIN_USER, bootstrap, ephemeral_cluster


def test_the_drill_restores_every_row_and_the_money_invariants() -> None:
    report = restore_drill.drill()
    assert report.problems == []
    figures = report.figures
    assert figures["invoices"] >= 120
    assert figures["payments"] > 0
    assert figures["client_credit_entries"] > 0
    assert figures["credit_notes"] > 0
    assert figures["dump_bytes"] > 0


def test_the_comparison_finds_a_lost_row_and_a_broken_balance() -> None:
    with ephemeral_cluster() as cluster:
        bootstrap(cluster.url, seed=True)
        admin = make_conninfo(cluster.url, user=ADMIN_USER)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("create database copy template postgres")
        copy = make_conninfo(admin, dbname="copy")
        whole = restore_drill.Report()
        restore_drill.compare(admin, copy, whole)
        assert whole.problems == []
        with psycopg.connect(copy, autocommit=True) as conn:
            # As a faulty restore would: rows without their triggers' consequences.
            conn.execute("set session_replication_role = replica")
            paid = conn.execute(
                "select invoice_id from public.payments where applied_amount > 0 limit 1"
            ).fetchone()
            assert paid is not None
            conn.execute("delete from public.payments where invoice_id = %s", paid)
        broken = restore_drill.Report()
        restore_drill.compare(admin, copy, broken)
        assert any(p.startswith("public.payments:") for p in broken.problems), broken.problems
        assert any("invoice_paid_is_payments" in p for p in broken.problems), broken.problems
