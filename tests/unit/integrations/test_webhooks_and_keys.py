"""shared/webhooks.py and shared/api_keys.py without a database: the signature a receiver
verifies, the back-off, the URL rules, the scopes and the minted token."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import jwt
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from shared import api_keys, webhooks
from shared.errors import ApiError
from shared.models.integrations import private_host
from shared.settings import Settings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def settings(**values: object) -> Settings:
    base: dict[str, object] = {
        "supabase_url": "http://127.0.0.1:1",
        "supabase_anon_key": "anon",
        "supabase_jwt_secret": "x" * 40,
    }
    base.update(values)
    return Settings.model_validate(base)


def event() -> dict[str, object]:
    return {
        "id": "6f1c0c7e-8a0f-4f7e-9d43-2b0a8c2f0e11",
        "type": "invoice.paid",
        "created_at": "2026-12-06T09:30:00+00:00",
        "payload": {"id": "i1", "organization_id": "o1", "total_amount": "100.00"},
    }


def test_a_receiver_verifies_the_signature_and_refuses_a_changed_body() -> None:
    body = webhooks.body_of(event())
    headers = webhooks.headers([SECRET], "6f1c0c7e-8a0f-4f7e-9d43-2b0a8c2f0e11", body)
    assert headers["webhook-id"] == "6f1c0c7e-8a0f-4f7e-9d43-2b0a8c2f0e11"
    assert Webhook(SECRET).verify(body, headers)["type"] == "invoice.paid"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"100.00", b"999.00"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    other = "whsec_" + "B" * 32
    body = webhooks.body_of(event())
    headers = webhooks.headers([other, SECRET], "evt", body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(SECRET).verify(body, headers)
    Webhook(other).verify(body, headers)


def test_an_old_timestamp_is_refused_by_the_receiver() -> None:
    body = webhooks.body_of(event())
    old = dt.datetime.now(dt.UTC).timestamp() - 3600
    headers = webhooks.headers([SECRET], "evt", body, now=old)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_the_body_is_the_same_bytes_on_every_attempt() -> None:
    assert webhooks.body_of(event()) == webhooks.body_of(event())


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [webhooks.backoff_seconds(n, 30) for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert webhooks.backoff_seconds(1, 0) == 0


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("https://hooks.example.com/x", False),
        ("https://127.0.0.1/x", True),
        ("https://10.1.2.3/x", True),
        ("https://[::1]/x", True),
        ("https://localhost:8443/x", True),
        ("https://metadata.internal/x", True),
        ("https://169.254.169.254/latest", True),
        ("https://8.8.8.8/x", False),
    ],
)
def test_private_hosts_are_recognized(url: str, private: bool) -> None:
    assert private_host(url) is private


def test_plain_http_only_where_allowed() -> None:
    with pytest.raises(ApiError) as refused:
        webhooks.check_endpoint_url("http://hooks.example.com/x", settings())
    assert refused.value.status == 422
    webhooks.check_endpoint_url("https://hooks.example.com/x", settings())
    webhooks.check_endpoint_url("http://127.0.0.1:8787/x", settings(webhook_allow_http=True))


@pytest.mark.parametrize(
    ("path", "area"),
    [
        ("/api/invoices", "invoices"),
        ("/api/invoices/123/pdf", "invoices"),
        ("/api/credit-notes/1", "credit_notes"),
        ("/api/refunds", "credit_notes"),
        ("/api/dashboard/metrics", "reports"),
        ("/api/recurring-profiles", "recurring"),
        ("/api/api-keys", None),
        ("/api/webhook-endpoints", None),
        ("/api/settings/business", None),
        ("/api/organizations", None),
    ],
)
def test_the_area_of_a_path(path: str, area: str | None) -> None:
    assert api_keys.area_of(path) == area


def test_write_includes_read_and_areas_stay_apart() -> None:
    assert api_keys.allows(("invoices:write",), "invoices", "read")
    assert not api_keys.allows(("invoices:read",), "invoices", "write")
    assert not api_keys.allows(("invoices:write",), "clients", "read")
    assert api_keys.allows(("read",), "clients", "read")
    assert not api_keys.allows(("read",), "clients", "write")
    assert api_keys.allows(("write",), "reconciliation", "write")


def test_the_minted_token_is_supabase_shaped_and_short_lived() -> None:
    account = uuid.uuid4()
    config = settings(api_key_token_seconds=60)
    token, claims = api_keys.mint_token(account, account, config, now=1_800_000_000)
    decoded = jwt.decode(
        token,
        "x" * 40,
        algorithms=["HS256"],
        audience="authenticated",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert decoded == claims
    assert decoded["sub"] == str(account)
    assert decoded["role"] == "authenticated"
    assert decoded["exp"] - decoded["iat"] == 60
    assert decoded["app_metadata"]["provider"] == "api_key"


def test_malformed_keys_are_refused_before_any_call() -> None:
    for key in ("ifk_", "ifk_zz_" + "a" * 32, "ifk_" + "0" * 32 + "_short"):
        with pytest.raises(ApiError) as refused:
            api_keys.authenticate(key, settings())
        assert refused.value.status == 401
    assert api_keys.key_hash("ifk_x") == hashlib.sha256(b"ifk_x").hexdigest()
