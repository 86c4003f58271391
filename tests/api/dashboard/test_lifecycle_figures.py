"""The dashboard and reports over HTTP with the billing lifecycle: a payment, a credit note
past the balance, client credit applied to another invoice and refunded, a refund from a
payment, recurring profiles and quotes, all made through the API on a fresh organization
(dated today, the organization's day in UTC), then the figures read back exact to the
cent. Each sum is counted once (docs/api.md, "Dashboard and reports"):

    L-1  100.00  paid 100 -> credit note 30: paid 70, credited 30, 30 to the client's credit
    L-2   50.00  20 of that credit applied: 30 due
    L-3  200.00  paid 200, 40 refunded from the payment: 40 due
    client credit 30 - 20 applied - 5 refunded = 5
    collected 300 - 45 = 255; billed 320 = paid 230 + credit applied 20 + outstanding 70
    MRR: monthly 110 (100 + 10% tax) + quarterly 300/3 + every 2 weeks 60*52/12/2 = 340.00
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.api.conftest import Api, World


def make_invoice(
    world: World, org: str, client: str, number: str, *, total: str, today: date
) -> str:
    invoice_id: str = world.sql(
        "insert into public.invoices (organization_id, client_id, invoice_number, issue_date,"
        " due_date) values (%s, %s, %s, %s, %s) returning id::text",
        org,
        client,
        number,
        today,
        today + timedelta(days=30),
    )[0][0]
    world.sql(
        "insert into public.invoice_items (invoice_id, description, quantity, rate)"
        " values (%s, 'services', 1, %s)",
        invoice_id,
        total,
    )
    world.sql("update public.invoices set status = 'sent' where id = %s", invoice_id)
    return invoice_id


def created(reply: Any) -> dict[str, Any]:
    assert reply.status in (200, 201), reply.json()
    body: dict[str, Any] = reply.json()
    return body


@pytest.fixture(scope="module")
def books(api: Api, world: World) -> dict[str, Any]:
    owner = world.add_person("life_owner")
    org = owner.personal_org
    world.add_person("life_viewer", org, "viewer")
    today: date = world.sql("select current_date")[0][0]
    alpha, beta = (
        world.sql(
            "insert into public.clients (organization_id, company_name, currency)"
            " values (%s, %s, 'USD') returning id::text",
            org,
            name,
        )[0][0]
        for name in ("Alpha", "Beta")
    )
    l1 = make_invoice(world, org, alpha, "L-1", total="100", today=today)
    l2 = make_invoice(world, org, alpha, "L-2", total="50", today=today)
    l3 = make_invoice(world, org, beta, "L-3", total="200", today=today)
    who = {"as_": "life_owner"}
    created(api.post("/api/payments", json_body={"invoice_id": l1, "amount": "100"}, **who))
    paid_l3 = created(
        api.post("/api/payments", json_body={"invoice_id": l3, "amount": "200"}, **who)
    )
    created(
        api.post(
            "/api/credit-notes",
            json_body={"invoice_id": l1, "kind": "amount", "amount": "30"},
            **who,
        )
    )
    created(
        api.post(
            f"/api/clients/{alpha}/credit/apply",
            json_body={"invoice_id": l2, "amount": "20"},
            **who,
        )
    )
    created(api.post("/api/refunds", json_body={"client_id": alpha, "amount": "5"}, **who))
    created(
        api.post("/api/refunds", json_body={"payment_id": paid_l3["id"], "amount": "40"}, **who)
    )
    for client, body in (
        (alpha, {"frequency": "monthly", "tax_rate": "10", "rate": "100"}),
        (alpha, {"frequency": "quarterly", "rate": "300"}),
        (beta, {"interval_unit": "week", "interval_count": 2, "rate": "60"}),
    ):
        rate = body.pop("rate")
        created(
            api.post(
                "/api/recurring-profiles",
                json_body={
                    "client_id": client,
                    "start_date": (today + timedelta(days=1)).isoformat(),
                    "items": [{"description": "plan", "quantity": "1", "rate": rate}],
                    **body,
                },
                **who,
            )
        )
    quote = created(
        api.post(
            "/api/quotes",
            json_body={
                "client_id": beta,
                "items": [{"description": "offer", "quantity": "1", "rate": "500"}],
            },
            **who,
        )
    )
    # Sending mails it (SES); its state is what the figures read.
    world.sql("update public.quotes set status = 'sent' where id = %s", quote["id"])
    return {"org": org, "today": today}


def get(api: Api, path: str, who: str, org: str, **query: Any) -> dict[str, Any]:
    reply = api.get(path, as_=who, org=org if who == "life_viewer" else None, query=query)
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def test_the_dashboard_counts_each_amount_once(api: Api, books: dict[str, Any]) -> None:
    body = get(api, "/api/dashboard/metrics", "life_viewer", books["org"])
    usd = body["primary"]
    assert body["as_of"] == books["today"].isoformat()
    assert {k: v for k, v in usd.items() if k != "average_days_to_pay"} == {
        "currency": "USD",
        "revenue_this_month": "255.00",
        "revenue_last_month": "0.00",
        "revenue_change_percent": None,
        "received_this_month": "300.00",
        "received_last_month": "0.00",
        "refunded_this_month": "45.00",
        "refunded_last_month": "0.00",
        "credited_this_month": "30.00",
        "credit_notes_this_month": 1,
        "payments_this_month": 2,
        "outstanding_amount": "70.00",
        "outstanding_count": 2,
        "overdue_amount": "0.00",
        "overdue_count": 0,
        "client_credit": "5.00",
        "clients_with_credit": 1,
        "paid_this_month_amount": "100.00",
        "paid_this_month_count": 1,
        "mrr": "340.00",
        "active_recurring_profiles": 3,
        "open_quotes_amount": "500.00",
        "open_quotes_count": 1,
    }
    assert body["quote_counts"]["sent"] == 1
    assert body["quote_acceptance_rate"] is None
    assert body["active_recurring_profiles"] == 3


def test_the_overview_balances(api: Api, books: dict[str, Any]) -> None:
    body = get(api, "/api/reports/overview", "life_owner", books["org"])
    usd = body["primary"]
    picked = {
        k: usd[k]
        for k in (
            "billed",
            "paid",
            "credit_applied",
            "outstanding",
            "collected",
            "received",
            "refunded",
            "credited",
            "client_credit",
            "mrr",
            "quote_count",
            "quoted",
        )
    }
    assert picked == {
        "billed": "320.00",
        "paid": "230.00",
        "credit_applied": "20.00",
        "outstanding": "70.00",
        "collected": "255.00",
        "received": "300.00",
        "refunded": "45.00",
        "credited": "30.00",
        "client_credit": "5.00",
        "mrr": "340.00",
        "quote_count": 1,
        "quoted": "500.00",
    }


def test_the_revenue_series_and_chart_agree(api: Api, books: dict[str, Any]) -> None:
    chart = get(api, "/api/dashboard/revenue-chart", "life_owner", books["org"], months=1)
    point = chart["series"][0]["points"][0]
    assert [point[k] for k in ("billed", "collected", "received", "refunded", "credited")] == [
        "320.00",
        "255.00",
        "300.00",
        "45.00",
        "30.00",
    ]
    first = books["today"].replace(day=1).isoformat()
    revenue = get(api, "/api/reports/revenue", "life_owner", books["org"], **{"from": first})
    series = revenue["series"][0]
    assert [series[k] for k in ("total_billed", "total_collected", "total_refunded")] == [
        "320.00",
        "255.00",
        "45.00",
    ]
    by_client = {c["client_name"]: (c["collected"], c["refunded"]) for c in revenue["by_client"]}
    assert by_client == {"Alpha": ("95.00", "5.00"), "Beta": ("160.00", "40.00")}


def test_the_outstanding_matches_the_clients_balances(
    api: Api, world: World, books: dict[str, Any]
) -> None:
    body = get(api, "/api/dashboard/metrics", "life_owner", books["org"])
    (balance,) = world.sql(
        "select sum(outstanding_balance)::text from public.clients where organization_id = %s",
        books["org"],
    )[0]
    assert body["primary"]["outstanding_amount"] == balance
