"""Property tests (hypothesis) of credit notes, refunds and client credit against a Decimal
reference model written from the credits migration's head (20261206110200_credit_notes.sql)
and docs/api.md ("Credit notes, refunds and client credit").

Any sequence of payments (the organization refusing or keeping overpayments as credit),
credit notes (an amount, or the whole of what is left), client credit applied to either
of a client's two invoices, and refunds (from a payment, from credit), through the RPCs
the routes call, is accepted or refused exactly as the model says; after every step:

* each invoice: ``balance = total - paid - credited >= 0``, ``paid`` the sum of its
  payments' applied amounts, ``credited`` its credit notes plus the credit applied to it,
  the status the model's (cancelled when credit notes cover the total, paid at zero,
  sent otherwise);
* each payment: applied and refunded parts as the model moved them (a credit note's excess
  taken from the latest payment first);
* the client: ``credit = credit notes' excess + overpayments - refunds - applied >= 0`` (the
  ledger and its running balance), ``outstanding_balance`` the sum of the open balances.

Each example runs in a transaction that is rolled back, as one organization's owner.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg import errors

from devstack.postgres import Database
from tests.db.test_money_properties import Rollback, money, unit

EXAMPLES = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CURRENCIES = ["USD", "JPY", "KWD"]

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture(scope="module")
def owner(database: Database) -> Iterator[tuple[Conn, str, str]]:
    identifier = f"credits-{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        user_id = conn.execute("select tests.create_supabase_user(%s)", (identifier,)).fetchone()
        org = conn.execute("select tests.personal_org(%s)::text", (identifier,)).fetchone()
        assert user_id is not None
        assert org is not None
        yield conn, identifier, str(org[0])
        conn.execute("delete from public.organizations where id = %s", (org[0],))
        conn.execute("delete from auth.users where id = %s", (user_id[0],))


# =============================================================================
# The reference model
# =============================================================================


@dataclass
class Payment:
    id: str
    amount: Decimal
    applied: Decimal
    refunded: Decimal = Decimal(0)


@dataclass
class Invoice:
    id: str
    total: Decimal
    payments: list[Payment] = field(default_factory=list)
    credit_notes: Decimal = Decimal(0)
    applied: Decimal = Decimal(0)
    cancelled: bool = False

    @property
    def paid(self) -> Decimal:
        return sum((p.applied for p in self.payments), Decimal(0))

    @property
    def credited(self) -> Decimal:
        return self.credit_notes + self.applied

    @property
    def balance(self) -> Decimal:
        return self.total - self.paid - self.credited

    @property
    def status(self) -> str:
        if self.cancelled:
            return "cancelled"
        return "paid" if self.balance == 0 else "sent"


@dataclass
class Books:
    currency: str
    overpayment: str
    invoices: list[Invoice]
    credit: Decimal = Decimal(0)

    def fits(self, amount: Decimal) -> bool:
        return amount > 0 and amount == money(amount, self.currency)

    def pay(self, inv: Invoice, amount: Decimal) -> Decimal | None:
        """The applied part, or None when refused."""
        if not self.fits(amount) or inv.status != "sent":
            return None
        if amount <= inv.balance:
            return amount
        if self.overpayment == "credit" and inv.balance > 0:
            self.credit += amount - inv.balance
            return inv.balance
        return None

    def credit_note(self, inv: Invoice, amount: Decimal | None) -> bool:
        if inv.status == "cancelled" or inv.total - inv.credit_notes <= 0:
            return False
        amount = inv.total - inv.credit_notes if amount is None else amount
        if not self.fits(amount) or amount > inv.total - inv.credit_notes:
            return False
        excess = max(Decimal(0), inv.paid + inv.credited + amount - inv.total)
        from_applied = min(excess, inv.applied)
        take = excess - from_applied
        # Latest payment first: the same date and transaction, so by id, descending.
        for p in sorted(inv.payments, key=lambda p: uuid.UUID(p.id), reverse=True):
            part = min(p.applied, take)
            p.applied -= part
            take -= part
        inv.applied -= from_applied
        inv.credit_notes += amount
        self.credit += excess
        if inv.balance == 0 and inv.credit_notes == inv.total:
            inv.cancelled = True
        return True

    def apply(self, inv: Invoice, amount: Decimal) -> bool:
        if inv.status != "sent" or inv.balance <= 0 or not self.fits(amount):
            return False
        if self.credit <= 0 or amount > self.credit or amount > inv.balance:
            return False
        inv.applied += amount
        self.credit -= amount
        return True

    def refund_credit(self, amount: Decimal) -> bool:
        if not self.fits(amount) or amount > self.credit:
            return False
        self.credit -= amount
        return True

    def refund_payment(self, payment: Payment, amount: Decimal) -> bool:
        if not self.fits(amount) or amount > payment.applied:
            return False
        payment.applied -= amount
        payment.refunded += amount
        return True


# =============================================================================
# Strategies
# =============================================================================

OPERATIONS = ["pay", "credit", "whole", "apply", "refund_credit", "refund_payment"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, str, list[Decimal], list[tuple[str, int, Decimal]]]:
    currency = draw(st.sampled_from(CURRENCIES))
    step = unit(currency)
    totals = [draw(st.integers(min_value=1, max_value=5_000)) * step for _ in range(2)]
    top = int(max(totals) / step) + 3
    amounts = st.one_of(
        st.integers(min_value=1, max_value=top).map(lambda n: n * step),
        st.sampled_from(totals),
        st.decimals(min_value=Decimal("0.0001"), max_value=max(totals), places=4),  # too fine
    )
    operations = draw(
        st.lists(
            st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 7), amounts),
            min_size=1,
            max_size=12,
        )
    )
    return currency, draw(st.sampled_from(["refuse", "credit"])), totals, operations


# =============================================================================
# The property
# =============================================================================


def _invoice(conn: Conn, org: str, client: str, total: Decimal) -> str:
    row = conn.execute(
        "select public.create_invoice(%s, %s::jsonb, %s::jsonb) ->> 'id'",
        (
            org,
            json.dumps({"client_id": client, "status": "sent", "tax_rate": "0"}),
            json.dumps([{"description": "work", "quantity": "1", "rate": str(total)}]),
        ),
    ).fetchone()
    assert row is not None
    return str(row[0])


def _check(conn: Conn, books: Books, client: str) -> None:
    for inv in books.invoices:
        row = conn.execute(
            "select status, amount_paid, amount_credited, balance_due, credit_notes_total,"
            " credit_applied from public.invoices where id = %s",
            (inv.id,),
        ).fetchone()
        assert row is not None
        assert row == (
            inv.status,
            inv.paid,
            inv.credited,
            inv.balance,
            inv.credit_notes,
            inv.applied,
        )
        assert inv.balance >= 0
        for p in inv.payments:
            got = conn.execute(
                "select applied_amount, refunded_amount from public.payments where id = %s",
                (p.id,),
            ).fetchone()
            assert got == (p.applied, p.refunded), (p, got)
    row = conn.execute(
        "select coalesce((select balance from public.client_credit_balances"
        "   where client_id = %s), 0),"
        " coalesce((select sum(amount) from public.client_credit_entries where client_id = %s), 0),"
        " (select outstanding_balance from public.clients where id = %s)",
        (client, client, client),
    ).fetchone()
    assert row is not None
    assert row[0] == row[1] == books.credit >= 0
    assert row[2] == sum((i.balance for i in books.invoices if i.status == "sent"), Decimal(0))


def _attempt(conn: Conn, sql: str, params: tuple[Any, ...]) -> Any:
    try:
        with conn.transaction():
            row = conn.execute(sql, params).fetchone()
    except errors.CheckViolation:
        return None
    assert row is not None
    return row[0]


@EXAMPLES
@given(scenario=scenarios())
# Two payments, then a credit note whose excess takes part of the latest one only.
@example(
    scenario=(
        "USD",
        "refuse",
        [Decimal("100.00"), Decimal("100.00")],
        [
            ("pay", 0, Decimal("30.00")),
            ("pay", 0, Decimal("30.00")),
            ("credit", 0, Decimal("50.00")),
            ("refund_payment", 0, Decimal("25.00")),
            ("refund_payment", 1, Decimal("25.00")),
        ],
    )
)
# An overpayment kept as credit, applied to the other invoice, the rest refunded.
@example(
    scenario=(
        "JPY",
        "credit",
        [Decimal("1000"), Decimal("500")],
        [
            ("pay", 0, Decimal("1300")),
            ("apply", 1, Decimal("200")),
            ("whole", 1, Decimal("1")),
            ("refund_credit", 0, Decimal("600")),
            ("refund_credit", 0, Decimal("300")),
        ],
    )
)
def test_any_sequence_of_credits_keeps_the_books(
    owner: tuple[Conn, str, str],
    scenario: tuple[str, str, list[Decimal], list[tuple[str, int, Decimal]]],
) -> None:
    conn, identifier, org = owner
    currency, overpayment, totals, operations = scenario
    try:
        with conn.transaction():
            conn.execute("select tests.authenticate_as(%s)", (identifier,))
            conn.execute(
                "update public.organization_settings set overpayment = %s"
                " where organization_id = %s",
                (overpayment, org),
            )
            client = str(
                conn.execute(
                    "insert into public.clients (organization_id, company_name, currency)"
                    " values (%s, %s, %s) returning id",
                    (org, f"Credit {uuid.uuid4().hex[:6]}", currency),
                ).fetchone()[0]  # type: ignore[index]
            )
            books = Books(
                currency,
                overpayment,
                [Invoice(_invoice(conn, org, client, t), t) for t in totals],
            )
            for operation, index, amount in operations:
                inv = books.invoices[index % 2]
                if operation == "pay":
                    applied = books.pay(inv, amount)
                    got = _attempt(
                        conn,
                        "select public.record_payment(%s, %s, %s) ->> 'id'",
                        (org, inv.id, amount),
                    )
                    assert (got is None) == (applied is None), (operation, amount, inv)
                    if got is not None and applied is not None:
                        inv.payments.append(Payment(str(got), money(amount, currency), applied))
                elif operation in ("credit", "whole"):
                    doc = (
                        {"kind": "whole"}
                        if operation == "whole"
                        else {"kind": "amount", "amount": str(amount)}
                    )
                    ok = books.credit_note(inv, None if operation == "whole" else amount)
                    got = _attempt(
                        conn,
                        "select public.create_credit_note(%s, %s, %s::jsonb) ->> 'id'",
                        (org, inv.id, json.dumps(doc)),
                    )
                    assert (got is not None) == ok, (operation, amount, inv)
                elif operation == "apply":
                    ok = books.apply(inv, amount)
                    got = _attempt(
                        conn,
                        "select public.apply_client_credit(%s, %s, %s, %s) ->> 'applied'",
                        (org, client, inv.id, amount),
                    )
                    assert (got is not None) == ok, (operation, amount, inv, books.credit)
                elif operation == "refund_credit":
                    ok = books.refund_credit(amount)
                    got = _attempt(
                        conn,
                        "select public.record_refund(%s, %s::jsonb) ->> 'id'",
                        (org, json.dumps({"client_id": client, "amount": str(amount)})),
                    )
                    assert (got is not None) == ok, (operation, amount, books.credit)
                else:
                    if not inv.payments:
                        continue
                    payment = inv.payments[index % len(inv.payments)]
                    ok = books.refund_payment(payment, amount)
                    got = _attempt(
                        conn,
                        "select public.record_refund(%s, %s::jsonb) ->> 'id'",
                        (org, json.dumps({"payment_id": payment.id, "amount": str(amount)})),
                    )
                    assert (got is not None) == ok, (operation, amount, payment)
                _check(conn, books, client)
            raise Rollback
    except Rollback:
        pass


# =============================================================================
# Credit notes by lines: the invoices' rounding, and the last one exact
# =============================================================================


def _line_note(
    currency: str,
    lines: list[tuple[Decimal, Decimal]],
    subtotal: Decimal,
    discount: Decimal,
    tax_rate: Decimal,
) -> Decimal:
    """The total of a credit note of ``lines`` (quantity, rate) by the model: each line
    rounded, the discount shared in proportion, the tax on what is left."""
    net = sum((money(q * r, currency) for q, r in lines), Decimal(0))
    share = money(discount * net / subtotal, currency) if discount and subtotal else Decimal(0)
    return net - share + money((net - share) * tax_rate / 100, currency)


@st.composite
def line_scenarios(
    draw: st.DrawFn,
) -> tuple[str, list[tuple[int, Decimal]], Decimal, Decimal, list[list[tuple[int, int]]]]:
    """An invoice (items of whole quantities, rates with cents or more, a tax rate with
    decimals, a discount) and its items' quantities split over credit notes."""
    currency = draw(st.sampled_from(CURRENCIES))
    items = draw(
        st.lists(
            st.tuples(
                st.integers(min_value=1, max_value=5),
                st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=4),
            ),
            min_size=1,
            max_size=4,
        )
    )
    tax_rate = draw(st.decimals(min_value=Decimal(0), max_value=Decimal(25), places=3))
    subtotal = sum((money(q * r, currency) for q, r in items), Decimal(0))
    discount = draw(
        st.one_of(
            st.just(Decimal(0)),
            st.decimals(min_value=Decimal(0), max_value=Decimal("0.5"), places=2).map(
                lambda f: (subtotal * f).quantize(unit(currency))
            ),
        )
    )
    # Every unit of every item goes to one of up to 4 credit notes.
    notes: list[list[tuple[int, int]]] = [[] for _ in range(draw(st.integers(1, 4)))]
    for index, (quantity, _) in enumerate(items):
        for _ in range(quantity):
            notes[draw(st.integers(0, len(notes) - 1))].append((index, 1))
    return currency, items, tax_rate, discount, [n for n in notes if n]


