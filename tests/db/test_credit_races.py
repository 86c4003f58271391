"""Credit notes, client credit and refunds under real concurrent transactions (one
connection per thread, released together by a barrier; tests/db/test_concurrency.py's
harness): whatever the interleaving, nothing is ever over-credited, over-applied or
over-refunded, and the lock order of the credits migration (invoice, its payments, the
client's credit row, the client) never deadlocks.

After every race the books are checked whole: each invoice's balance is total - paid -
credited and not negative, amount_paid is the sum of its payments' applied amounts, every
payment's applied and refunded parts fit in it, the client's credit balance is the sum of
its ledger and not negative, and the client's outstanding balance is the sum of its open
invoices' balances.
"""

from __future__ import annotations

import random
from decimal import Decimal
from uuid import UUID

import psycopg
from psycopg import errors

from devstack.postgres import Database
from tests.db.test_concurrency import Outcome, Tenant, run_concurrently, sent_invoice, tenant

__all__ = ["tenant"]

CREDIT_NOTE = "select public.create_credit_note(%s, %s, %s::jsonb) ->> 'id'"
APPLY = "select public.apply_client_credit(%s, %s, %s, %s) ->> 'applied'"
REFUND = "select public.record_refund(%s, %s::jsonb) ->> 'id'"
PAY = "select public.record_payment(%s, %s, %s) ->> 'id'"


def _amount(amount: str) -> str:
    return '{"kind": "amount", "amount": "' + amount + '"}'


def _refused(outcome: Outcome) -> bool:
    return isinstance(outcome, errors.CheckViolation | errors.RaiseException)


def _no_deadlock_or_crash(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, psycopg.Error):
            assert _refused(outcome), f"not a rule's refusal: {outcome!r}"


def check_the_books(database: Database, tenant: Tenant) -> None:
    with psycopg.connect(database.url) as conn:
        bad = conn.execute(
            "select i.invoice_number, i.total_amount, i.amount_paid, i.amount_credited,"
            " i.balance_due, i.credit_notes_total, i.credit_applied,"
            " (select coalesce(sum(p.applied_amount), 0) from public.payments p"
            "   where p.invoice_id = i.id),"
            " (select coalesce(sum(c.total_amount), 0) from public.credit_notes c"
            "   where c.invoice_id = i.id)"
            " from public.invoices i where i.organization_id = %s"
            " and not (i.balance_due = i.total_amount - i.amount_paid - i.amount_credited"
            "   and i.balance_due >= 0"
            "   and i.amount_paid = (select coalesce(sum(p.applied_amount), 0)"
            "                        from public.payments p where p.invoice_id = i.id)"
            "   and i.credit_notes_total = (select coalesce(sum(c.total_amount), 0)"
            "                               from public.credit_notes c where c.invoice_id = i.id)"
            "   and i.credit_notes_total <= i.total_amount)",
            (tenant.org_id,),
        ).fetchall()
        assert bad == [], bad
        payments = conn.execute(
            "select count(*) from public.payments where organization_id = %s"
            " and applied_amount + refunded_amount > amount",
            (tenant.org_id,),
        ).fetchone()
        assert payments == (0,)
        ledger = conn.execute(
            "select coalesce((select sum(e.amount) from public.client_credit_entries e"
            "   where e.client_id = %s), 0),"
            " coalesce((select b.balance from public.client_credit_balances b"
            "   where b.client_id = %s), 0),"
            " (select outstanding_balance from public.clients where id = %s),"
            " (select coalesce(sum(balance_due), 0) from public.invoices"
            "   where client_id = %s and status in ('sent', 'overdue'))",
            (tenant.client_id,) * 4,
        ).fetchone()
        assert ledger is not None
        assert ledger[0] == ledger[1] >= 0, ledger
        assert ledger[2] == ledger[3], ledger
        # Conservation: money received = on invoices + refunded from payments + moved to
        # credit (the ledger's credit-note and overpayment entries).
        money = conn.execute(
            "select (select coalesce(sum(amount), 0) from public.payments"
            "   where organization_id = %s),"
            " (select coalesce(sum(applied_amount + refunded_amount), 0) from public.payments"
            "   where organization_id = %s),"
            " (select coalesce(sum(amount), 0) from public.client_credit_entries"
            "   where organization_id = %s and kind = 'overpayment'),"
            " (select coalesce(sum(c.credit_amount), 0) from public.credit_notes c"
            "   where c.organization_id = %s),"
            " (select coalesce(sum(credit_applied), 0) from public.invoices"
            "   where organization_id = %s),"
            " (select coalesce(-sum(amount), 0) from public.client_credit_entries"
            "   where organization_id = %s and kind = 'applied')",
            (tenant.org_id,) * 6,
        ).fetchone()
        assert money is not None
        received, kept, overpaid, released, applied_now, applied_ever = money
        released_from_applications = applied_ever - applied_now
        assert received == kept + overpaid + (released - released_from_applications), money


