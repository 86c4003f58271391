"""Property tests (hypothesis) of the money rules, the database's against a Decimal
reference model written from docs/api.md ("Invoices", "Payments", "Money"):

* invoice totals, through ``public.create_invoice`` (what POST /api/invoices calls):
  ``amount = round_half_up(quantity x rate)`` at the currency's minor unit,
  ``subtotal = Σ amount``, the discount at most the subtotal and with no more decimals
  than the currency, ``tax = round_half_up((subtotal - discount) x rate / 100)``,
  ``total = subtotal - discount + tax`` — or the same refusal the model predicts;
* payments, through ``record_payment`` / ``update_payment`` / ``delete_payment``, any
  sequence of them: ``amount_paid`` is the sum of the payments kept, never above the
  total, ``balance = total - paid``, paid exactly when the balance is 0 (and back to sent
  when it is not), every refusal predicted and nothing of a refused one written, the
  client's outstanding balance the sum of its open balances;
* formatting (shared.formatting) agrees with SQL's rounding and reads back: the text of
  ``format_amount`` parsed is ``private.round_money`` of the amount.

Each example runs in a transaction that is rolled back, as one organization's owner
(role authenticated, RLS on). Fast by design (a few hundred examples, a few seconds).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg import errors

from devstack.postgres import Database
from shared.formatting import format_amount, format_money, minor_unit

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CURRENCIES = ["USD", "EUR", "JPY", "KWD", "BHD", "CLP", "GBP"]

Conn = psycopg.Connection[tuple[Any, ...]]


# =============================================================================
# The reference model
# =============================================================================


def unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def money(value: Decimal, currency: str) -> Decimal:
    return value.quantize(unit(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Totals:
    amounts: list[Decimal]
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def invoice_totals(
    currency: str, items: list[tuple[Decimal, Decimal]], tax_rate: Decimal, discount: Decimal
) -> Totals | str:
    """The totals, or why the invoice is refused."""
    amounts = [money(q * r, currency) for q, r in items]
    subtotal = sum(amounts, Decimal(0))
    if subtotal >= Decimal("1e12"):
        return "subtotal too large"
    if discount != money(discount, currency):
        return "discount has more decimals than the currency"
    if discount > subtotal:
        return "discount above the subtotal"
    tax = money((subtotal - discount) * tax_rate / 100, currency)
    return Totals(amounts, subtotal, tax, subtotal - discount + tax)


# =============================================================================
# Fixtures
# =============================================================================


@pytest.fixture(scope="module")
def owner(database: Database) -> Iterator[tuple[Conn, str, str]]:
    """A committed user with their personal organization, and a connection."""
    identifier = f"money-{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        user_id = conn.execute("select tests.create_supabase_user(%s)", (identifier,)).fetchone()
        org = conn.execute("select tests.personal_org(%s)::text", (identifier,)).fetchone()
        assert user_id is not None
        assert org is not None
        yield conn, identifier, str(org[0])
        conn.execute("delete from public.organizations where id = %s", (org[0],))
        conn.execute("delete from auth.users where id = %s", (user_id[0],))


class Rollback(Exception):
    """Ends an example's transaction."""


def _as_owner(conn: Conn, identifier: str) -> None:
    conn.execute("select tests.authenticate_as(%s)", (identifier,))


def _client(conn: Conn, org: str, currency: str) -> str:
    row = conn.execute(
        "insert into public.clients (organization_id, company_name, currency)"
        " values (%s, %s, %s) returning id::text",
        (org, f"Property {uuid.uuid4().hex[:6]}", currency),
    ).fetchone()
    assert row is not None
    return str(row[0])


def _create(conn: Conn, org: str, invoice: dict[str, Any], items: list[dict[str, Any]]) -> Any:
    row = conn.execute(
        "select public.create_invoice(%s, %s::jsonb, %s::jsonb)::text",
        (org, json.dumps(invoice), json.dumps(items)),
    ).fetchone()
    assert row is not None
    return json.loads(row[0], parse_float=Decimal)  # the amounts' scale kept


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


# =============================================================================
# Strategies
# =============================================================================

quantities = st.one_of(
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(100_000), places=4),
    st.sampled_from([Decimal(1), Decimal(3), Decimal("0.5"), Decimal("1.5")]),
)
rates = st.one_of(
    st.decimals(min_value=Decimal(0), max_value=Decimal(1_000), places=4),
    st.decimals(min_value=Decimal(0), max_value=Decimal(999_999_999), places=4),
    # halves at every minor unit: 0.5, 0.05, 0.005, 0.0005
    st.sampled_from([Decimal("0.5"), Decimal("0.05"), Decimal("0.005"), Decimal("0.0005")]),
)
items_strategy = st.lists(st.tuples(quantities, rates), min_size=1, max_size=6)
tax_rates = st.one_of(
    st.just(Decimal(0)),
    st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=3),
)


