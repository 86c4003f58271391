"""Property tests (hypothesis) of the tax model: the database's totals and breakdown
against the Decimal reference model of EN 16931's totals (tests/db/tax_reference.py,
written from docs/einvoicing.md, "Tax model"), for lines of several categories and
rates, discounts, and currencies of 0, 2 and 3 decimals:

* through ``public.create_invoice`` and ``public.create_quote``: the subtotal, the tax
  and the total, and ``private.invoice_tax_breakdown`` group by group (line net total,
  allowance, taxable amount, tax);
* the allowances sum exactly to the discount and each lies between 0 and its group's
  net total; the groups' tax sums to the document's tax;
* with one rate, the previous formula (``round((subtotal - discount) x rate / 100)``).

Each example runs in a transaction that is rolled back, as one organization's owner
(role authenticated, RLS on).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devstack.postgres import Database
from tests.db.tax_reference import Line, minor_unit, round_money, totals

EXAMPLES = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CURRENCIES = ["EUR", "USD", "JPY", "KWD", "BHD"]

Conn = psycopg.Connection[tuple[Any, ...]]

REASONS = {"E": "VATEX-EU-79-C", "AE": "VATEX-EU-AE", "K": "VATEX-EU-IC", "G": "VATEX-EU-G"}


@pytest.fixture(scope="module")
def owner(database: Database) -> Iterator[tuple[Conn, str, str]]:
    identifier = f"tax-{uuid.uuid4().hex[:10]}"
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


# A line: (quantity, price, category or None, rate or None).
LineSpec = tuple[Decimal, Decimal, str | None, Decimal | None]

line_rates = st.sampled_from(
    [Decimal(19), Decimal(7), Decimal("5.5"), Decimal("20"), Decimal("8.875"), Decimal("0.001")]
)


@st.composite
def line_specs(draw: st.DrawFn) -> LineSpec:
    quantity = draw(
        st.one_of(
            st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1000), places=4),
            st.sampled_from([Decimal(1), Decimal(3), Decimal("0.5")]),
        )
    )
    price = draw(
        st.one_of(
            st.decimals(min_value=Decimal(0), max_value=Decimal(5000), places=4),
            st.sampled_from([Decimal("0.5"), Decimal("0.05"), Decimal("0.005"), Decimal("33.335")]),
        )
    )
    kind = draw(st.sampled_from(["default", "rate", "S", "Z", "E", "AE", "K", "G", "O"]))
    if kind == "default":
        return quantity, price, None, None
    if kind == "rate":
        return quantity, price, None, draw(line_rates)
    if kind == "S":
        return quantity, price, "S", draw(st.one_of(st.none(), line_rates))
    return quantity, price, kind, draw(st.sampled_from([None, Decimal(0)]))


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[LineSpec], Decimal, Decimal, str | None]:
    currency = draw(st.sampled_from(CURRENCIES))
    lines = draw(st.lists(line_specs(), min_size=1, max_size=8))
    document_rate = draw(st.sampled_from([Decimal(19), Decimal("8.875"), Decimal(10)]))
    default = draw(st.sampled_from([None, None, "S", "O", "E", "Z"]))
    subtotal = sum((round_money(q * p, currency) for q, p, _, _ in lines), Decimal(0))
    unit = Decimal(1).scaleb(-minor_unit(currency))
    discount = draw(
        st.one_of(
            st.just(Decimal(0)),
            st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=3).map(
                lambda f: (subtotal * f).quantize(unit)
            ),
            st.just(subtotal),
            st.sampled_from([unit, 2 * unit, 3 * unit]).filter(lambda d: d <= subtotal),
        )
    )
    return currency, lines, document_rate, discount, default


def _item(n: int, spec: LineSpec) -> dict[str, Any]:
    quantity, price, category, rate = spec
    item: dict[str, Any] = {
        "description": f"line {n}",
        "quantity": str(quantity),
        "rate": str(price),
    }
    if category is not None:
        item["vat_category"] = category
    if rate is not None:
        item["tax_rate"] = str(rate)
    if category in REASONS:
        item["tax_exemption_reason_code"] = REASONS[category]
    elif category == "O":
        item["tax_exemption_reason"] = "Not subject to VAT"
    return item


def _json(conn: Conn, sql: str, *params: Any) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return json.loads(row[0], parse_float=Decimal)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _check(
    conn: Conn,
    identifier: str,
    org: str,
    kind: str,
    document: tuple[str, list[LineSpec], Decimal, Decimal, str | None],
) -> None:
    currency, lines, document_rate, discount, default = document
    expected = totals(
        [Line(q, p, c, r) for q, p, c, r in lines],
        currency=currency,
        document_rate=document_rate,
        discount=discount,
        default_category=default,
    )
    body: dict[str, Any] = {"tax_rate": str(document_rate), "discount": str(discount)}
    if default is not None:
        body["default_vat_category"] = default
    items = [_item(n, spec) for n, spec in enumerate(lines)]
    try:
        with conn.transaction():
            conn.execute("select tests.authenticate_as(%s)", (identifier,))
            client = conn.execute(
                "insert into public.clients (organization_id, company_name, currency)"
                " values (%s, %s, %s) returning id::text",
                (org, f"Tax {uuid.uuid4().hex[:6]}", currency),
            ).fetchone()
            assert client is not None
            body["client_id"] = client[0]
            created = _json(
                conn,
                f"select public.create_{kind}(%s, %s::jsonb, %s::jsonb)::text",
                org,
                json.dumps(body),
                json.dumps(items),
            )
            got = (
                _dec(created["subtotal"]),
                _dec(created["tax_amount"]),
                _dec(created["total_amount"]),
            )
            assert got == (expected.subtotal, expected.tax_amount, expected.total_amount)
            breakdown = [
                (
                    g["vat_category"],
                    _dec(g["tax_rate"]).normalize(),
                    _dec(g["line_net_total"]),
                    _dec(g["allowance_amount"]),
                    _dec(g["taxable_amount"]),
                    _dec(g["tax_amount"]),
                )
                for g in created["tax_breakdown"]
            ]
            assert breakdown == [
                (
                    g.vat_category,
                    g.tax_rate.normalize(),
                    g.line_net_total,
                    g.allowance_amount,
                    g.taxable_amount,
                    g.tax_amount,
                )
                for g in expected.breakdown
            ]
            # EN 16931's sums: the allowances are the discount, the groups' tax the tax.
            assert sum((g[3] for g in breakdown), Decimal(0)) == discount
            assert all(0 <= g[3] <= g[2] for g in breakdown)
            assert sum((g[5] for g in breakdown), Decimal(0)) == _dec(created["tax_amount"])
            # Every line's effective category and rate is one of the groups'.
            groups = {(g[0], g[1]) for g in breakdown}
            for item in created["items"]:
                assert (item["vat_category"], _dec(item["tax_rate"]).normalize()) in groups
            raise Rollback
    except Rollback:
        pass


@EXAMPLES
@given(document=documents())
@example(
    document=(
        "EUR",
        [(Decimal(1), Decimal(1), None, Decimal(n)) for n in (1, 2, 3, 4, 5)],
        Decimal(19),
        Decimal("0.03"),
        None,
    )
)
@example(document=("JPY", [(Decimal(1), Decimal(1001), None, None)], Decimal(10), Decimal(3), None))
@example(
    document=(
        "KWD",
        [(Decimal(1), Decimal("10.005"), None, None), (Decimal(1), Decimal("3.333"), "Z", None)],
        Decimal(5),
        Decimal("0.007"),
        None,
    )
)
def test_invoice_totals_and_breakdown_are_the_reference_models(
    owner: tuple[Conn, str, str],
    document: tuple[str, list[LineSpec], Decimal, Decimal, str | None],
) -> None:
    conn, identifier, org = owner
    _check(conn, identifier, org, "invoice", document)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents())
def test_quote_totals_and_breakdown_are_the_reference_models(
    owner: tuple[Conn, str, str],
    document: tuple[str, list[LineSpec], Decimal, Decimal, str | None],
) -> None:
    conn, identifier, org = owner
    _check(conn, identifier, org, "quote", document)


@settings(max_examples=200, deadline=None)
@given(
    currency=st.sampled_from(CURRENCIES),
    lines=st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=2),
            st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=3),
        ),
        min_size=1,
        max_size=6,
    ),
    share=st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=4),
)
def test_one_rate_is_the_previous_formula(
    currency: str, lines: list[tuple[Decimal, Decimal]], share: Decimal
) -> None:
    """The reference model itself: with every line at the document's rate, the tax is
    round((subtotal - discount) x rate / 100), so existing documents keep their totals."""
    rate = lines[0][1]
    model_lines = [Line(Decimal(1), price) for price, _ in lines]
    subtotal = sum((round_money(line.rate, currency) for line in model_lines), Decimal(0))
    discount = min(round_money(subtotal * share, currency), subtotal)
    result = totals(model_lines, currency=currency, document_rate=rate, discount=discount)
    assert result.tax_amount == round_money((subtotal - discount) * rate / 100, currency)
