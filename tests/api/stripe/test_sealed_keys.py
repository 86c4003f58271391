"""The Stripe secrets under the project's envelope encryption (shared/envelope.py through
shared/stripe_keys.py): stored in the envelope's form under the payment keys' KMS key,
each bound to its column and organization; values sealed by the first format still open
(the webhook verifies with them) until jobsSealFields seals them again, once."""

from __future__ import annotations

import base64
import json
import os
import secrets
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from devstack.functions import FunctionHost
from shared import stripe_keys
from tests.api.conftest import Api, World
from tests.api.portal.helpers import sent_invoice
from tests.api.stripe.helpers import connect, intent_event, post_event

COLUMNS = stripe_keys.COLUMNS


def stored(world: World, org: str) -> dict[str, str]:
    row = world.sql(
        "select secret_key_sealed, webhook_secret_sealed, handler_key_sealed"
        " from private.stripe_accounts where organization_id = %s",
        org,
    )[0]
    return dict(zip(COLUMNS, (str(v) for v in row), strict=True))


def first_format(secret: str, org: str) -> str:
    """A value as shared/stripe_keys.py sealed it before it used the envelope."""
    kms = boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    made = kms.generate_data_key(
        KeyId=os.environ["PAYMENT_KEYS_KMS_KEY_ID"],
        KeySpec="AES_256",
        EncryptionContext={"organization_id": org},
    )
    nonce = secrets.token_bytes(12)
    cipher = AESGCM(made["Plaintext"]).encrypt(nonce, secret.encode(), org.encode())

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return json.dumps({"v": 1, "k": b64(made["CiphertextBlob"]), "n": b64(nonce), "c": b64(cipher)})


@pytest.fixture
def organization(api: Api, world: World) -> str:
    name = f"sealer-{secrets.token_hex(4)}"
    person = world.add_person(name)
    connect(api, as_=name)
    return person.personal_org


def test_the_keys_are_sealed_by_the_envelope_per_column(world: World, organization: str) -> None:
    values = stored(world, organization)
    key_arn = boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).describe_key(
        KeyId=os.environ["PAYMENT_KEYS_KMS_KEY_ID"]
    )["KeyMetadata"]["Arn"]
    for column in COLUMNS:
        sealed = json.loads(values[column])
        assert set(sealed) == {"v", "kid", "dk", "n", "c"}
        assert sealed["kid"] == key_arn  # the payment keys' own key, not the fields' key
        assert stripe_keys.unseal(values[column], organization, column)
    assert stripe_keys.unseal(values["secret_key_sealed"], organization, "secret_key_sealed") != (
        stripe_keys.unseal(values["webhook_secret_sealed"], organization, "webhook_secret_sealed")
    )
    with pytest.raises(stripe_keys.SealError):  # another column's context
        stripe_keys.unseal(values["webhook_secret_sealed"], organization, "secret_key_sealed")
    with pytest.raises(stripe_keys.SealError):  # another organization's
        stripe_keys.unseal(values["secret_key_sealed"], world.org_b, "secret_key_sealed")


def test_the_first_format_opens_until_the_job_seals_it_again(
    api: Api, world: World, organization: str, function_host: FunctionHost
) -> None:
    before = stored(world, organization)
    clear = {c: stripe_keys.unseal(before[c], organization, c) for c in COLUMNS}
    old = {c: first_format(clear[c], organization) for c in COLUMNS}
    world.sql(
        "update private.stripe_accounts set secret_key_sealed = %s, webhook_secret_sealed = %s,"
        " handler_key_sealed = %s where organization_id = %s",
        old["secret_key_sealed"],
        old["webhook_secret_sealed"],
        old["handler_key_sealed"],
        organization,
    )
    invoice = sent_invoice(world, organization)
    # The webhook opens the first format (its secret verifies Stripe's signature).
    reply = post_event(api, world, organization, intent_event(invoice, 4000))
    assert reply.status == 200, reply.json()
    assert reply.json()["status"] == "processed"

    result = function_host.invoke_by_name("jobsSealFields", {})
    assert result["stripe_accounts_resealed"] >= 1, result
    assert result["stripe_accounts_failed"] == 0, result
    after = stored(world, organization)
    for column in COLUMNS:
        assert "kid" in json.loads(after[column])
        assert "k" not in json.loads(after[column])
        assert stripe_keys.unseal(after[column], organization, column) == clear[column]
    assert function_host.invoke_by_name("jobsSealFields", {})["stripe_accounts_resealed"] == 0

    reply = post_event(api, world, organization, intent_event(invoice, 1000))
    assert reply.status == 200, reply.json()
    assert reply.json()["status"] == "processed"


def test_the_job_leaves_a_row_written_meanwhile(world: World, organization: str) -> None:
    values: dict[str, Any] = stored(world, organization)
    answer = world.sql(
        "select public.reseal_stripe_account(%s, %s::jsonb, %s::jsonb)",
        organization,
        json.dumps(dict.fromkeys(COLUMNS, "not what is stored")),
        json.dumps(values),
    )[0][0]
    assert answer is False
    assert stored(world, organization) == values
