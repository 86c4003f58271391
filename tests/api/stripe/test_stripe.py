"""Online payment through Stripe (docs/api.md, "Online payment through Stripe"): an admin
connects the account (its keys sealed with moto's KMS, never answered), the client page's
Pay button opens a Checkout Session at the local stand-in for the balance in the
currency's smallest unit, completing it delivers signed webhooks (twice, in either
order) that record the payment once; wrong signatures, old timestamps and unknown
endpoints are refused; refunds, disputes, cancelled invoices and overpayments are
recorded or kept as needing attention, never a 500."""

from __future__ import annotations

import json
import secrets
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from devstack import stripe_standin
from tests.api.conftest import Api, World
from tests.api.portal.helpers import link, path_of, sent_invoice
from tests.api.stripe.helpers import (
    a_test_key,
    complete,
    connect,
    intent_event,
    post_event,
    webhook_path,
)


@pytest.fixture(scope="module")
def connected(api: Api, world: World) -> dict[str, Any]:
    return connect(api)


def money(world: World, invoice: str) -> tuple[str, Decimal, Decimal]:
    row = world.sql(
        "select status, amount_paid, balance_due from public.invoices where id = %s", invoice
    )[0]
    return str(row[0]), Decimal(row[1]), Decimal(row[2])


def pay_url(api: Api, path: str, **body: Any) -> str:
    reply = api.post(
        path + "/pay",
        json_body=body or {},
        headers={"accept": "application/json"},
    )
    assert reply.status == 200, reply.json()
    url: str = reply.json()["checkout_url"]
    return url


def test_connecting_seals_the_keys(
    api: Api, world: World, connected: dict[str, Any], standin: stripe_standin.StandinState
) -> None:
    assert connected["connected"] is True
    assert connected["livemode"] is False
    assert connected["webhook_url"].endswith(webhook_path(world, world.org_a))
    assert "secret_key" not in connected
    stored = world.sql(
        "select secret_key_sealed, webhook_secret_sealed from private.stripe_accounts"
        " where organization_id = %s",
        world.org_a,
    )[0]
    assert "sk_test_" not in stored[0]
    assert "whsec_" not in stored[1]
    assert any(
        e["url"] == connected["webhook_url"] for key in standin.endpoints.values() for e in key
    )
    read = api.get("/api/stripe/account", as_="victor").json()
    assert read["connected"] is True
    assert not any("sealed" in key or "secret" in key for key in read)


def test_only_admins_connect_and_bad_keys_are_refused(api: Api, connected: dict[str, Any]) -> None:
    body = {"secret_key": a_test_key()}
    assert api.put("/api/stripe/account", as_="maria", json_body=body).status == 403
    bad = api.put("/api/stripe/account", as_="alice", json_body={"secret_key": "pk_test_nope"})
    assert bad.status == 422
    assert bad.error["details"][0]["field"] == "secret_key"
    live = api.put(
        "/api/stripe/account",
        as_="bob",
        json_body={"secret_key": "sk_live_" + secrets.token_hex(12)},
    )
    assert live.status == 422
    assert live.error["code"] == "stripe_refused"
    extra = api.put("/api/stripe/account", as_="alice", json_body={**body, "nope": 1})
    assert extra.status == 422


def test_pay_on_the_page_and_the_webhooks_record_it_once(
    http_api: Api, world: World, connected: dict[str, Any]
) -> None:
    invoice = sent_invoice(world, world.org_a, currency="EUR", rate="80.25")
    path = path_of(link(http_api, "invoice", invoice)["url"])
    page = http_api.get(path, headers={"accept": "text/html"}).content.decode()
    assert "Pay €80.25" in page
    url = pay_url(http_api, path)
    session = httpx.get(
        url.replace("/checkout/", "/v1/checkout/sessions/"),
        headers={"authorization": "Bearer " + a_test_key()},
    )
    assert session.status_code == 404  # another key's session
    done = complete(url, deliver="twice", order="reversed")
    assert done["payment_status"] == "paid"
    assert money(world, invoice) == ("paid", Decimal("80.25"), Decimal("0.00"))
    payments = world.sql(
        "select payment_method, reference_number from public.payments where invoice_id = %s",
        invoice,
    )
    assert payments == [("credit_card", done["payment_intent"])]
    events = world.sql(
        "select status, reason from public.stripe_events where payment_intent_id = %s",
        done["payment_intent"],
    )
    assert len(events) == 2
    assert {e[0] for e in events} == {"processed"}
    after = http_api.get(path, headers={"accept": "application/json"}).json()
    assert after["status"] == "paid"
    assert after["balance_due"] == "0.00"
    assert after["actions"]["pay"] is False


def test_the_checkout_is_for_the_balance_in_the_smallest_unit(
    api: Api, world: World, connected: dict[str, Any], standin: stripe_standin.StandinState
) -> None:
    invoice = sent_invoice(world, world.org_a, currency="JPY", rate="1500", qty="3")
    url = pay_url(api, path_of(link(api, "invoice", invoice)["url"]))
    session = standin.sessions[url.rsplit("/", 1)[1]]
    assert session["amount_total"] == 4500
    assert session["currency"] == "jpy"
    assert session["metadata"]["invoice_id"] == invoice
    assert session["payment_intent_metadata"]["invoice_id"] == invoice