def _setting(database: Database, tenant: Tenant, overpayment: str) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(
            "update public.organization_settings set overpayment = %s where organization_id = %s",
            (overpayment, tenant.org_id),
        )


def test_concurrent_credit_notes_never_credit_more_than_the_total(
    database: Database, tenant: Tenant
) -> None:
    invoice = sent_invoice(database, tenant, Decimal("100.00"))
    outcomes = run_concurrently(
        database, tenant, [(CREDIT_NOTE, (tenant.org_id, invoice, _amount("15.00")))] * 12
    )
    _no_deadlock_or_crash(outcomes)
    assert sum(not isinstance(o, psycopg.Error) for o in outcomes) == 6  # 6 x 15 <= 100 < 7 x 15
    check_the_books(database, tenant)


def test_concurrent_applications_never_apply_more_than_the_credit(
    database: Database, tenant: Tenant
) -> None:
    paid = sent_invoice(database, tenant, Decimal("50.00"))
    opens = [sent_invoice(database, tenant, Decimal("30.00")) for _ in range(8)]
    with psycopg.connect(database.url) as conn:
        conn.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
        conn.execute(PAY, (tenant.org_id, paid, Decimal("50.00")))
        conn.execute(CREDIT_NOTE, (tenant.org_id, paid, '{"kind": "whole"}'))  # 50.00 of credit
        conn.commit()
    outcomes = run_concurrently(
        database,
        tenant,
        [(APPLY, (tenant.org_id, tenant.client_id, inv, Decimal("10.00"))) for inv in opens],
    )
    _no_deadlock_or_crash(outcomes)
    assert sum(not isinstance(o, psycopg.Error) for o in outcomes) == 5
    check_the_books(database, tenant)


def test_concurrent_refunds_never_refund_more_than_there_is(
    database: Database, tenant: Tenant
) -> None:
    invoice = sent_invoice(database, tenant, Decimal("40.00"))
    with psycopg.connect(database.url) as conn:
        conn.execute("select tests.authenticate_as(%s)", (tenant.identifier,))
        payment = conn.execute(PAY, (tenant.org_id, invoice, Decimal("40.00"))).fetchone()
        conn.commit()
    assert payment is not None
    from_payment = '{"payment_id": "' + str(payment[0]) + '", "amount": "10.00"}'
    outcomes = run_concurrently(database, tenant, [(REFUND, (tenant.org_id, from_payment))] * 7)
    _no_deadlock_or_crash(outcomes)
    assert sum(not isinstance(o, psycopg.Error) for o in outcomes) == 4
    check_the_books(database, tenant)


def test_a_mixed_race_keeps_the_books_and_never_deadlocks(
    database: Database, tenant: Tenant
) -> None:
    """Payments (overpayments kept as credit), credit notes, applications and refunds of
    one client's invoices, all at once, in random order: only rules refuse, never a
    deadlock, and the books balance."""
    _setting(database, tenant, "credit")
    invoices: list[UUID] = [sent_invoice(database, tenant, Decimal("60.00")) for _ in range(4)]
    rng = random.Random(15)  # noqa: S311 - a fixed order of operations, not a secret
    statements: list[tuple[str, tuple[object, ...]]] = []
    for _ in range(24):
        target = rng.choice(invoices)
        other = rng.choice(invoices)
        statements.append(
            rng.choice(
                [
                    (
                        PAY,
                        (tenant.org_id, target, Decimal(rng.choice(["20.00", "45.00", "70.00"]))),
                    ),
                    (CREDIT_NOTE, (tenant.org_id, target, _amount(rng.choice(["10.00", "35.00"])))),
                    (APPLY, (tenant.org_id, tenant.client_id, other, Decimal("5.00"))),
                    (
                        REFUND,
                        (
                            tenant.org_id,
                            '{"client_id": "' + str(tenant.client_id) + '", "amount": "5.00"}',
                        ),
                    ),
                ]
            )
        )
    done: dict[str, int] = {}
    for _ in range(3):
        outcomes = run_concurrently(database, tenant, statements)
        _no_deadlock_or_crash(outcomes)
        check_the_books(database, tenant)
        for (sql, _), outcome in zip(statements, outcomes, strict=True):
            if not isinstance(outcome, psycopg.Error):
                done[sql] = done.get(sql, 0) + 1
        rng.shuffle(statements)
    # Every kind of write won some of the races (the race was a race, not a queue of refusals).
    assert set(done) == {PAY, CREDIT_NOTE, APPLY, REFUND}, done
