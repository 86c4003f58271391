"""Concurrency: invoice numbers, payments and client totals under real concurrent
transactions (one psycopg connection per thread, all released at once by a barrier).

Each test works in an organization of its own, created and committed through the
test helpers as superuser, so it depends on no other test; the organization and its
user are deleted afterwards. Every concurrent transaction acts as the organization's
owner exactly as a PostgREST request would: role ``authenticated`` and the user's JWT
claims, set for the transaction by ``tests.authenticate_as``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import TupleRow

from devstack.postgres import Database

Params = Sequence[object]
Outcome = TupleRow | None | psycopg.Error


@dataclass(frozen=True)
class Tenant:
    """A committed user with the personal organization signup gave them, and a client."""

    identifier: str
    user_id: UUID
    org_id: UUID
    client_id: UUID


def _one(conn: psycopg.Connection[TupleRow], sql: str, params: Params = ()) -> object:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def tenant(database: Database) -> Iterator[Tenant]:
    identifier = f"concurrency-{uuid4().hex[:12]}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        user_id = _one(conn, "select tests.create_supabase_user(%s)", (identifier,))
        org_id = _one(conn, "select tests.personal_org(%s)", (identifier,))
        client_id = _one(
            conn,
            "insert into public.clients (organization_id, company_name)"
            " values (%s, 'Concurrent Client') returning id",
            (org_id,),
        )
    assert isinstance(user_id, UUID)
    assert isinstance(org_id, UUID)
    assert isinstance(client_id, UUID)
    yield Tenant(identifier, user_id, org_id, client_id)
    with psycopg.connect(database.url, autocommit=True) as conn, conn.transaction():
        conn.execute("delete from public.organizations where id = %s", (org_id,))
        conn.execute("delete from auth.users where id = %s", (user_id,))


def run_concurrently(
    database: Database, tenant: Tenant, statements: Sequence[tuple[str, Params]]
) -> list[Outcome]:
    """Runs each statement in its own transaction on its own connection, as the tenant's
    owner, all starting at the same moment; returns each one's first row or its error."""
    barrier = threading.Barrier(len(statements), timeout=60)

    def work(statement: tuple[str, Params]) -> Outcome:
        sql, params = statement
        with psycopg.connect(database.url) as conn:
            conn.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
            barrier.wait()
            try:
                row = conn.execute(sql, params).fetchone()
                conn.commit()
            except psycopg.Error as exc:
                conn.rollback()
                return exc
            return row

    with ThreadPoolExecutor(max_workers=len(statements)) as pool:
        return list(pool.map(work, statements))


def sent_invoice(database: Database, tenant: Tenant, total: Decimal) -> UUID:
    """A committed, sent invoice of `total` (one item, no tax) for the tenant's client."""
    with psycopg.connect(database.url) as conn:
        conn.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
        invoice_id = _one(
            conn,
            "insert into public.invoices (organization_id, client_id) values (%s, %s) returning id",
            (tenant.org_id, tenant.client_id),
        )
        conn.execute(
            "insert into public.invoice_items (invoice_id, description, quantity, rate)"
            " values (%s, 'services', 1, %s)",
            (invoice_id, total),
        )
        conn.execute("update public.invoices set status = 'sent' where id = %s", (invoice_id,))
        conn.commit()
    assert isinstance(invoice_id, UUID)
    return invoice_id


def test_concurrent_invoices_never_share_a_number(database: Database, tenant: Tenant) -> None:
    insert = (
        "insert into public.invoices (organization_id, client_id) values (%s, %s)"
        " returning invoice_number"
    )
    outcomes = run_concurrently(
        database, tenant, [(insert, (tenant.org_id, tenant.client_id))] * 20
    )

    errors_seen = [o for o in outcomes if isinstance(o, psycopg.Error)]
    assert errors_seen == []
    numbers = [str(o[0]) for o in outcomes if isinstance(o, tuple)]
    assert len(numbers) == 20
    assert len(set(numbers)) == 20, f"duplicate invoice numbers: {sorted(numbers)}"
    assert sorted(numbers) == [f"INV-{n:04d}" for n in range(1, 21)]

    with database.connect() as conn:
        counter = _one(
            conn,
            "select next_invoice_number from public.organization_settings"
            " where organization_id = %s",
            (tenant.org_id,),
        )
        stored = _one(
            conn,
            "select count(distinct invoice_number) from public.invoices where organization_id = %s",
            (tenant.org_id,),
        )
    assert counter == 21
    assert stored == 20


