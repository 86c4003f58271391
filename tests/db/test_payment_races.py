"""Races made deterministic: one transaction holds a row while another write that must
wait for it starts, then commits; the waiting write's checks must see what the first
committed, not what its own statement snapshot showed.

* a payment and a change of its invoice: the invoice held (as ``delete_invoice`` or
  ``update_invoice`` hold it) while a member records a payment straight through
  PostgREST (a plain insert: RLS lets members insert payments);
* a number given by hand and the counter: an invoice (or a renumbered draft) with the
  counter's next number not yet committed while an invoice without a number is made.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import psycopg
import pytest
from psycopg import errors

from devstack.postgres import Database
from tests.db.test_concurrency import Tenant, sent_invoice, tenant

__all__ = ["tenant"]


def _pay_while_held(
    database: Database, tenant: Tenant, hold: str, params: tuple[object, ...], pay: Decimal
) -> tuple[psycopg.Error | None, object]:
    """Runs ``hold`` in a transaction that keeps the invoice locked, starts a direct
    payment insert that must wait for it, commits ``hold``, and returns the insert's
    error (or None) and what ``hold`` returned."""
    invoice_id = params[1] if len(params) > 1 else params[0]
    outcome: list[psycopg.Error | None] = []
    with psycopg.connect(database.url) as holder:
        holder.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
        held = holder.execute(hold, params).fetchone()

        def insert() -> None:
            with psycopg.connect(database.url) as conn:
                conn.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
                try:
                    conn.execute(
                        "insert into public.payments (invoice_id, amount) values (%s, %s)",
                        (invoice_id, pay),
                    )
                    conn.commit()
                    outcome.append(None)
                except psycopg.Error as exc:
                    conn.rollback()
                    outcome.append(exc)

        worker = threading.Thread(target=insert)
        worker.start()
        # The insert is waiting for the invoice's lock (its statement snapshot was taken
        # before the holder committed).
        deadline = time.monotonic() + 10
        with psycopg.connect(database.url, autocommit=True) as watcher:
            while time.monotonic() < deadline:
                waiting = watcher.execute(
                    "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                    " and query like 'insert into public.payments%%'"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.02)
            else:
                pytest.fail("the payment never waited for the invoice's lock")
        holder.commit()
        worker.join(timeout=30)
    assert outcome, "the insert did not finish"
    return outcome[0], held[0] if held else None


def _state(database: Database, invoice_id: object) -> tuple[object, ...]:
    with database.connect() as conn:
        row = conn.execute(
            "select status, amount_paid,"
            " (select count(*) from public.payments p where p.invoice_id = i.id)"
            " from public.invoices i where i.id = %s",
            (invoice_id,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_payment_racing_a_cancel_is_refused(database: Database, tenant: Tenant) -> None:
    """Cancelled first (no payments then), the payment after it: it must not land on a
    cancelled invoice (a cancelled invoice takes no payments)."""
    invoice_id = sent_invoice(database, tenant, Decimal("100.00"))
    error, held = _pay_while_held(
        database,
        tenant,
        "select public.delete_invoice(%s, %s) ->> 'action'",
        (tenant.org_id, invoice_id),
        Decimal("10.00"),
    )
    assert held == "cancelled"
    assert isinstance(error, errors.CheckViolation), repr(error)
    assert "cancelled" in str(error)
    assert _state(database, invoice_id) == ("cancelled", Decimal("0.00"), 0)


def test_a_payment_racing_a_cancel_through_update_is_refused(
    database: Database, tenant: Tenant
) -> None:
    invoice_id = sent_invoice(database, tenant, Decimal("100.00"))
    error, _ = _pay_while_held(
        database,
        tenant,
        "select public.update_invoice(%s, %s, '{\"status\": \"cancelled\"}') ->> 'status'",
        (tenant.org_id, invoice_id),
        Decimal("10.00"),
    )
    assert isinstance(error, errors.CheckViolation), repr(error)
    assert _state(database, invoice_id) == ("cancelled", Decimal("0.00"), 0)


def test_a_payment_racing_a_lower_total_is_checked_against_it(
    database: Database, tenant: Tenant
) -> None:
    """The items lowered to 30.00 first: a direct payment of 50.00 waiting behind it is
    checked against the new total and refused, never an over-payment."""
    invoice_id = sent_invoice(database, tenant, Decimal("100.00"))
    error, _ = _pay_while_held(
        database,
        tenant,
        "update public.invoice_items set rate = 30 where invoice_id = %s returning invoice_id",
        (invoice_id,),
        Decimal("50.00"),
    )
    assert isinstance(error, errors.CheckViolation), repr(error)
    assert _state(database, invoice_id) == ("sent", Decimal("0.00"), 0)


# =============================================================================
# Numbering: a number given by hand racing the counter
# =============================================================================


def _insert_waiting_for(
    database: Database, tenant: Tenant, hold: str, params: tuple[object, ...]
) -> tuple[psycopg.Error | None, object]:
    """``hold`` (an invoice with a number given by hand) in a transaction left open while
    an invoice without a number is inserted (and must wait), then committed; the insert's
    error or the number it got."""
    outcome: list[tuple[psycopg.Error | None, object]] = []
    with psycopg.connect(database.url) as holder:
        holder.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
        holder.execute(hold, params)

        def insert() -> None:
            with psycopg.connect(database.url) as conn:
                conn.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
                try:
                    row = conn.execute(
                        "insert into public.invoices (organization_id, client_id)"
                        " values (%s, %s) returning invoice_number",
                        (tenant.org_id, tenant.client_id),
                    ).fetchone()
                    conn.commit()
                    outcome.append((None, row[0] if row else None))
                except psycopg.Error as exc:
                    conn.rollback()
                    outcome.append((exc, None))

        worker = threading.Thread(target=insert)
        worker.start()
        deadline = time.monotonic() + 5
        with psycopg.connect(database.url, autocommit=True) as watcher:
            while time.monotonic() < deadline and worker.is_alive():
                waiting = watcher.execute(
                    "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                    " and query like 'insert into public.invoices%%'"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.02)
        holder.commit()
        worker.join(timeout=30)
    assert outcome, "the insert did not finish"
    return outcome[0]


def test_a_number_given_by_hand_racing_the_counter_is_skipped(
    database: Database, tenant: Tenant
) -> None:
    """INV-0001 taken by hand in a transaction still open while an invoice without a
    number is created: the counter's INV-0001 must not collide with it (a 409 "number
    already used" to someone who gave no number) — the new invoice gets INV-0002."""
    error, number = _insert_waiting_for(
        database,
        tenant,
        "insert into public.invoices (organization_id, client_id, invoice_number)"
        " values (%s, %s, 'INV-0001')",
        (tenant.org_id, tenant.client_id),
    )
    assert error is None, repr(error)
    assert number == "INV-0002"


def test_a_draft_renumbered_by_hand_racing_the_counter_is_skipped(
    database: Database, tenant: Tenant
) -> None:
    with psycopg.connect(database.url) as conn:
        conn.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
        draft = conn.execute(
            "insert into public.invoices (organization_id, client_id, invoice_number)"
            " values (%s, %s, 'DRAFT-1') returning id",
            (tenant.org_id, tenant.client_id),
        ).fetchone()
        conn.commit()
    assert draft is not None
    error, number = _insert_waiting_for(
        database,
        tenant,
        "update public.invoices set invoice_number = 'INV-0001' where id = %s",
        (draft[0],),
    )
    assert error is None, repr(error)
    assert number == "INV-0002"
