"""GET /api/reports/*: exact figures over explicit date ranges on a fresh organization.

The organization (rep_owner's own, default currency USD; rep_viewer is a viewer in it)
bills in USD and in JPY (no minor unit). Everything happens in the first quarter of 2025;
"overdue" is judged as of today, when every sent invoice due in 2025 is past due:

    inv  client  issued      due         total      status     payments
    A-1  Acme    2025-01-15  2025-02-14    1200.00  paid       1200 on 02-10  (26 days)
    A-2  Acme    2025-02-20  2099-12-31     800.00  sent       300 on 03-05
    B-1  Beta    2025-03-01  2025-03-31     450.00  sent       -          (past due: overdue)
    B-2  Beta    2025-02-01  2025-03-03     999.00  cancelled  -
    B-3  Beta    2025-03-10  2025-04-09      60.00  draft      -
    Y-1  Yen     2025-01-05  2025-02-04  150000     paid       150000 on 01-25  (20 days)
    Y-2  Yen     2025-03-20  2025-04-19   20000     overdue    5000 on 03-25
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, World
from tests.api.dashboard.lifecycle import without_lifecycle
from tests.api.dashboard.test_dashboard import add_invoice, add_payment, month_start

Q1 = {"from": "2025-01-01", "to": "2025-03-31"}


@dataclass
class Fixture:
    org: str
    today: date
    clients: dict[str, str]


@pytest.fixture(scope="module")
def rep(world: World) -> Fixture:
    owner = world.add_person("rep_owner")
    org = owner.personal_org
    world.add_person("rep_viewer", org, "viewer")
    world.add_person("rep_stranger")
    today: date = world.sql("select current_date")[0][0]
    clients = {
        name: world.sql(
            "insert into public.clients (organization_id, company_name, currency)"
            " values (%s, %s, %s) returning id::text",
            org,
            name,
            currency,
        )[0][0]
        for name, currency in (("Rep Acme", "USD"), ("Rep Beta", "USD"), ("Rep Yen", "JPY"))
    }
    acme, beta, yen = clients["Rep Acme"], clients["Rep Beta"], clients["Rep Yen"]
    d = date.fromisoformat
    a1 = add_invoice(world, org, acme, ("A-1", d("2025-01-15"), d("2025-02-14"), "1200", "paid"))
    a2 = add_invoice(world, org, acme, ("A-2", d("2025-02-20"), d("2099-12-31"), "800", "sent"))
    add_invoice(world, org, beta, ("B-1", d("2025-03-01"), d("2025-03-31"), "450", "sent"))
    add_invoice(world, org, beta, ("B-2", d("2025-02-01"), d("2025-03-03"), "999", "cancelled"))
    add_invoice(world, org, beta, ("B-3", d("2025-03-10"), d("2025-04-09"), "60", "draft"))
    y1 = add_invoice(world, org, yen, ("Y-1", d("2025-01-05"), d("2025-02-04"), "150000", "paid"))
    y2 = add_invoice(world, org, yen, ("Y-2", d("2025-03-20"), d("2025-04-19"), "20000", "overdue"))
    add_payment(world, a1, "1200", d("2025-02-10"))
    add_payment(world, a2, "300", d("2025-03-05"))
    add_payment(world, y1, "150000", d("2025-01-25"))
    add_payment(world, y2, "5000", d("2025-03-25"))
    statuses = dict(
        world.sql(
            "select invoice_number, status from public.invoices where organization_id = %s", org
        )
    )
    assert statuses == {
        "A-1": "paid",
        "A-2": "sent",
        "B-1": "sent",
        "B-2": "cancelled",
        "B-3": "draft",
        "Y-1": "paid",
        "Y-2": "overdue",
    }
    return Fixture(org=org, today=today, clients=clients)


def ok(api: Api, path: str, who: str = "rep_owner", **query: Any) -> dict[str, Any]:
    org = None if who != "rep_viewer" else api.world.people["rep_owner"].personal_org
    reply = api.get(path, as_=who, org=org, query=query)
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = without_lifecycle(reply.json())
    return body


# --------------------------------------------------------------------------------------
# Overview
# --------------------------------------------------------------------------------------

USD_Q1 = {
    "currency": "USD",
    "invoice_count": 3,
    "billed": "2450.00",
    "paid": "1500.00",
    "outstanding": "950.00",
    "overdue_amount": "450.00",
    "overdue_count": 1,
    "collection_rate": "61.2",
    "average_invoice": "816.67",
    "collected": "1500.00",
    "payment_count": 2,
    "average_days_to_pay": "26.0",
}
JPY_Q1 = {
    "currency": "JPY",
    "invoice_count": 2,
    "billed": "170000",
    "paid": "155000",
    "outstanding": "15000",
    "overdue_amount": "15000",
    "overdue_count": 1,
    "collection_rate": "91.2",
    "average_invoice": "85000",
    "collected": "155000",
    "payment_count": 2,
    "average_days_to_pay": "20.0",
}


def test_overview_per_currency(api: Api, rep: Fixture) -> None:
    body = ok(api, "/api/reports/overview", **Q1)
    assert body == {
        "from": "2025-01-01",
        "to": "2025-03-31",
        "currency": "USD",
        "primary": USD_Q1,
        # JPY is never added to USD
        "by_currency": [USD_Q1, JPY_Q1],
        "invoice_counts": {
            "draft": 1,
            "sent": 1,
            "overdue": 2,
            "paid": 2,
            "cancelled": 1,
            "total": 7,
        },
        "clients": {"new": 0, "billed": 3},
        "average_days_to_pay": "23.0",
    }
    assert Decimal(body["primary"]["billed"]) == Decimal("2450.00")


def test_overview_default_range_is_the_last_12_months(api: Api, rep: Fixture) -> None:
    body = ok(api, "/api/reports/overview")
    assert body["from"] == month_start(rep.today, 11).isoformat()
    assert body["to"] == rep.today.isoformat()
    # Nothing of 2025-Q1 falls in it; the three clients were created today.
    assert body["clients"] == {"new": 3, "billed": 0}
    assert body["primary"]["billed"] == "0.00"
    assert body["invoice_counts"]["total"] == 0


def test_overview_for_a_viewer_is_the_same(api: Api, rep: Fixture) -> None:
    assert ok(api, "/api/reports/overview", "rep_viewer", **Q1) == ok(
        api, "/api/reports/overview", **Q1
    )


def test_overview_of_an_empty_organization_is_zeros(api: Api, rep: Fixture) -> None:
    body = ok(api, "/api/reports/overview", "rep_stranger", **Q1)
    zeros = {
        "currency": "USD",
        "invoice_count": 0,
        "billed": "0.00",
        "paid": "0.00",
        "outstanding": "0.00",
        "overdue_amount": "0.00",
        "overdue_count": 0,
        "collection_rate": None,
        "average_invoice": None,
        "collected": "0.00",
        "payment_count": 0,
        "average_days_to_pay": None,
    }
    assert body["primary"] == zeros
    assert body["by_currency"] == [zeros]
    assert body["clients"] == {"new": 0, "billed": 0}
    assert body["average_days_to_pay"] is None


# --------------------------------------------------------------------------------------
# Revenue
# --------------------------------------------------------------------------------------


def rpoint(
    period: str, start: str, end: str, money: tuple[str, str], counts: tuple[int, int]
) -> dict[str, Any]:
    """A period of the revenue report: (billed, collected) and (invoices, payments)."""
    (billed, collected), (invoices, payments) = money, counts
    return {
        "period": period,
        "start": start,
        "end": end,
        "billed": billed,
        "collected": collected,
        "invoice_count": invoices,
        "payment_count": payments,
    }


def test_revenue_by_month(api: Api, rep: Fixture) -> None:
    body = ok(api, "/api/reports/revenue", **Q1)
    assert body == {
        "from": "2025-01-01",
        "to": "2025-03-31",
        "group_by": "month",
        "client_id": None,
        "currency": "USD",
        "series": [
            {
                "currency": "USD",
                "total_billed": "2450.00",
                "total_collected": "1500.00",
                "invoice_count": 3,
                "payment_count": 2,
                "points": [
                    rpoint("2025-01", "2025-01-01", "2025-01-31", ("1200.00", "0.00"), (1, 0)),
                    # the cancelled B-2 is not billed
                    rpoint("2025-02", "2025-02-01", "2025-02-28", ("800.00", "1200.00"), (1, 1)),
                    # nor the draft B-3
                    rpoint("2025-03", "2025-03-01", "2025-03-31", ("450.00", "300.00"), (1, 1)),
                ],
            },
            {
                "currency": "JPY",
                "total_billed": "170000",
                "total_collected": "155000",
                "invoice_count": 2,
                "payment_count": 2,
                "points": [
                    rpoint("2025-01", "2025-01-01", "2025-01-31", ("150000", "150000"), (1, 1)),
                    rpoint("2025-02", "2025-02-01", "2025-02-28", ("0", "0"), (0, 0)),
                    rpoint("2025-03", "2025-03-01", "2025-03-31", ("20000", "5000"), (1, 1)),
                ],
            },
        ],
        "by_client": [
            {
                "client_id": rep.clients["Rep Acme"],
                "client_name": "Rep Acme",
                "currency": "USD",
                "billed": "2000.00",
                "collected": "1500.00",
                "invoice_count": 2,
                "payment_count": 2,
            },
            {
                "client_id": rep.clients["Rep Beta"],
                "client_name": "Rep Beta",
                "currency": "USD",
                "billed": "450.00",
                "collected": "0.00",
                "invoice_count": 1,
                "payment_count": 0,
            },
            {
                "client_id": rep.clients["Rep Yen"],
                "client_name": "Rep Yen",
                "currency": "JPY",
                "billed": "170000",
                "collected": "155000",
                "invoice_count": 2,
                "payment_count": 2,
            },
        ],
    }


def test_revenue_by_quarter_and_year_zero_filled_and_clipped(api: Api, rep: Fixture) -> None:
    body = ok(
        api, "/api/reports/revenue", group_by="quarter", **{"from": "2024-12-01"}, to="2025-03-31"
    )
    assert [s["points"] for s in body["series"]] == [
        [
            rpoint("2024-Q4", "2024-12-01", "2024-12-31", ("0.00", "0.00"), (0, 0)),
            rpoint("2025-Q1", "2025-01-01", "2025-03-31", ("2450.00", "1500.00"), (3, 2)),
        ],
        [
            rpoint("2024-Q4", "2024-12-01", "2024-12-31", ("0", "0"), (0, 0)),
            rpoint("2025-Q1", "2025-01-01", "2025-03-31", ("170000", "155000"), (2, 2)),
        ],
    ]
    body = ok(
        api, "/api/reports/revenue", group_by="year", **{"from": "2023-06-15"}, to="2025-02-15"
    )
    assert [
        (p["period"], p["start"], p["end"], p["billed"], p["collected"])
        for p in body["series"][0]["points"]
    ] == [
        ("2023", "2023-06-15", "2023-12-31", "0.00", "0.00"),
        ("2024", "2024-01-01", "2024-12-31", "0.00", "0.00"),
        ("2025", "2025-01-01", "2025-02-15", "1200.00", "1200.00"),
    ]


def test_revenue_of_one_client(api: Api, rep: Fixture) -> None:
    beta = rep.clients["Rep Beta"]
    body = ok(api, "/api/reports/revenue", client_id=beta, **Q1)
    assert body["client_id"] == beta
    assert [(s["currency"], s["total_billed"], s["total_collected"]) for s in body["series"]] == [
        ("USD", "450.00", "0.00")
    ]
    assert [row["client_name"] for row in body["by_client"]] == ["Rep Beta"]


def test_revenue_client_limit(api: Api, rep: Fixture) -> None:
    body = ok(api, "/api/reports/revenue", client_limit=1, **Q1)
    # the top client of each currency
    assert [row["client_name"] for row in body["by_client"]] == ["Rep Acme", "Rep Yen"]


def test_revenue_of_a_client_of_another_organization_is_404(api: Api, rep: Fixture) -> None:
    reply = api.get(
        "/api/reports/revenue", as_="rep_stranger", query={"client_id": rep.clients["Rep Beta"]}
    )
    assert reply.status == 404, reply.json()
    assert reply.error["code"] == "not_found"


# --------------------------------------------------------------------------------------
# Payment status
# --------------------------------------------------------------------------------------


def amounts(usd: tuple[int, str, str, str], jpy: tuple[int, str, str, str]) -> list[Any]:
    return [
        {"currency": cur, "count": n, "total": total, "paid": paid, "outstanding": out}
        for cur, (n, total, paid, out) in (("USD", usd), ("JPY", jpy))
    ]


def test_payment_status(api: Api, rep: Fixture) -> None:
    body = ok(api, "/api/reports/payment-status", **Q1)
    assert body == {
        "from": "2025-01-01",
        "to": "2025-03-31",
        "currency": "USD",
        "total_count": 7,
        "statuses": [
            {
                "status": "draft",
                "count": 1,
                "percentage": "14.3",
                "amounts": amounts((1, "60.00", "0.00", "0.00"), (0, "0", "0", "0")),
            },
            {
                "status": "sent",
                "count": 1,
                "percentage": "14.3",
                "amounts": amounts((1, "800.00", "300.00", "500.00"), (0, "0", "0", "0")),
            },
            {
                "status": "overdue",
                "count": 2,
                "percentage": "28.6",
                "amounts": amounts((1, "450.00", "0.00", "450.00"), (1, "20000", "5000", "15000")),
            },
            {
                "status": "paid",
                "count": 2,
                "percentage": "28.6",
                "amounts": amounts((1, "1200.00", "1200.00", "0.00"), (1, "150000", "150000", "0")),
            },
            {
                "status": "cancelled",
                "count": 1,
                "percentage": "14.3",
                "amounts": amounts((1, "999.00", "0.00", "0.00"), (0, "0", "0", "0")),
            },
        ],
    }


def test_payment_status_of_an_empty_range(api: Api, rep: Fixture) -> None:
    body = ok(api, "/api/reports/payment-status", **{"from": "2024-01-01"}, to="2024-12-31")
    assert body["total_count"] == 0
    assert [(s["status"], s["count"], s["percentage"]) for s in body["statuses"]] == [
        ("draft", 0, None),
        ("sent", 0, None),
        ("overdue", 0, None),
        ("paid", 0, None),
        ("cancelled", 0, None),
    ]
    assert body["statuses"][0]["amounts"] == [
        {"currency": "USD", "count": 0, "total": "0.00", "paid": "0.00", "outstanding": "0.00"}
    ]


# --------------------------------------------------------------------------------------
# Client performance
# --------------------------------------------------------------------------------------


def test_client_performance(api: Api, rep: Fixture) -> None:
    body = ok(api, "/api/reports/client-performance", **Q1)
    assert body == {
        "from": "2025-01-01",
        "to": "2025-03-31",
        "currency": "USD",
        "sort": "-billed",
        "total": 3,
        "clients": [
            {
                "client_id": rep.clients["Rep Yen"],
                "client_name": "Rep Yen",
                "currency": "JPY",
                "invoice_count": 2,
                "billed": "170000",
                "paid": "155000",
                "outstanding": "15000",
                "overdue_amount": "15000",
                "overdue_count": 1,
                "average_days_to_pay": "20.0",
                "last_invoice_date": "2025-03-20",
            },
            {
                "client_id": rep.clients["Rep Acme"],
                "client_name": "Rep Acme",
                "currency": "USD",
                "invoice_count": 2,
                "billed": "2000.00",
                "paid": "1500.00",
                "outstanding": "500.00",
                "overdue_amount": "0.00",
                "overdue_count": 0,
                "average_days_to_pay": "26.0",
                "last_invoice_date": "2025-02-20",
            },
            {
                "client_id": rep.clients["Rep Beta"],
                "client_name": "Rep Beta",
                "currency": "USD",
                "invoice_count": 1,
                "billed": "450.00",
                "paid": "0.00",
                "outstanding": "450.00",
                "overdue_amount": "450.00",
                "overdue_count": 1,
                "average_days_to_pay": None,
                "last_invoice_date": "2025-03-01",
            },
        ],
    }


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"sort": "name"}, ["Rep Acme", "Rep Beta", "Rep Yen"]),
        ({"sort": "-name"}, ["Rep Yen", "Rep Beta", "Rep Acme"]),
        ({"sort": "-average_days_to_pay"}, ["Rep Acme", "Rep Yen", "Rep Beta"]),
        ({"sort": "last_invoice_date"}, ["Rep Acme", "Rep Beta", "Rep Yen"]),
        ({"currency": "USD"}, ["Rep Acme", "Rep Beta"]),
        ({"sort": "-overdue_amount", "currency": "USD"}, ["Rep Beta", "Rep Acme"]),
        ({"limit": 1}, ["Rep Yen"]),
    ],
)
def test_client_performance_sort_filter_limit(
    api: Api, rep: Fixture, query: dict[str, Any], names: list[str]
) -> None:
    body = ok(api, "/api/reports/client-performance", **Q1, **query)
    assert [row["client_name"] for row in body["clients"]] == names
    assert body["total"] == (2 if "currency" in query else 3)


# --------------------------------------------------------------------------------------
# Parameters, and who may read
# --------------------------------------------------------------------------------------

REPORTS = (
    "/api/reports/overview",
    "/api/reports/revenue",
    "/api/reports/payment-status",
    "/api/reports/client-performance",
)


@pytest.mark.parametrize("path", REPORTS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-03-01", "to": "2025-01-01"}, "from"),
        ({"from": "2019-01-01", "to": "2024-01-02"}, "to"),
        ({"from": "2025-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
    ],
)
def test_bad_date_ranges_are_422(
    api: Api, rep: Fixture, path: str, query: dict[str, str], field: str
) -> None:
    reply = api.get(path, as_="rep_owner", query=query)
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert reply.error["details"][0]["field"] == field


def test_exactly_five_years_is_accepted(api: Api, rep: Fixture) -> None:
    body = ok(api, "/api/reports/overview", **{"from": "2020-01-01"}, to="2025-01-01")
    assert body["from"] == "2020-01-01"


def test_a_range_too_long_with_a_default_end_is_refused_by_the_database(
    api: Api, rep: Fixture
) -> None:
    reply = api.get("/api/reports/overview", as_="rep_owner", query={"from": "2015-01-01"})
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert "longer than 5 years" in reply.error["message"]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/reports/revenue", {"group_by": "week"}, "group_by"),
        ("/api/reports/revenue", {"client_limit": 0}, "client_limit"),
        ("/api/reports/revenue", {"client_id": "not-a-uuid"}, "client_id"),
        ("/api/reports/client-performance", {"sort": "secret"}, "sort"),
        ("/api/reports/client-performance", {"limit": 101}, "limit"),
        ("/api/reports/client-performance", {"currency": "usd"}, "currency"),
    ],
)
def test_bad_parameters_are_422(
    api: Api, rep: Fixture, path: str, query: dict[str, Any], field: str
) -> None:
    reply = api.get(path, as_="rep_owner", query=query)
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert reply.error["details"][0]["field"] == field


@pytest.mark.parametrize("path", REPORTS)
def test_another_organization_cannot_be_read(api: Api, rep: Fixture, path: str) -> None:
    reply = api.get(path, as_="bob", org=rep.org, query=Q1)
    assert reply.status == 403, reply.json()
    assert reply.error["code"] == "forbidden"


def test_bob_sees_none_of_it(api: Api, rep: Fixture) -> None:
    performance = ok(api, "/api/reports/client-performance", "bob", limit=100, **Q1)
    assert not set(rep.clients.values()) & {row["client_id"] for row in performance["clients"]}
    revenue = ok(api, "/api/reports/revenue", "bob", client_limit=100, **Q1)
    assert not set(rep.clients.values()) & {row["client_id"] for row in revenue["by_client"]}
    assert "JPY" not in {s["currency"] for s in revenue["series"]}


def test_reports_of_an_empty_organization_are_empty(api: Api, rep: Fixture) -> None:
    performance = ok(api, "/api/reports/client-performance", "rep_stranger", **Q1)
    assert (performance["total"], performance["clients"]) == (0, [])
    revenue = ok(api, "/api/reports/revenue", "rep_stranger", **Q1)
    assert revenue["by_client"] == []
    assert [
        (s["currency"], s["total_billed"], s["total_collected"]) for s in revenue["series"]
    ] == [("USD", "0.00", "0.00")]
    assert [p["billed"] for p in revenue["series"][0]["points"]] == ["0.00", "0.00", "0.00"]
    status = ok(api, "/api/reports/payment-status", "rep_stranger", **Q1)
    assert status["total_count"] == 0