@st.composite
def invoices(draw: st.DrawFn) -> tuple[str, list[tuple[Decimal, Decimal]], Decimal, Decimal]:
    currency = draw(st.sampled_from(CURRENCIES))
    items = draw(items_strategy)
    tax_rate = draw(tax_rates)
    subtotal = sum((money(q * r, currency) for q, r in items), Decimal(0))
    discount = draw(
        st.one_of(
            st.just(Decimal(0)),
            # a share of the subtotal at the currency's unit, sometimes above it
            st.decimals(min_value=Decimal(0), max_value=Decimal("1.05"), places=3).map(
                lambda f: (subtotal * f).quantize(unit(currency))
            ),
            st.just(subtotal),
            st.just(subtotal + unit(currency)),
            # more decimals than the currency has
            st.decimals(min_value=Decimal(0), max_value=Decimal(50), places=4),
        )
    )
    return currency, items, tax_rate, discount


# =============================================================================
# Invoice totals
# =============================================================================


@EXAMPLES
@given(invoice=invoices())
# docs/api.md's own: 3 x 33.335 = 100.01 (half up, not to even); in JPY 3 x 1000.5 = 3002
@example(invoice=("USD", [(Decimal(3), Decimal("33.335"))], Decimal(0), Decimal(0)))
@example(invoice=("JPY", [(Decimal(3), Decimal("1000.5"))], Decimal(0), Decimal(0)))
@example(invoice=("KWD", [(Decimal(1), Decimal("0.0005"))], Decimal("12.5"), Decimal(0)))
@example(invoice=("USD", [(Decimal(1), Decimal("0.25"))], Decimal(10), Decimal("0.20")))
def test_invoice_totals_are_the_reference_models(
    owner: tuple[Conn, str, str],
    invoice: tuple[str, list[tuple[Decimal, Decimal]], Decimal, Decimal],
) -> None:
    conn, identifier, org = owner
    currency, items, tax_rate, discount = invoice
    expected = invoice_totals(currency, items, tax_rate, discount)
    body = {"status": "sent", "tax_rate": str(tax_rate), "discount": str(discount)}
    lines = [
        {"description": f"item {n}", "quantity": str(q), "rate": str(r)}
        for n, (q, r) in enumerate(items)
    ]
    try:
        with conn.transaction():
            _as_owner(conn, identifier)
            client = _client(conn, org, currency)
            refusal: Exception | None = None
            try:
                with conn.transaction():
                    document = _create(conn, org, {**body, "client_id": client}, lines)
            except (errors.CheckViolation, errors.RaiseException) as exc:
                refusal = exc
            if refusal is not None:
                assert isinstance(expected, str), f"refused, the model accepts: {refusal}"
                raise Rollback
            assert not isinstance(expected, str), f"accepted but the model refuses: {expected}"
            scale = minor_unit(currency)
            assert [_dec(i["amount"]) for i in document["items"]] == expected.amounts
            got = (
                _dec(document["subtotal"]),
                _dec(document["tax_amount"]),
                _dec(document["total_amount"]),
                _dec(document["balance_due"]),
            )
            assert got == (expected.subtotal, expected.tax, expected.total, expected.total)
            # Every amount at the currency's scale, as the API sends it.
            for field in ("subtotal", "tax_amount", "total_amount", "discount", "balance_due"):
                exponent = _dec(document[field]).as_tuple().exponent
                assert exponent == -scale, (field, document[field], currency)
            assert document["status"] == ("paid" if expected.total == 0 else "sent")
            raise Rollback
    except Rollback:
        pass


# =============================================================================
# Payments
# =============================================================================


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[str, Decimal, list[tuple[str, int, Decimal]]]:
    """A currency, an invoice total and a sequence of payment operations: ("pay", _,
    amount), ("change", k, amount) of the k-th payment kept, ("delete", k, _)."""
    currency = draw(st.sampled_from(CURRENCIES))
    step = unit(currency)
    total = draw(st.integers(min_value=1, max_value=200_000)) * step
    amounts = st.one_of(
        st.integers(min_value=1, max_value=int(total / step) + 2).map(lambda n: n * step),
        st.just(total),
        st.decimals(min_value=Decimal("0.0001"), max_value=total, places=4),  # too fine
    )
    operations = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("pay"), st.just(0), amounts),
                st.tuples(st.just("change"), st.integers(0, 5), amounts),
                st.tuples(st.just("delete"), st.integers(0, 5), st.just(Decimal(0))),
            ),
            min_size=1,
            max_size=10,
        )
    )
    return currency, total, operations


def _ledger_state(conn: Conn, invoice_id: str, client_id: str) -> tuple[Any, ...]:
    row = conn.execute(
        "select i.status, i.total_amount, i.amount_paid, i.balance_due,"
        " (select coalesce(sum(p.amount), 0) from public.payments p where p.invoice_id = i.id),"
        " c.outstanding_balance, i.paid_at is not null"
        " from public.invoices i join public.clients c on c.id = i.client_id"
        " where i.id = %s and c.id = %s",
        (invoice_id, client_id),
    ).fetchone()
    assert row is not None
    return tuple(row)


