"""GET /api/dashboard/*: exact figures on a fresh organization, per currency.

The organization (dash_owner's own; dash_viewer is a viewer in it) is built with
superuser SQL around the database's current month M0 (M1 the month before, M2 the one
before that), in USD (its default currency) and EUR:

    inv  client  issued    due       total    status     payments
    D-1  Alpha   M2+4      +30       1000.00  paid       400 on M1, 600 on M0
    D-2  Alpha   M1+1      today+30   500.00  sent       200 on M0
    D-3  Beta    M2        M2+10      250.00  sent       -          (past due: overdue)
    D-4  Beta    M2+1      +30        300.00  cancelled  -
    D-5  Beta    M0        +30         75.00  draft      -
    D-6  Beta    M2+2      M2+12       80.00  overdue    30 on M1
    E-1  Euro    M1+4      +30        700.00  paid       700 on M0
    E-2  Euro    M1+5      today+30   450.50  sent       50.50 on M1
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, World
from tests.api.dashboard.lifecycle import without_lifecycle


def month_start(day: date, back: int = 0) -> date:
    """The first day of the month ``back`` months before ``day``'s."""
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def one_decimal(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass
class Fixture:
    org: str
    today: date
    m0: date
    m1: date
    m2: date
    clients: dict[str, str]


def add_invoice(world: World, org: str, client: str, row: tuple[str, date, date, str, str]) -> str:
    """Inserts invoice ``row`` = (number, issued, due, total, final status) with one item."""
    number, issued, due, total, status = row
    invoice_id: str = world.sql(
        "insert into public.invoices (organization_id, client_id, invoice_number, issue_date,"
        " due_date) values (%s, %s, %s, %s, %s) returning id::text",
        org,
        client,
        number,
        issued,
        due,
    )[0][0]
    world.sql(
        "insert into public.invoice_items (invoice_id, description, quantity, rate)"
        " values (%s, 'services', 1, %s)",
        invoice_id,
        Decimal(total),
    )
    if status in ("sent", "overdue", "paid"):
        world.sql("update public.invoices set status = 'sent' where id = %s", invoice_id)
    if status in ("overdue", "cancelled"):
        world.sql("update public.invoices set status = %s where id = %s", status, invoice_id)
    return invoice_id


def add_payment(world: World, invoice_id: str, amount: str, paid: date) -> None:
    world.sql(
        "insert into public.payments (invoice_id, amount, payment_date) values (%s, %s, %s)",
        invoice_id,
        Decimal(amount),
        paid,
    )


@pytest.fixture(scope="module")
def dash(world: World) -> Fixture:
    owner = world.add_person("dash_owner")
    org = owner.personal_org
    world.add_person("dash_viewer", org, "viewer")
    world.add_person("dash_stranger")
    today: date = world.sql("select current_date")[0][0]
    m0, m1, m2 = month_start(today), month_start(today, 1), month_start(today, 2)
    clients = {
        name: world.sql(
            "insert into public.clients (organization_id, company_name, currency)"
            " values (%s, %s, %s) returning id::text",
            org,
            name,
            currency,
        )[0][0]
        for name, currency in (("Alpha", "USD"), ("Beta", "USD"), ("Euro", "EUR"))
    }
    later = today + timedelta(days=30)
    d1 = add_invoice(
        world, org, clients["Alpha"], ("D-1", m2 + timedelta(4), later, "1000", "paid")
    )
    d2 = add_invoice(world, org, clients["Alpha"], ("D-2", m1 + timedelta(1), later, "500", "sent"))
    add_invoice(world, org, clients["Beta"], ("D-3", m2, m2 + timedelta(10), "250", "sent"))
    add_invoice(world, org, clients["Beta"], ("D-4", m2 + timedelta(1), later, "300", "cancelled"))
    add_invoice(world, org, clients["Beta"], ("D-5", m0, later, "75", "draft"))
    d6 = add_invoice(
        world, org, clients["Beta"], ("D-6", m2 + timedelta(2), m2 + timedelta(12), "80", "overdue")
    )
    e1 = add_invoice(world, org, clients["Euro"], ("E-1", m1 + timedelta(4), later, "700", "paid"))
    e2 = add_invoice(
        world, org, clients["Euro"], ("E-2", m1 + timedelta(5), later, "450.50", "sent")
    )
    add_payment(world, d1, "400", m1)
    add_payment(world, d1, "600", m0)
    add_payment(world, d2, "200", m0)
    add_payment(world, d6, "30", m1)
    add_payment(world, e1, "700", m0)
    add_payment(world, e2, "50.50", m1)
    statuses = dict(
        world.sql(
            "select invoice_number, status from public.invoices where organization_id = %s", org
        )
    )
    assert statuses == {
        "D-1": "paid",
        "D-2": "sent",
        "D-3": "sent",
        "D-4": "cancelled",
        "D-5": "draft",
        "D-6": "overdue",
        "E-1": "paid",
        "E-2": "sent",
    }
    return Fixture(org=org, today=today, m0=m0, m1=m1, m2=m2, clients=clients)


def ok(api: Api, path: str, who: str = "dash_owner", **query: Any) -> dict[str, Any]:
    org = None if who != "dash_viewer" else api.world.people["dash_owner"].personal_org
    reply = api.get(path, as_=who, org=org, query=query)
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = without_lifecycle(reply.json())
    return body


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


def test_metrics_per_currency(api: Api, dash: Fixture) -> None:
    body = ok(api, "/api/dashboard/metrics")
    d1_days = (dash.m0 - (dash.m2 + timedelta(4))).days
    e1_days = (dash.m0 - (dash.m1 + timedelta(4))).days
    usd = {
        "currency": "USD",
        "revenue_this_month": "800.00",
        "revenue_last_month": "430.00",
        "revenue_change_percent": "86.0",
        "payments_this_month": 2,
        "outstanding_amount": "600.00",
        "outstanding_count": 3,
        "overdue_amount": "300.00",
        "overdue_count": 2,
        "paid_this_month_amount": "1000.00",
        "paid_this_month_count": 1,
        "average_days_to_pay": one_decimal(Decimal(d1_days)),
    }
    eur = {
        "currency": "EUR",
        "revenue_this_month": "700.00",
        "revenue_last_month": "50.50",
        "revenue_change_percent": "1286.1",
        "payments_this_month": 1,
        "outstanding_amount": "400.00",
        "outstanding_count": 1,
        "overdue_amount": "0.00",
        "overdue_count": 0,
        "paid_this_month_amount": "700.00",
        "paid_this_month_count": 1,
        "average_days_to_pay": one_decimal(Decimal(e1_days)),
    }
    next_month = month_start(dash.today, -1)
    assert body == {
        "as_of": dash.today.isoformat(),
        "currency": "USD",
        "this_month": {"from": dash.m0.isoformat(), "to": (next_month - timedelta(1)).isoformat()},
        "last_month": {"from": dash.m1.isoformat(), "to": (dash.m0 - timedelta(1)).isoformat()},
        "primary": usd,
        "by_currency": [usd, eur],
        "invoice_counts": {
            "draft": 1,
            "sent": 2,
            "overdue": 2,
            "paid": 2,
            "cancelled": 1,
            "total": 8,
        },
        "outstanding_count": 4,
        "overdue_count": 2,
        "average_days_to_pay": one_decimal(Decimal(d1_days + e1_days) / 2),
    }
    # Money is exact: the strings are the database's numerics.
    assert Decimal(body["primary"]["revenue_this_month"]) == Decimal("800.00")


def test_metrics_for_a_viewer_are_the_same(api: Api, dash: Fixture) -> None:
    assert ok(api, "/api/dashboard/metrics", "dash_viewer") == ok(api, "/api/dashboard/metrics")


def test_metrics_of_an_empty_organization_are_zeros(api: Api, dash: Fixture) -> None:
    body = ok(api, "/api/dashboard/metrics", "dash_stranger")
    zeros = {
        "currency": "USD",
        "revenue_this_month": "0.00",
        "revenue_last_month": "0.00",
        "revenue_change_percent": None,
        "payments_this_month": 0,
        "outstanding_amount": "0.00",
        "outstanding_count": 0,
        "overdue_amount": "0.00",
        "overdue_count": 0,
        "paid_this_month_amount": "0.00",
        "paid_this_month_count": 0,
        "average_days_to_pay": None,
    }
    assert body["primary"] == zeros
    assert body["by_currency"] == [zeros]
    assert body["invoice_counts"] == {
        "draft": 0,
        "sent": 0,
        "overdue": 0,
        "paid": 0,
        "cancelled": 0,
        "total": 0,
    }
    assert (body["outstanding_count"], body["overdue_count"], body["average_days_to_pay"]) == (
        0,
        0,
        None,
    )


def test_another_organization_cannot_be_read(api: Api, dash: Fixture) -> None:
    for path in (
        "/api/dashboard/metrics",
        "/api/dashboard/recent-invoices",
        "/api/dashboard/recent-activities",
        "/api/dashboard/revenue-chart",
    ):
        reply = api.get(path, as_="bob", org=dash.org)
        assert reply.status == 403, (path, reply.json())
        assert reply.error["code"] == "forbidden"
    mine = {"D-1", "D-2", "D-3", "D-4", "D-5", "D-6", "E-1", "E-2"}
    listed = ok(api, "/api/dashboard/recent-invoices", "bob", limit=50)["data"]
    assert not mine & {row["invoice_number"] for row in listed}
    activities = ok(api, "/api/dashboard/recent-activities", "bob", limit=50)["data"]
    assert not set(dash.clients.values()) & {row["client_id"] for row in activities}


def test_without_a_token_is_401(api: Api) -> None:
    reply = api.get("/api/dashboard/metrics")
    assert reply.status == 401
    assert reply.error["code"] == "missing_token"


# --------------------------------------------------------------------------------------
# Recent invoices and activities
# --------------------------------------------------------------------------------------


def test_recent_invoices(api: Api, dash: Fixture) -> None:
    rows = ok(api, "/api/dashboard/recent-invoices", limit=3)["data"]
    assert [row["invoice_number"] for row in rows] == ["D-5", "E-2", "E-1"]
    e2 = rows[1]
    assert e2 == {
        "id": e2["id"],
        "invoice_number": "E-2",
        "client_id": dash.clients["Euro"],
        "client_name": "Euro",
        "status": "sent",
        "is_overdue": False,
        "currency": "EUR",
        "issue_date": (dash.m1 + timedelta(5)).isoformat(),
        "due_date": (dash.today + timedelta(30)).isoformat(),
        "total_amount": "450.50",
        "amount_paid": "50.50",
        "balance_due": "400.00",
    }
    everything = ok(api, "/api/dashboard/recent-invoices", limit=50)["data"]
    assert len(everything) == 8
    overdue = {row["invoice_number"] for row in everything if row["is_overdue"]}
    assert overdue == {"D-3", "D-6"}
    assert len(ok(api, "/api/dashboard/recent-invoices")["data"]) == 5  # the default


def test_recent_activities(api: Api, dash: Fixture) -> None:
    rows = ok(api, "/api/dashboard/recent-activities", limit=50)["data"]
    assert sorted((row["client_name"], row["type"]) for row in rows) == sorted(
        [("Alpha", "new"), ("Beta", "new"), ("Euro", "new")]
        + [("Alpha", "payment")] * 3
        + [("Beta", "payment"), ("Euro", "payment"), ("Euro", "payment")]
    )
    stamps = [row["timestamp"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert all(stamp.endswith("Z") for stamp in stamps)
    payment = next(row for row in rows if row["type"] == "payment")
    assert payment["metadata"]["payment_method"] == "bank_transfer"
    assert len(ok(api, "/api/dashboard/recent-activities", limit=2)["data"]) == 2


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/dashboard/recent-invoices", {"limit": 0}),
        ("/api/dashboard/recent-invoices", {"limit": 51}),
        ("/api/dashboard/recent-activities", {"limit": 0}),
        ("/api/dashboard/recent-activities", {"limit": "many"}),
        ("/api/dashboard/revenue-chart", {"months": 0}),
        ("/api/dashboard/revenue-chart", {"months": 37}),
        ("/api/dashboard/revenue-chart", {"end_month": "2026-13-01"}),
    ],
)
def test_bad_parameters_are_422(api: Api, dash: Fixture, path: str, query: dict[str, Any]) -> None:
    reply = api.get(path, as_="dash_owner", query=query)
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert reply.error["details"][0]["field"] == next(iter(query))


# --------------------------------------------------------------------------------------
# Revenue chart
# --------------------------------------------------------------------------------------


def point(month: date, billed: str, collected: str, invoices: int, payments: int) -> dict[str, Any]:
    return {
        "month": month.isoformat(),
        "billed": billed,
        "collected": collected,
        "invoice_count": invoices,
        "payment_count": payments,
    }


def test_revenue_chart_per_currency_zero_filled(api: Api, dash: Fixture) -> None:
    body = ok(api, "/api/dashboard/revenue-chart", months=6)
    months = [month_start(dash.today, back) for back in range(5, -1, -1)]
    next_month = month_start(dash.today, -1)
    assert body == {
        "from": months[0].isoformat(),
        "to": (next_month - timedelta(1)).isoformat(),
        "months": 6,
        "currency": "USD",
        "series": [
            {
                "currency": "USD",
                "total_billed": "1830.00",
                "total_collected": "1230.00",
                "invoice_count": 4,
                "payment_count": 4,
                "points": [
                    point(months[0], "0.00", "0.00", 0, 0),
                    point(months[1], "0.00", "0.00", 0, 0),
                    point(months[2], "0.00", "0.00", 0, 0),
                    # D-1, D-3 and D-6; the cancelled D-4 is not billed
                    point(dash.m2, "1330.00", "0.00", 3, 0),
                    point(dash.m1, "500.00", "430.00", 1, 2),
                    # the draft D-5 is not billed
                    point(dash.m0, "0.00", "800.00", 0, 2),
                ],
            },
            {
                "currency": "EUR",
                "total_billed": "1150.50",
                "total_collected": "750.50",
                "invoice_count": 2,
                "payment_count": 2,
                "points": [
                    point(months[0], "0.00", "0.00", 0, 0),
                    point(months[1], "0.00", "0.00", 0, 0),
                    point(months[2], "0.00", "0.00", 0, 0),
                    point(dash.m2, "0.00", "0.00", 0, 0),
                    point(dash.m1, "1150.50", "50.50", 2, 1),
                    point(dash.m0, "0.00", "700.00", 0, 1),
                ],
            },
        ],
    }


def test_revenue_chart_defaults_and_end_month(api: Api, dash: Fixture) -> None:
    body = ok(api, "/api/dashboard/revenue-chart")
    assert body["months"] == 12
    assert [len(series["points"]) for series in body["series"]] == [12, 12]
    ended = ok(api, "/api/dashboard/revenue-chart", months=1, end_month=dash.m1 + timedelta(9))
    assert ended["from"] == dash.m1.isoformat()
    assert [series["points"] for series in ended["series"]] == [
        [point(dash.m1, "500.00", "430.00", 1, 2)],
        [point(dash.m1, "1150.50", "50.50", 2, 1)],
    ]


def test_revenue_chart_of_an_empty_organization(api: Api, dash: Fixture) -> None:
    body = ok(api, "/api/dashboard/revenue-chart", "dash_stranger", months=3)
    assert [series["currency"] for series in body["series"]] == ["USD"]
    assert body["series"][0]["total_billed"] == "0.00"
    assert {p["billed"] for p in body["series"][0]["points"]} == {"0.00"}
    assert len(body["series"][0]["points"]) == 3