def test_concurrent_payments_never_exceed_the_total(database: Database, tenant: Tenant) -> None:
    invoice_id = sent_invoice(database, tenant, Decimal("100.00"))
    pay = "insert into public.payments (invoice_id, amount) values (%s, %s) returning id"

    outcomes = run_concurrently(database, tenant, [(pay, (invoice_id, Decimal("10.00")))] * 30)

    succeeded = [o for o in outcomes if isinstance(o, tuple)]
    failed = [o for o in outcomes if isinstance(o, psycopg.Error)]
    assert len(succeeded) == 10
    assert len(failed) == 20
    for exc in failed:
        # A clear check error, not a deadlock or a serialization failure.
        assert isinstance(exc, errors.CheckViolation), repr(exc)
        assert exc.diag.constraint_name == "invoices_amount_paid_not_above_total"
        assert "more than its total of 100.00 USD" in str(exc)

    with database.connect() as conn:
        row = conn.execute(
            "select i.amount_paid, i.balance_due, i.status,"
            "       (select sum(p.amount) from public.payments p where p.invoice_id = i.id),"
            "       (select count(*) from public.payments p where p.invoice_id = i.id)"
            " from public.invoices i where i.id = %s",
            (invoice_id,),
        ).fetchone()
        client = conn.execute(
            "select total_billed, outstanding_balance from public.clients where id = %s",
            (tenant.client_id,),
        ).fetchone()
        activities = _one(
            conn,
            "select count(*) from public.client_activities"
            " where client_id = %s and type = 'payment'",
            (tenant.client_id,),
        )
    assert row == (Decimal("100.00"), Decimal("0.00"), "paid", Decimal("100.00"), 10)
    assert client == (Decimal("100.00"), Decimal("0.00"))
    assert activities == 10


def test_concurrent_payments_on_one_clients_invoices_keep_its_totals_right(
    database: Database, tenant: Tenant
) -> None:
    invoices = [sent_invoice(database, tenant, Decimal("100.00")) for _ in range(10)]
    pay = "insert into public.payments (invoice_id, amount) values (%s, %s) returning id"

    # 30 payments of 20.00, three per invoice, all at once.
    outcomes = run_concurrently(
        database, tenant, [(pay, (invoice, Decimal("20.00"))) for invoice in invoices * 3]
    )
    assert [o for o in outcomes if not isinstance(o, tuple)] == []
    first_ids = [o[0] for o in outcomes[:10] if isinstance(o, tuple)]

    def totals() -> tuple[object, ...]:
        with database.connect() as conn:
            row = conn.execute(
                "select c.total_billed, c.outstanding_balance,"
                "       (select sum(i.balance_due) from public.invoices i"
                "        where i.client_id = c.id and i.status in ('sent', 'overdue'))"
                " from public.clients c where c.id = %s",
                (tenant.client_id,),
            ).fetchone()
        assert row is not None
        return row

    assert totals() == (Decimal("1000.00"), Decimal("400.00"), Decimal("400.00"))

    # Then, at once: one payment of each invoice deleted, and a payment of 40.00 each
    # (each invoice: 20 + 20 + 40 = 80 paid, 20 due).
    delete = "delete from public.payments where id = %s returning id"
    outcomes = run_concurrently(
        database,
        tenant,
        [(delete, (payment,)) for payment in first_ids]
        + [(pay, (invoice, Decimal("40.00"))) for invoice in invoices],
    )
    assert [o for o in outcomes if not isinstance(o, tuple)] == []
    assert totals() == (Decimal("1000.00"), Decimal("200.00"), Decimal("200.00"))

    # Finally every invoice paid off at once: nothing outstanding, all paid.
    outcomes = run_concurrently(
        database, tenant, [(pay, (invoice, Decimal("20.00"))) for invoice in invoices]
    )
    assert [o for o in outcomes if not isinstance(o, tuple)] == []
    assert totals() == (Decimal("1000.00"), Decimal("0.00"), None)
    with database.connect() as conn:
        statuses = conn.execute(
            "select status, count(*) from public.invoices where client_id = %s group by status",
            (tenant.client_id,),
        ).fetchall()
    assert statuses == [("paid", 10)]
