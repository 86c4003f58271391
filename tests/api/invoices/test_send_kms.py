"""POST /api/invoices/{id}/send with KMS unreachable: the organization's sealed tax id and
IBAN and the client's sealed VAT id cannot be opened, so nothing can be sent. That is a
dependency down, a retryable 503 with Retry-After (it was a 500 ``internal_error``: the
envelope's unwrap turned the connection error into an EnvelopeError nobody mapped), and
the invoice stays unsent. Once KMS is back the same send goes through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared import aws as shared_aws
from shared import envelope
from shared.settings import get_settings
from tests.api.conftest import Api, World
from tests.api.invoices.test_einvoice import an_invoice, german_client, german_organization

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def kms_away(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``kms_away(True)``: KMS unreachable (a closed port) with no data key cached, as a
    fresh Lambda instance meets it; ``kms_away(False)`` (and the test's end): back."""

    def move(away: bool) -> None:
        if away:
            monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9")
        else:
            monkeypatch.undo()
        get_settings.cache_clear()
        shared_aws.reset()
        envelope.forget_keys()

    yield move
    move(False)


def test_kms_unreachable_is_a_retryable_503_and_sends_nothing(
    api: Api, world: World, kms_away: Any
) -> None:
    owner = german_organization(api, world)
    invoice = an_invoice(api, owner, german_client(api, owner))
    path = f"/api/invoices/{invoice['id']}/send"
    body = {"to": ["0@0.0"], "subject": "0", "message": "", "cc": [], "bcc": []}

    kms_away(True)
    reply = api.post(path, as_=owner, json_body=body)
    assert reply.status == 503, reply.json()
    assert reply.error["code"] == "service_unavailable"
    assert reply.headers.get("retry-after")
    assert world.sql("select status from public.invoices where id = %s", invoice["id"]) == [
        ("draft",)
    ]

    kms_away(False)
    again = api.post(path, as_=owner, json_body=body)
    assert again.status == 200, again.json()


def test_kms_unreachable_when_sealing_is_a_503_and_changes_nothing(
    api: Api, world: World, kms_away: Any
) -> None:
    """A new tax id is sealed under a fresh data key (none cached): KMS away is a 503,
    and the settings keep the tax id they had."""
    owner = german_organization(api, world)
    kms_away(True)
    reply = api.put("/api/settings/business", as_=owner, json_body={"tax_id": "DE811907980"})
    assert reply.status == 503, reply.json()
    assert reply.error["code"] == "service_unavailable"
    kms_away(False)
    business = api.get("/api/settings", as_=owner).json()
    assert "DE136695976" in str(business), business
