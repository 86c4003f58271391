"""A payment through Stripe reaches the organization's integrations: the webhook's
checkout.session.completed (built and signed with Stripe's library), delivered twice,
records the payment once, and the organization's outbound endpoint receives one
``invoice.paid`` (and one ``payment.recorded``), delivered by the webhook worker to
devstack's receiver and signed by the Standard Webhooks scheme."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from devstack import stripe_standin
from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from devstack.webhook_receiver import Receiver
from shared.settings import get_settings
from tests.api.conftest import Api, World
from tests.api.integrations.conftest import Hooks, endpoint
from tests.api.portal.helpers import sent_invoice
from tests.api.stripe.helpers import connect, post_event


@pytest.fixture
def hooks(
    function_host: FunctionHost, aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hooks]:
    """The dispatcher and the worker by hand, no wait between tries, plain HTTP to the
    local receiver (the local stage)."""
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("WEBHOOK_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP", "true")
    get_settings.cache_clear()
    yield Hooks(function_host, aws)
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def test_a_stripe_payment_emits_invoice_paid_to_the_organizations_endpoint(
    api: Api, world: World, hooks: Hooks, receiver: Receiver
) -> None:
    name = f"payee-{secrets.token_hex(4)}"
    org = world.add_person(name).personal_org
    connect(api, as_=name)
    hook = endpoint(
        api, receiver.url + "/ok/stripe", ["invoice.paid", "payment.recorded"], as_=name
    )
    receiver.secrets.append(hook["secret"])
    invoice = sent_invoice(world, org, rate="250.00")
    intent = "pi_" + secrets.token_hex(8)
    session = {
        "id": "cs_" + secrets.token_hex(8),
        "object": "checkout.session",
        "payment_status": "paid",
        "payment_intent": intent,
        "amount_total": 25000,
        "currency": "usd",
        "client_reference_id": invoice,
        "metadata": {"invoice_id": invoice, "organization_id": org},
    }
    event = stripe_standin.event("checkout.session.completed", session)
    first = post_event(api, world, org, event)
    assert first.status == 200, first.json()
    assert first.json()["status"] == "processed"
    again = post_event(api, world, org, event)  # Stripe delivers at least once
    assert again.json()["status"] == "duplicate"

    hooks.drain()
    got = [r for r in receiver.received if r.path == "/ok/stripe"]
    assert sorted(r.event_type for r in got) == ["invoice.paid", "payment.recorded"]
    assert all(r.verified for r in got)
    [paid] = [r for r in got if r.event_type == "invoice.paid"]
    assert paid.body["data"]["id"] == invoice
    assert paid.body["data"]["status"] == "paid"
    assert paid.body["organization_id"] == org
    [recorded] = [r for r in got if r.event_type == "payment.recorded"]
    assert recorded.body["data"]["reference_number"] == intent
    assert recorded.body["data"]["payment_method"] == "credit_card"
    # The receiver's library verifies the signature of the body as sent, and only that.
    raw = json.dumps(paid.body, separators=(",", ":"), sort_keys=True).encode()
    Webhook(hook["secret"]).verify(raw, paid.headers)
    with pytest.raises(Exception):  # noqa: B017, PT011
        Webhook(hook["secret"]).verify(raw.replace(b'"paid"', b'"sent"'), paid.headers)
    assert paid.headers["webhook-id"] == paid.body["id"]
    # Nothing more to send: the payment, and its event, once.
    assert hooks.dispatch()["queued"] == 0
    assert world.sql(
        "select count(*) from public.payments where invoice_id = %s and reference_number = %s",
        invoice,
        intent,
    ) == [(1,)]
