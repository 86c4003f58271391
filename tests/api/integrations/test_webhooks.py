"""Outbound webhooks (docs/integrations.md) through the functions' handlers: endpoints
managed by admins (secret shown once, https only outside the local stage), the outbox
written in the transaction of the change (nothing for a rolled-back one), the dispatcher
and the worker (signed by Standard Webhooks, retried, dead-lettered after the last try,
each attempt recorded), deliveries listed per endpoint and replayed with the same event id."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from standardwebhooks import Webhook

from devstack.webhook_receiver import Receiver
from shared.settings import get_settings
from tests.api.conftest import Api, World
from tests.api.integrations.conftest import Hooks, endpoint, unique

pytestmark = pytest.mark.usefixtures("aws")


def new_client(api: Api, as_: str = "wendy") -> dict[str, Any]:
    reply = api.post(
        "/api/clients",
        as_=as_,
        json_body={"company_name": unique("Hook client"), "currency": "USD"},
    )
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def new_invoice(api: Api, client_id: str, as_: str = "wendy") -> dict[str, Any]:
    today = dt.date.today()
    reply = api.post(
        "/api/invoices",
        as_=as_,
        json_body={
            "client_id": client_id,
            "issue_date": today.isoformat(),
            "due_date": (today + dt.timedelta(days=30)).isoformat(),
            "status": "sent",
            "items": [{"description": "Work", "quantity": "2", "rate": "50.00"}],
        },
    )
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def deliveries(api: Api, endpoint_id: str, **query: Any) -> list[dict[str, Any]]:
    reply = api.get(f"/api/webhook-endpoints/{endpoint_id}/deliveries", as_="wendy", query=query)
    assert reply.status == 200, reply.json()
    data: list[dict[str, Any]] = reply.json()["data"]
    return data


def cleanup(api: Api, endpoint_id: str) -> None:
    api.delete(f"/api/webhook-endpoints/{endpoint_id}", as_="wendy")


def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(
    api: Api, world: World, wendy: str, fast_retries: None
) -> None:
    created = endpoint(api, "http://127.0.0.1:9/hooks", ["invoice.paid", "client.created"])
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["client.created", "invoice.paid"]
    one = api.get(f"/api/webhook-endpoints/{created['id']}", as_="wendy")
    assert one.status == 200
    assert "secret" not in one.json()
    listed = api.get("/api/webhook-endpoints", as_="wendy").json()["data"]
    assert created["id"] in [e["id"] for e in listed]
    assert all("secret" not in e for e in listed)
    # Stored apart from the table the API roles read; never in the audit log.
    secret = created["secret"]
    assert not world.sql(
        "select 1 from public.audit_log where new_record::text like %s", f"%{secret[6:20]}%"
    )

    rotated = api.post(f"/api/webhook-endpoints/{created['id']}/rotate-secret", as_="wendy")
    assert rotated.status == 200, rotated.json()
    assert rotated.json()["secret"] not in (secret, None)
    assert rotated.json()["previous_secret_valid_until"] is not None

    changed = api.request(
        "PATCH",
        f"/api/webhook-endpoints/{created['id']}",
        as_="wendy",
        json_body={"enabled": False},
    )
    assert changed.status == 200, changed.json()
    assert changed.json()["enabled"] is False
    assert api.delete(f"/api/webhook-endpoints/{created['id']}", as_="wendy").status == 204
    assert api.get(f"/api/webhook-endpoints/{created['id']}", as_="wendy").status == 404


def test_only_admins_manage_endpoints_and_strangers_get_404(
    api: Api, world: World, wendy: str, fast_retries: None
) -> None:
    mine = endpoint(api, "https://hooks.example.com/a", ["invoice.paid"], as_="alice")
    try:
        for who in ("maria", "victor"):
            assert api.get("/api/webhook-endpoints", as_=who).status == 403
            reply = api.post(
                "/api/webhook-endpoints",
                as_=who,
                json_body={"url": "https://hooks.example.com/b", "event_types": ["invoice.paid"]},
            )
            assert reply.status == 403, reply.json()
            assert (
                api.post(f"/api/webhook-endpoints/{mine['id']}/rotate-secret", as_=who).status
                == 403
            )
        # bob and wendy: admins of their own organizations, strangers to alice's.
        for path in ("", "/deliveries"):
            assert api.get(f"/api/webhook-endpoints/{mine['id']}{path}", as_="bob").status == 404
        assert (
            api.post(f"/api/webhook-endpoints/{mine['id']}/rotate-secret", as_="bob").status == 404
        )
        assert api.delete(f"/api/webhook-endpoints/{mine['id']}", as_="bob").status == 404
        reply = api.request(
            "PATCH", f"/api/webhook-endpoints/{mine['id']}", as_="bob", json_body={"enabled": False}
        )
        assert reply.status == 404
        assert api.get("/api/webhook-endpoints", token=None).status == 401
    finally:
        api.delete(f"/api/webhook-endpoints/{mine['id']}", as_="alice")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://hooks.example.com/x", "event_types": ["invoice.paid"]}, "url"),
        ({"url": "https://hooks.example.com/x", "event_types": []}, "event_types"),
        (
            {"url": "https://hooks.example.com/x", "event_types": ["invoice.exploded"]},
            "event_types[0]",
        ),
        ({"url": "https://u:p@hooks.example.com/x", "event_types": ["invoice.paid"]}, "url"),
        (
            {"url": "https://hooks.example.com/x", "event_types": ["invoice.paid"], "secret": "x"},
            "secret",
        ),
        ({"event_types": ["invoice.paid"]}, "url"),
    ],
)
def test_bad_endpoints_are_422_naming_the_field(
    api: Api, wendy: str, body: dict[str, Any], field: str
) -> None:
    reply = api.post("/api/webhook-endpoints", as_="wendy", json_body=body)
    assert reply.status == 422, reply.json()
    assert field in [d["field"] for d in reply.error["details"]], reply.json()


def test_https_only_outside_the_local_stage(api: Api, wendy: str, aws: Any) -> None:
    # The test environment is a deployment's (WEBHOOK_ALLOW_HTTP unset by fast_retries).
    saved = os.environ.pop("WEBHOOK_ALLOW_HTTP", None)
    get_settings.cache_clear()
    try:
        for url in ("http://hooks.example.com/x", "https://127.0.0.1/x", "https://localhost/x"):
            reply = api.post(
                "/api/webhook-endpoints",
                as_="wendy",
                json_body={"url": url, "event_types": ["invoice.paid"]},
            )
            assert reply.status == 422, (url, reply.json())
            assert reply.error["details"][0]["field"] == "url"
    finally:
        if saved is not None:
            os.environ["WEBHOOK_ALLOW_HTTP"] = saved
        get_settings.cache_clear()


def test_a_rolled_back_change_emits_nothing_and_a_committed_one_once(
    api: Api, world: World, wendy: str, fast_retries: None
) -> None:
    hook = endpoint(api, "http://127.0.0.1:9/never", ["client.created"])
    try:
        name = unique("Rolled back")
        with psycopg.connect(world.database.url) as conn:
            conn.execute(
                "insert into public.clients (organization_id, company_name, currency)"
                " values (%s, %s, 'USD')",
                (wendy, name),
            )
            conn.rollback()
        kept = unique("Committed")
        world.sql(
            "insert into public.clients (organization_id, company_name, currency)"
            " values (%s, %s, 'USD')",
            wendy,
            kept,
        )
        names = [
            r[0]
            for r in world.sql(
                "select payload->>'company_name' from public.webhook_events"
                " where organization_id = %s and type = 'client.created'",
                wendy,
            )
        ]
        assert kept in names
        assert name not in names
        assert names.count(kept) == 1
    finally:
        cleanup(api, hook["id"])


def test_events_are_delivered_signed_with_a_stable_id(
    api: Api, world: World, wendy: str, hooks: Hooks, receiver: Receiver
) -> None:
    hook = endpoint(
        api,
        receiver.url + "/ok",
        ["client.created", "invoice.created", "invoice.paid", "payment.recorded"],
    )
    receiver.secrets.append(hook["secret"])
    try:
        client = new_client(api)
        invoice = new_invoice(api, client["id"])
        paid = api.post(
            "/api/payments",
            as_="wendy",
            json_body={"invoice_id": invoice["id"], "amount": "100.00"},
        )
        assert paid.status == 201, paid.json()
        hooks.drain()
        got = {r.event_type: r for r in receiver.received}
        assert set(got) == {"client.created", "invoice.created", "invoice.paid", "payment.recorded"}
        assert all(r.verified for r in receiver.received)
        assert Decimal(str(got["invoice.created"].body["data"]["total_amount"])) == Decimal(
            "100.00"
        )
        assert got["invoice.paid"].body["data"]["status"] == "paid"
        # The library a receiver uses verifies it, and refuses a changed body.
        item = got["invoice.paid"]
        raw = json.dumps(item.body, separators=(",", ":"), sort_keys=True).encode()
        Webhook(hook["secret"]).verify(raw, item.headers)
        with pytest.raises(Exception):  # noqa: B017, PT011
            Webhook(hook["secret"]).verify(raw.replace(b"paid", b"sent"), item.headers)
        # webhook-id is the event's id, as the deliveries list says.
        listed = deliveries(api, hook["id"])
        assert {d["event_id"] for d in listed} == {r.webhook_id for r in receiver.received}
        assert all(d["status"] == "succeeded" and d["attempts"] == 1 for d in listed)
        assert all(d["attempt_log"][0]["status_code"] == 204 for d in listed)
        # A second dispatch finds nothing: nothing is sent twice.
        assert hooks.dispatch()["queued"] == 0
        assert len(receiver.received) == 4
    finally:
        cleanup(api, hook["id"])


def test_failures_are_retried_then_dead_lettered_and_replayed(
    api: Api, world: World, wendy: str, hooks: Hooks, receiver: Receiver
) -> None:
    flaky = endpoint(api, receiver.url + "/fail/2/flaky", ["client.created"])
    down = endpoint(api, receiver.url + "/down/x", ["client.created"])
    receiver.secrets.extend([flaky["secret"], down["secret"]])
    hooks.dead_letters()
    try:
        new_client(api)
        hooks.drain()
        [ok] = deliveries(api, flaky["id"])
        assert ok["status"] == "succeeded"
        assert [a["status_code"] for a in ok["attempt_log"]] == [503, 503, 204]
        assert ok["attempt_log"][0]["error"] == "the endpoint answered 503"
        [dead] = deliveries(api, down["id"])
        assert dead["status"] == "failed"
        assert dead["attempts"] == 3
        assert [a["status_code"] for a in dead["attempt_log"]] == [500, 500, 500]
        letters = hooks.dead_letters()
        assert [json.loads(b)["delivery_id"] for b in letters] == [dead["id"]]
        assert deliveries(api, down["id"], status="failed")[0]["id"] == dead["id"]
        assert deliveries(api, down["id"], status="succeeded") == []

        # The receiver is fixed; a person replays the delivery: the same event id.
        moved = api.request(
            "PATCH",
            f"/api/webhook-endpoints/{down['id']}",
            as_="wendy",
            json_body={"url": receiver.url + "/ok/fixed"},
        )
        assert moved.status == 200, moved.json()
        replay = api.post(
            f"/api/webhook-endpoints/{down['id']}/deliveries/{dead['id']}/replay", as_="wendy"
        )
        assert replay.status == 202, replay.json()
        assert replay.json()["status"] == "pending"
        hooks.drain()
        [again] = deliveries(api, down["id"])
        assert again["status"] == "succeeded"
        assert again["attempts"] == 4
        fixed = [r for r in receiver.received if r.path == "/ok/fixed"]
        assert [r.webhook_id for r in fixed] == [dead["event_id"]]
        # Replaying one in progress is a conflict; a stranger's delivery is not found.
        world.sql(
            "update public.webhook_deliveries set status = 'queued' where id = %s", again["id"]
        )
        busy = api.post(
            f"/api/webhook-endpoints/{down['id']}/deliveries/{again['id']}/replay", as_="wendy"
        )
        assert busy.status == 409, busy.json()
        world.sql(
            "update public.webhook_deliveries set status = 'succeeded' where id = %s", again["id"]
        )
        stranger = api.post(
            f"/api/webhook-endpoints/{down['id']}/deliveries/{again['id']}/replay", as_="bob"
        )
        assert stranger.status == 404
    finally:
        cleanup(api, flaky["id"])
        cleanup(api, down["id"])


def test_a_rotated_secret_signs_with_both_for_a_day(
    api: Api, world: World, wendy: str, hooks: Hooks, receiver: Receiver
) -> None:
    hook = endpoint(api, receiver.url + "/ok/rotated", ["client.created"])
    old = hook["secret"]
    new = api.post(f"/api/webhook-endpoints/{hook['id']}/rotate-secret", as_="wendy").json()[
        "secret"
    ]
    receiver.secrets.append(new)  # a receiver that already switched
    try:
        new_client(api)
        hooks.drain()
        [got] = [r for r in receiver.received if r.path == "/ok/rotated"]
        assert got.verified
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        raw = json.dumps(got.body, separators=(",", ":"), sort_keys=True).encode()
        Webhook(old).verify(raw, got.headers)  # and one that has not
    finally:
        cleanup(api, hook["id"])


def test_deliveries_list_refuses_bad_parameters(api: Api, wendy: str, fast_retries: None) -> None:
    hook = endpoint(api, "http://127.0.0.1:9/x", ["client.created"])
    try:
        path = f"/api/webhook-endpoints/{hook['id']}/deliveries"
        assert api.get(path, as_="wendy", query={"status": "lost"}).status == 422
        assert api.get(path, as_="wendy", query={"event_type": "x.y"}).status == 422
        assert api.get(path, as_="wendy", query={"colour": "red"}).status == 400
        assert api.get("/api/webhook-endpoints/not-a-uuid", as_="wendy").status == 422
    finally:
        cleanup(api, hook["id"])