@EXAMPLES
@given(scenario=line_scenarios())
def test_credit_notes_by_lines_round_as_invoices_and_end_exact(
    owner: tuple[Conn, str, str],
    scenario: tuple[str, list[tuple[int, Decimal]], Decimal, Decimal, list[list[tuple[int, int]]]],
) -> None:
    conn, identifier, org = owner
    currency, items, tax_rate, discount, notes = scenario
    try:
        with conn.transaction():
            conn.execute("select tests.authenticate_as(%s)", (identifier,))
            client = conn.execute(
                "insert into public.clients (organization_id, company_name, currency)"
                " values (%s, %s, %s) returning id::text",
                (org, f"Lines {uuid.uuid4().hex[:6]}", currency),
            ).fetchone()
            assert client is not None
            row = conn.execute(
                "select public.create_invoice(%s, %s::jsonb, %s::jsonb)::text",
                (
                    org,
                    json.dumps(
                        {
                            "client_id": client[0],
                            "status": "sent",
                            "tax_rate": str(tax_rate),
                            "discount": str(discount),
                        }
                    ),
                    json.dumps(
                        [
                            {"description": f"item {n}", "quantity": q, "rate": str(r)}
                            for n, (q, r) in enumerate(items)
                        ]
                    ),
                ),
            ).fetchone()
            assert row is not None
            invoice = json.loads(row[0], parse_float=Decimal)
            total = Decimal(str(invoice["total_amount"]))
            subtotal = Decimal(str(invoice["subtotal"]))
            ids = [i["id"] for i in sorted(invoice["items"], key=lambda i: i["position"])]
            credited = Decimal(0)
            if total == 0:  # nothing to credit (an invoice of 0.1 JPY): refused
                lines = [{"invoice_item_id": ids[0], "quantity": 1}]
                assert (
                    _attempt(
                        conn,
                        "select public.create_credit_note(%s, %s, %s::jsonb) ->> 'id'",
                        (org, invoice["id"], json.dumps({"kind": "lines", "lines": lines})),
                    )
                    is None
                )
                raise Rollback
            for number, note in enumerate(notes, start=1):
                counts: dict[int, int] = {}
                for index, quantity in note:
                    counts[index] = counts.get(index, 0) + quantity
                lines = [{"invoice_item_id": ids[i], "quantity": q} for i, q in counts.items()]
                expected = _line_note(
                    currency,
                    [(Decimal(q), items[i][1]) for i, q in counts.items()],
                    subtotal,
                    discount,
                    tax_rate,
                )
                last = number == len(notes)
                got = _attempt(
                    conn,
                    "select public.create_credit_note(%s, %s, %s::jsonb) ->> 'total_amount'",
                    (org, invoice["id"], json.dumps({"kind": "lines", "lines": lines})),
                )
                left = total - credited
                if left == 0 or (not last and not 0 < expected <= left):
                    # Nothing left, lines worth nothing (0.1 JPY), or above what is left.
                    assert got is None
                    raise Rollback
                if last:
                    # The last of every line credits exactly what is left.
                    assert got is not None
                    assert Decimal(got) == left
                else:
                    assert got is not None
                    assert Decimal(got) == expected
                credited += Decimal(got)
            state = conn.execute(
                "select status, credit_notes_total, balance_due from public.invoices where id = %s",
                (invoice["id"],),
            ).fetchone()
            assert state is not None
            assert state[1] == total
            assert state[2] == 0
            assert state[0] == "cancelled"
            raise Rollback
    except Rollback:
        pass