def _plan(
    operation: str,
    target: tuple[str, Decimal] | None,
    amount: Decimal,
    kept: list[tuple[str, Decimal]],
    total: Decimal,
) -> tuple[str, tuple[Any, ...], bool]:
    """The SQL of one operation, its arguments after the organization (and the invoice,
    for a new payment), and whether the model accepts it (its decimals aside)."""
    paid = sum((a for _, a in kept), Decimal(0))
    if operation == "pay":
        return (
            "select public.record_payment(%s, %s::uuid, %s) ->> 'id'",
            (amount,),
            paid + amount <= total,
        )
    assert target is not None
    payment, old = target
    if operation == "change":
        return (
            "select public.update_payment(%s, %s::uuid, %s::jsonb) ->> 'id'",
            (payment, json.dumps({"amount": str(amount)})),
            amount == old or paid - old + amount <= total,
        )
    return "select public.delete_payment(%s, %s::uuid) ->> 'id'", (payment,), True


@EXAMPLES
@given(ledger=ledgers())
def test_any_sequence_of_payments_keeps_the_money_rules(
    owner: tuple[Conn, str, str], ledger: tuple[str, Decimal, list[tuple[str, int, Decimal]]]
) -> None:
    conn, identifier, org = owner
    currency, total, operations = ledger
    try:
        with conn.transaction():
            _as_owner(conn, identifier)
            client = _client(conn, org, currency)
            document = _create(
                conn,
                org,
                {"client_id": client, "status": "sent", "tax_rate": "0"},
                [{"description": "work", "quantity": "1", "rate": str(total)}],
            )
            invoice_id = str(document["id"])
            kept: list[tuple[str, Decimal]] = []  # the model: payment id, amount
            for operation, index, amount in operations:
                if operation != "pay" and not kept:
                    continue
                call, args, ok = _plan(
                    operation, kept[index % len(kept)] if kept else None, amount, kept, total
                )
                ok = ok and amount == money(amount, currency)
                args = (org, invoice_id, *args) if operation == "pay" else (org, *args)
                refusal = None
                try:
                    with conn.transaction():
                        row = conn.execute(call, args).fetchone()
                except (errors.CheckViolation, errors.RaiseException) as exc:
                    refusal = exc
                if refusal is not None:
                    assert not ok, f"{operation} {amount} refused, the model accepts: {refusal}"
                else:
                    assert ok, f"{operation} {amount} accepted, the model refuses it"
                    assert row is not None
                    if operation == "pay":
                        kept.append((str(row[0]), money(amount, currency)))
                    elif operation == "change":
                        kept[index % len(kept)] = (
                            kept[index % len(kept)][0],
                            money(amount, currency),
                        )
                    else:
                        kept.pop(index % len(kept))
                status, stored_total, amount_paid, balance, payments, outstanding, paid_at = (
                    _ledger_state(conn, invoice_id, client)
                )
                model_paid = sum((a for _, a in kept), Decimal(0))
                assert stored_total == total
                assert amount_paid == payments == model_paid
                assert balance == total - model_paid
                assert status == ("paid" if balance == 0 else "sent")
                assert paid_at == (status == "paid")
                assert outstanding == (0 if status == "paid" else balance)
            raise Rollback
    except Rollback:
        pass


# =============================================================================
# Formatting against SQL's rounding
# =============================================================================

amounts_to_format = st.one_of(
    st.decimals(min_value=Decimal(0), max_value=Decimal("1e12"), places=4),
    st.decimals(min_value=Decimal("-1e9"), max_value=Decimal(0), places=3),
    st.integers(min_value=0, max_value=10**15).map(Decimal),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amount=amounts_to_format, currency=st.sampled_from([*CURRENCIES, "CHF", "INR"]))
def test_formatting_reads_back_as_sql_rounds(
    owner: tuple[Conn, str, str], amount: Decimal, currency: str
) -> None:
    conn, _, _ = owner
    row = conn.execute("select private.round_money(%s, %s)", (amount, currency)).fetchone()
    assert row is not None
    rounded = row[0]
    assert rounded == money(amount, currency)
    text = format_amount(amount, currency)
    scale = minor_unit(currency)
    whole, _, decimals = text.lstrip("-").partition(".")
    assert len(decimals) == scale
    groups = whole.split(",")
    assert all(len(g) == 3 for g in groups[1:])
    assert 1 <= len(groups[0]) <= 3
    read_back = Decimal(text.replace(",", ""))
    assert read_back == rounded
    # Never "-0": a negative amount that rounds to zero reads as zero.
    assert not (rounded == 0 and text.startswith("-")), text
    shown = format_money(amount, currency)
    assert shown.endswith(text.lstrip("-"))
    assert shown.startswith("-") == text.startswith("-")