def test_partial_payments_when_allowed(
    api: Api, world: World, connected: dict[str, Any], standin: stripe_standin.StandinState
) -> None:
    invoice = sent_invoice(world, world.org_a, rate="100")
    path = path_of(link(api, "invoice", invoice)["url"])
    whole = pay_url(api, path, amount="30")  # not allowed: the balance
    assert standin.sessions[whole.rsplit("/", 1)[1]]["amount_total"] == 10000
    assert api.request(
        "PATCH", "/api/stripe/account", as_="alice", json_body={"allow_partial_payments": True}
    ).json()["allow_partial_payments"]
    try:
        part = pay_url(api, path, amount="30.5")
        assert standin.sessions[part.rsplit("/", 1)[1]]["amount_total"] == 3050
        for bad in ("100.01", "0", "1.234", "-5", "abc"):
            reply = api.post(
                path + "/pay", json_body={"amount": bad}, headers={"accept": "application/json"}
            )
            assert reply.status == 422, (bad, reply.json())
        form = api.post(
            path + "/pay",
            content=b"amount=12.5",
            headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
        )
        assert form.status == 303
        assert form.headers["location"].startswith(standin_url(part))
    finally:
        api.request(
            "PATCH", "/api/stripe/account", as_="alice", json_body={"allow_partial_payments": False}
        )


def standin_url(url: str) -> str:
    return url.split("/checkout/", maxsplit=1)[0]


def test_signatures_timestamps_and_endpoints(
    api: Api, world: World, connected: dict[str, Any]
) -> None:
    invoice = sent_invoice(world, world.org_a)
    event = intent_event(invoice, 1000)
    wrong = post_event(api, world, world.org_a, event, secret="whsec_" + secrets.token_hex(16))
    assert wrong.status == 400
    assert wrong.error["code"] == "invalid_signature"
    old = post_event(api, world, world.org_a, event, timestamp=int(time.time()) - 3600)
    assert old.status == 400
    unsigned = api.post(webhook_path(world, world.org_a), content=json.dumps(event).encode())
    assert unsigned.status == 400
    unknown = api.post("/api/webhooks/stripe/" + "x" * 32, content=b"{}")
    assert unknown.status == 404
    assert money(world, invoice)[1] == Decimal("0.00")
    first = post_event(api, world, world.org_a, event)
    assert first.status == 200
    assert first.json()["status"] == "processed"
    replay = post_event(api, world, world.org_a, event)
    assert replay.status == 200
    assert replay.json()["status"] == "duplicate"
    assert money(world, invoice) == ("sent", Decimal("10.00"), Decimal("90.00"))


def test_refused_payments_are_kept_and_listed(
    api: Api, world: World, connected: dict[str, Any]
) -> None:
    cancelled = sent_invoice(world, world.org_a)
    world.sql("update public.invoices set status = 'cancelled' where id = %s", cancelled)
    kept = post_event(api, world, world.org_a, intent_event(cancelled, 10000))
    assert kept.status == 200
    assert kept.json()["status"] == "needs_attention"
    over = sent_invoice(world, world.org_a)
    too_much = post_event(api, world, world.org_a, intent_event(over, 10001))
    assert too_much.json()["status"] == "needs_attention"
    assert "more than the balance" in too_much.json()["reason"]
    listed = api.get("/api/stripe/events", as_="victor", query={"status": "needs_attention"})
    assert listed.status == 200
    ids = {e["invoice_id"]: e for e in listed.json()["data"]}
    assert cancelled in ids
    assert over in ids
    resolved = api.post(f"/api/stripe/events/{ids[over]['id']}/resolve", as_="maria")
    assert resolved.status == 200
    assert resolved.json()["status"] == "resolved"
    assert api.post(f"/api/stripe/events/{ids[over]['id']}/resolve", as_="maria").status == 404
    assert api.get("/api/stripe/events", as_="bob").json()["data"] == []
    bad = api.get("/api/stripe/events", as_="victor", query={"status": "lost"})
    assert bad.status == 422


def test_refund_and_dispute(api: Api, world: World, connected: dict[str, Any]) -> None:
    invoice = sent_invoice(world, world.org_a)
    intent = "pi_" + secrets.token_hex(8)
    paid = post_event(api, world, world.org_a, intent_event(invoice, 10000, intent=intent))
    assert paid.status == 200
    charge = {
        "id": "ch_" + secrets.token_hex(8),
        "object": "charge",
        "payment_intent": intent,
        "amount_captured": 10000,
        "amount_refunded": 4000,
        "currency": "usd",
        "metadata": {"invoice_id": invoice},
    }
    refunded = post_event(api, world, world.org_a, stripe_standin.event("charge.refunded", charge))
    assert refunded.json()["status"] == "processed"
    assert money(world, invoice) == ("sent", Decimal("60.00"), Decimal("40.00"))
    refunds = world.sql(
        "select amount, refund_method from public.refunds where invoice_id = %s", invoice
    )
    assert refunds == [(Decimal("40.00"), "credit_card")]
    dispute = stripe_standin.event(
        "charge.dispute.created",
        {"id": "dp_1", "object": "dispute", "payment_intent": intent, "status": "needs_response"},
    )
    assert post_event(api, world, world.org_a, dispute).json()["status"] == "needs_attention"
    flagged = world.sql(
        "select dispute_status from public.stripe_payments where payment_intent_id = %s", intent
    )
    assert flagged == [("needs_response",)]


def test_no_pay_button_without_stripe(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_b)
    path = path_of(link(api, "invoice", invoice, as_="bob")["url"])
    assert api.get(path, headers={"accept": "application/json"}).json()["actions"]["pay"] is False
    reply = api.post(path + "/pay", headers={"accept": "application/json"})
    assert reply.status == 422
    assert api.post("/p/" + "n" * 43 + "/pay", headers={"accept": "application/json"}).status == 404
