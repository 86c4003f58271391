"""The Stripe stand-in (devstack/stripe_standin.py) for the session, the library pointed
at it, a KMS key in moto for the payment keys, and the client page's URL at the API
Gateway emulator (so the stand-in's webhook deliveries reach the functions)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack import stripe_standin
from devstack.aws import Provisioned
from devstack.postgres import free_port
from devstack.stack import AppServer
from shared import portal
from shared.settings import get_settings


@pytest.fixture(scope="session")
def standin(aws: Provisioned, emulator: str) -> Iterator[stripe_standin.StandinState]:
    port = free_port()
    state = stripe_standin.StandinState()
    url = f"http://127.0.0.1:{port}"
    server = AppServer(stripe_standin.create_app(url, state), port, "stripe-standin").start()
    values = {
        "STRIPE_API_BASE": url,
        "STRIPE_CHECKOUT_ORIGIN": url,
        "PAYMENT_KEYS_KMS_KEY_ID": stripe_standin.provision_kms(aws.endpoint),
        "PORTAL_URL": emulator,
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    portal.config.cache_clear()
    get_settings.cache_clear()
    yield state
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    portal.config.cache_clear()
    server.stop()


@pytest.fixture(autouse=True)
def _portal_at_the_emulator(standin: stripe_standin.StandinState, emulator: str) -> None:
    os.environ["PORTAL_URL"] = emulator
    portal.config.cache_clear()


@pytest.fixture(autouse=True)
def _no_portal_windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The client page's rate windows off (every request comes from one address)."""
    monkeypatch.setenv("PORTAL_TOKEN_LIMIT", "0")
    monkeypatch.setenv("PORTAL_ADDRESS_LIMIT", "0")
    portal.config.cache_clear()
    yield
    portal.config.cache_clear()
