"""A late fee racing a payment, made deterministic: one transaction holds the invoice
while the other must wait for it, then commits (supabase/migrations/
20261206110500_reminder_levels.sql, "Status and races").

* the payment first: the reminder job's fee step waits for the invoice's lock, then
  reads the invoice anew and finds it paid: no fee, no line, the invoice stays paid;
* the fee first: a payment of the balance the payer saw waits, then is checked against
  the balance with the fee, accepted, and leaves the fee due (status overdue, never paid
  with money owed nor the fee lost).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal
from uuid import UUID

import psycopg
import pytest

from devstack.postgres import Database
from tests.db.test_concurrency import Tenant, tenant

__all__ = ["tenant"]

SETTINGS = {
    "levels": [{"days": 1, "subject": "Overdue: {invoice_number}", "message": "Please pay."}],
    "lateFee": {"type": "fixed", "amount": 25, "levels": [1]},
}


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _overdue_invoice(database: Database, tenant: Tenant) -> UUID:
    """A sent invoice of 100.00 due three days ago, its client with an email, and the
    organization's reminders: one level on day +1 with a fixed late fee of 25."""
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(
            "update public.clients set email = 'ap@race.example' where id = %s",
            (tenant.client_id,),
        )
        conn.execute(
            "update public.organization_settings set reminder_settings = %s"
            " where organization_id = %s",
            (json.dumps(SETTINGS), tenant.org_id),
        )
        due = _today() - dt.timedelta(days=3)
        row = conn.execute(
            "insert into public.invoices (organization_id, client_id, issue_date, due_date)"
            " values (%s, %s, %s, %s) returning id",
            (tenant.org_id, tenant.client_id, due - dt.timedelta(days=30), due),
        ).fetchone()
        assert row is not None
        invoice_id = row[0]
        conn.execute(
            "insert into public.invoice_items (invoice_id, description, quantity, rate)"
            " values (%s, 'services', 1, 100)",
            (invoice_id,),
        )
        conn.execute("update public.invoices set status = 'sent' where id = %s", (invoice_id,))
    assert isinstance(invoice_id, UUID)
    return invoice_id


def _open_reminders(conn: psycopg.Connection[tuple[object, ...]], tenant: Tenant) -> object:
    conn.execute("select tests.authenticate_as_service_role()")
    row = conn.execute(
        "select public.job_open_reminders(%s, array[%s]::uuid[]) ->> 'late_fees'",
        (_today(), tenant.org_id),
    ).fetchone()
    assert row is not None
    return row[0]


def _pay(conn: psycopg.Connection[tuple[object, ...]], tenant: Tenant, invoice_id: UUID) -> None:
    conn.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
    conn.execute("select public.record_payment(%s, %s, 100.00)", (tenant.org_id, invoice_id))


def _wait_for_lock(database: Database, query_start: str) -> None:
    deadline = time.monotonic() + 10
    with psycopg.connect(database.url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                " and query like %s",
                (query_start + "%",),
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    pytest.fail(f"{query_start} never waited for the invoice's lock")


def _state(database: Database, invoice_id: UUID) -> tuple[object, ...]:
    with psycopg.connect(database.url) as conn:
        row = conn.execute(
            "select i.status, i.amount_paid, i.balance_due,"
            " (select count(*) from public.invoice_late_fees f where f.invoice_id = i.id),"
            " (select count(*) from public.invoice_items it"
            "   where it.invoice_id = i.id and it.description like 'Late fee%%')"
            " from public.invoices i where i.id = %s",
            (invoice_id,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_payment_first_leaves_no_fee(database: Database, tenant: Tenant) -> None:
    invoice_id = _overdue_invoice(database, tenant)
    fees: list[object] = []
    errors: list[BaseException] = []
    with psycopg.connect(database.url) as holder:
        _pay(holder, tenant, invoice_id)  # paid in full, not committed yet

        def job() -> None:
            try:
                with psycopg.connect(database.url) as conn:
                    fees.append(_open_reminders(conn, tenant))
                    conn.commit()
            except BaseException as exc:  # reported below
                errors.append(exc)

        worker = threading.Thread(target=job)
        worker.start()
        _wait_for_lock(database, "select public.job_open_reminders")
        holder.commit()
        worker.join(timeout=30)
    assert not errors, errors
    assert fees == ["0"]
    assert _state(database, invoice_id) == ("paid", Decimal("100.00"), Decimal("0.00"), 0, 0)


def test_a_fee_first_is_paid_on_top_of(database: Database, tenant: Tenant) -> None:
    invoice_id = _overdue_invoice(database, tenant)
    errors: list[BaseException] = []
    with psycopg.connect(database.url) as holder:
        assert _open_reminders(holder, tenant) == "1"  # the fee added, not committed yet

        def payer() -> None:
            try:
                with psycopg.connect(database.url) as conn:
                    _pay(conn, tenant, invoice_id)  # the 100.00 the client was billed
                    conn.commit()
            except BaseException as exc:  # reported below
                errors.append(exc)

        worker = threading.Thread(target=payer)
        worker.start()
        _wait_for_lock(database, "select public.record_payment")
        holder.commit()
        worker.join(timeout=30)
    assert not errors, errors
    assert _state(database, invoice_id) == (
        "sent",  # as it was (mark overdue has not run): open, not paid with the fee owed
        Decimal("100.00"),
        Decimal("25.00"),
        1,
        1,
    )
