"""Property tests of the matching engine against the real database (hypothesis, a modest
number of examples so the suite stays fast):

* a fully received, exactly priced invoice always matches, whatever its lines, prices,
  quantities (up to 4 decimals) and tax;
* with a vendor's price tolerance (percent and/or absolute amount, the larger applies),
  a price exactly at the tolerance is matched within tolerance and one cent over is
  always a price_variance exception naming that line;
* likewise for quantities: exactly at received x (1 + tolerance %) is within tolerance,
  one unit of the smallest step over is over_billed_quantity.

Each example gets its own vendor, purchase order and receipt in an organization of its own
(``prop``), and is matched alone through ``public.match_vendor_invoices``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import World

pytestmark = pytest.mark.slow  # 25 examples a property, each matched in the database: ~4 s each

CENT = Decimal("0.01")
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

quantities = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(5000), places=4)
prices = st.decimals(min_value=Decimal(0), max_value=Decimal(9999), places=2)
lines_strategy = st.lists(st.tuples(quantities, prices), min_size=1, max_size=5)


@pytest.fixture(scope="module")
def conn(world: World) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(world.database.url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def org(world: World) -> str:
    return world.add_person("prop").personal_org


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _scenario(
    conn: psycopg.Connection[tuple[Any, ...]],
    org: str,
    ordered: list[tuple[Decimal, Decimal]],
    billed: list[tuple[Decimal, Decimal]],
    *,
    tax: Decimal = Decimal(0),
    price_percent: Decimal | None = None,
    price_amount: Decimal | None = None,
    quantity_percent: Decimal | None = None,
) -> tuple[str, dict[str, Any]]:
    """A PO of ``ordered`` (quantity, price) lines fully received, an invoice billing
    ``billed`` against them line by line (amounts quantity x price, totals consistent);
    matched. Returns the invoice's status and the engine's answer."""
    tag = uuid.uuid4().hex[:10]
    with conn.transaction():
        vendor = conn.execute(
            "insert into public.vendors (organization_id, name, price_tolerance_percent,"
            " price_tolerance_amount, quantity_tolerance_percent)"
            " values (%s, %s, %s, %s, %s) returning id",
            (org, f"Property vendor {tag}", price_percent, price_amount, quantity_percent),
        ).fetchone()
        assert vendor is not None
        po = conn.execute(
            "insert into public.purchase_orders (organization_id, vendor_id, po_number, currency)"
            " values (%s, %s, %s, 'USD') returning id",
            (org, vendor[0], f"P-{tag}"),
        ).fetchone()
        assert po is not None
        receipt = conn.execute(
            "insert into public.goods_receipts (organization_id, purchase_order_id,"
            " receipt_number) values (%s, %s, %s) returning id",
            (org, po[0], f"R-{tag}"),
        ).fetchone()
        assert receipt is not None
        amounts = [_money(q * p) for q, p in billed]
        subtotal = sum(amounts, Decimal(0))
        invoice = conn.execute(
            "insert into public.vendor_invoices (organization_id, vendor_id, vendor_name,"
            " invoice_number, invoice_date, po_number, currency, subtotal, tax_amount,"
            " total_amount) values (%s, %s, %s, %s, current_date, %s, 'USD', %s, %s, %s)"
            " returning id",
            (
                org,
                vendor[0],
                f"Property vendor {tag}",
                f"I-{tag}",
                f"P-{tag}",
                subtotal,
                tax,
                subtotal + tax,
            ),
        ).fetchone()
        assert invoice is not None
        for n, ((quantity, price), (bill_quantity, bill_price), amount) in enumerate(
            zip(ordered, billed, amounts, strict=True), start=1
        ):
            line = conn.execute(
                "insert into public.purchase_order_lines (organization_id, purchase_order_id,"
                " currency, line_number, item_code, description, quantity, unit_price)"
                " values (%s, %s, 'USD', %s, %s, %s, %s, %s) returning id",
                (org, po[0], n, f"C{n}", f"Item {n}", quantity, price),
            ).fetchone()
            assert line is not None
            conn.execute(
                "insert into public.goods_receipt_lines (organization_id, goods_receipt_id,"
                " purchase_order_line_id, quantity_received) values (%s, %s, %s, %s)",
                (org, receipt[0], line[0], quantity),
            )
            conn.execute(
                "insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id,"
                " currency, line_number, item_code, description, quantity, unit_price, amount)"
                " values (%s, %s, 'USD', %s, %s, %s, %s, %s, %s)",
                (org, invoice[0], n, f"C{n}", f"Item {n}", bill_quantity, bill_price, amount),
            )
    row = conn.execute(
        "select public.match_vendor_invoices(%s, array[%s]::uuid[])", (org, invoice[0])
    ).fetchone()
    assert row is not None
    status = conn.execute(
        "select status from public.vendor_invoices where id = %s", (invoice[0],)
    ).fetchone()
    assert status is not None
    return str(status[0]), {"invoice": str(invoice[0]), **row[0]}


def _open(conn: psycopg.Connection[tuple[Any, ...]], invoice: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select type, check_name, line_number, expected, actual from"
        " public.reconciliation_exceptions where vendor_invoice_id = %s and status = 'open'"
        " order by line_number",
        (invoice,),
    ).fetchall()


@EXAMPLES
@given(
    lines=lines_strategy,
    tax=st.decimals(min_value=Decimal(0), max_value=Decimal(5000), places=2),
)
def test_fully_received_exactly_priced_invoice_always_matches(
    *,
    conn: psycopg.Connection[tuple[Any, ...]],
    org: str,
    lines: list[tuple[Decimal, Decimal]],
    tax: Decimal,
) -> None:
    status, answer = _scenario(conn, org, lines, lines, tax=tax)
    assert (status, answer["matched"]) == ("matched", 1), _open(conn, answer["invoice"])


@EXAMPLES
@given(
    lines=lines_strategy,
    which=st.integers(min_value=0, max_value=4),
    percent=st.integers(min_value=0, max_value=20),
    amount=st.decimals(min_value=Decimal(0), max_value=Decimal(5), places=2),
    over=st.booleans(),
)
def test_one_cent_over_the_price_tolerance_is_always_an_exception(
    *,
    conn: psycopg.Connection[tuple[Any, ...]],
    org: str,
    lines: list[tuple[Decimal, Decimal]],
    which: int,
    percent: int,
    amount: Decimal,
    over: bool,
) -> None:
    which %= len(lines)
    quantity, price = lines[which]
    # A whole percent of a price in cents: the allowance has at most 4 decimals, as prices.
    allowance = max(price * percent / 100, amount)
    billed_price = price + allowance + (CENT if over else 0)
    billed = list(lines)
    billed[which] = (quantity, billed_price)
    status, answer = _scenario(
        conn, org, lines, billed, price_percent=Decimal(percent), price_amount=amount
    )
    exceptions = _open(conn, answer["invoice"])
    if over:
        assert status == "exception"
        assert [(e[0], e[2]) for e in exceptions] == [("price_variance", which + 1)]
        assert Decimal(exceptions[0][4]) == billed_price
    else:
        assert exceptions == []
        assert status == ("matched_with_tolerance" if allowance > 0 else "matched")


@EXAMPLES
@given(
    lines=lines_strategy,
    which=st.integers(min_value=0, max_value=4),
    percent=st.integers(min_value=0, max_value=10),
    over=st.booleans(),
)
def test_one_step_over_the_quantity_tolerance_is_always_over_billed(
    *,
    conn: psycopg.Connection[tuple[Any, ...]],
    org: str,
    lines: list[tuple[Decimal, Decimal]],
    which: int,
    percent: int,
    over: bool,
) -> None:
    which %= len(lines)
    quantity, price = lines[which]
    # Billable quantities have at most 4 decimals: the largest one within the tolerance.
    allowed = (quantity * (1 + Decimal(percent) / 100)).quantize(
        Decimal("0.0001"), rounding=ROUND_DOWN
    )
    step = Decimal("0.0001")
    billed_quantity = allowed + (step if over else 0)
    billed = list(lines)
    billed[which] = (billed_quantity, price)
    status, answer = _scenario(conn, org, lines, billed, quantity_percent=Decimal(percent))
    exceptions = _open(conn, answer["invoice"])
    if over:
        assert [(e[0], e[2]) for e in exceptions] == [("over_billed_quantity", which + 1)]
        assert status == "exception"
    else:
        assert exceptions == []
        assert status == ("matched_with_tolerance" if billed_quantity > quantity else "matched")
