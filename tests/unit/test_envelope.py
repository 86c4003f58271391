"""shared.envelope against moto's KMS: seal and open, the context bound, tampering
refused, the data key reused within its limits, re-wrapping under another key, keyed
hashes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shared import aws, envelope


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("FIELD_HASH_KEY", "a-test-hash-key-of-the-stage")
    aws.reset()
    envelope.forget_keys()
    with mock_aws():
        client = boto3.client("kms", region_name="us-east-1")
        key = client.create_key(Description="fields")["KeyMetadata"]["KeyId"]
        client.create_alias(AliasName="alias/fields", TargetKeyId=key)
        monkeypatch.setenv("KMS_KEY_ID", "alias/fields")
        yield client
    envelope.forget_keys()
    aws.reset()


def test_a_sealed_value_opens_in_its_context_only(kms: Any) -> None:
    sealed = envelope.seal("DE89 3704 0044 0532 0130 00", context="vendors.tax_id")
    assert b"3704" not in sealed.ciphertext
    stored = sealed.to_json()
    assert "3704" not in str(stored)
    assert envelope.open_json(stored, context="vendors.tax_id") == "DE89 3704 0044 0532 0130 00"
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_json(stored, context="organization_settings.tax_id")


def test_a_tampered_ciphertext_is_refused(kms: Any) -> None:
    stored = envelope.seal("FR7630006000011234567890189", context="c").to_json()
    sealed = envelope.Sealed.from_json(stored)
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    damaged = envelope.Sealed(sealed.key_id, sealed.wrapped_key, sealed.nonce, flipped)
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_(damaged, context="c")


def test_malformed_envelopes_are_refused_without_the_value(kms: Any) -> None:
    for bad in ({}, {"v": 2}, {"v": 1, "kid": "k", "dk": "!!", "n": "", "c": ""}, "null"):
        with pytest.raises(envelope.EnvelopeError):
            envelope.Sealed.from_json(bad)


def test_the_data_key_is_reused_within_its_limits_and_opened_by_kms(
    kms: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(envelope, "MAX_KEY_USES", 3)
    sealed = [envelope.seal(f"value {n}", context="c") for n in range(4)]
    assert sealed[0].wrapped_key == sealed[1].wrapped_key == sealed[2].wrapped_key
    assert sealed[3].wrapped_key != sealed[0].wrapped_key
    assert len({s.nonce for s in sealed}) == 4
    # Another instance (nothing cached) asks KMS to unwrap.
    envelope.forget_keys()
    assert [envelope.open_(s, context="c") for s in sealed] == [f"value {n}" for n in range(4)]


def test_rewrap_moves_the_data_key_under_a_new_kms_key(kms: Any) -> None:
    stored = envelope.seal("12-3456789", context="organization_settings.tax_id").to_json()
    new_key = kms.create_key(Description="fields, next")["KeyMetadata"]["KeyId"]
    moved = envelope.rewrap_if_needed(stored, new_key)
    assert moved is not None
    assert moved["kid"].endswith(new_key)
    assert moved["kid"].startswith("arn:aws:kms:")
    assert stored["kid"].startswith("arn:aws:kms:")  # the key, not the alias
    assert moved["c"] == stored["c"]
    assert moved["n"] == stored["n"]
    assert moved["dk"] != stored["dk"]
    assert envelope.rewrap_if_needed(moved, new_key) is None
    # Nothing cached: KMS unwraps the new wrap with the new key.
    envelope.forget_keys()
    assert envelope.open_json(moved, context="organization_settings.tax_id") == "12-3456789"
    unwrapped = kms.decrypt(CiphertextBlob=envelope.Sealed.from_json(moved).wrapped_key)
    assert unwrapped["KeyId"].endswith(new_key)


def test_keyed_hashes_match_equal_values_per_purpose_and_key(
    kms: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = envelope.keyed_hash("DE123456789", purpose="vendors.tax_id")
    assert first == envelope.keyed_hash("DE123456789", purpose="vendors.tax_id")
    assert len(first) == 64
    assert "123456789" not in first
    assert first != envelope.keyed_hash("DE123456780", purpose="vendors.tax_id")
    assert first != envelope.keyed_hash("DE123456789", purpose="clients.tax_id")
    monkeypatch.setenv("FIELD_HASH_KEY", "another-stage")
    assert first != envelope.keyed_hash("DE123456789", purpose="vendors.tax_id")


def test_missing_configuration_is_an_envelope_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KMS_KEY_ID", raising=False)
    monkeypatch.delenv("FIELD_HASH_KEY", raising=False)
    with pytest.raises(envelope.EnvelopeError, match="KMS_KEY_ID"):
        envelope.seal("x", context="c")
    with pytest.raises(envelope.EnvelopeError, match="FIELD_HASH_KEY"):
        envelope.keyed_hash("x", purpose="p")


# KMS away, busy, or refusing: every call of the module, classified alike (shared.envelope's
# kms_call). Before, rewrap() and the key lookup let botocore's errors out raw (a 500, a
# job's traceback), and a damaged envelope's empty wrapped key read as KMS being away.


@pytest.fixture
def kms_away(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``kms_away()``: KMS unreachable (a closed port), nothing cached, as a fresh
    instance meets it."""

    def move() -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9")
        aws.reset()
        envelope.forget_keys()

    return move


def test_rewrap_with_kms_unreachable_is_key_service_unavailable(kms: Any, kms_away: Any) -> None:
    stored = envelope.seal("12-3456789", context="c").to_json()
    new_key = kms.create_key(Description="fields, next")["KeyMetadata"]["KeyId"]
    kms_away()
    with pytest.raises(envelope.KeyServiceUnavailable) as raised:
        envelope.rewrap(envelope.Sealed.from_json(stored), new_key)
    assert raised.value.status == 503
    assert raised.value.headers == {"Retry-After": "1"}
    with pytest.raises(envelope.KeyServiceUnavailable):  # the key's ARN is asked first
        envelope.rewrap_if_needed(stored, new_key)
    with pytest.raises(envelope.KeyServiceUnavailable):
        envelope.key_arn(new_key)


def test_a_key_kms_refuses_is_an_envelope_error_not_a_botocore_error(kms: Any) -> None:
    stored = envelope.seal("12-3456789", context="c").to_json()
    unknown = "alias/no-such-key"
    with pytest.raises(envelope.EnvelopeError, match="NotFoundException") as raised:
        envelope.rewrap_if_needed(stored, unknown)
    assert not isinstance(raised.value, envelope.KeyServiceUnavailable)
    with pytest.raises(envelope.EnvelopeError, match="NotFoundException"):
        envelope.key_arn(unknown)
    with pytest.raises(envelope.EnvelopeError, match="NotFoundException"):
        envelope.seal("x", context="c", key=unknown)
    # A seal naming another key than the one that wrapped it: KMS denies the unwrap.
    other = kms.create_key(Description="other")["KeyMetadata"]["Arn"]
    envelope.forget_keys()
    forged = {**stored, "kid": other}
    with pytest.raises(envelope.EnvelopeError, match="AccessDeniedException") as denied:
        envelope.open_json(forged, context="c")
    assert not isinstance(denied.value, envelope.KeyServiceUnavailable)
    assert "12-3456789" not in str(denied.value)


def test_a_damaged_envelope_is_refused_not_retried(kms: Any) -> None:
    """An empty wrapped key is a request botocore will not send: a bad value (an
    EnvelopeError), not KMS being away (a 503 a client would retry for ever)."""
    stored = envelope.seal("12-3456789", context="c").to_json()
    envelope.forget_keys()
    with pytest.raises(envelope.EnvelopeError) as raised:
        envelope.open_json({**stored, "dk": ""}, context="c")
    assert not isinstance(raised.value, envelope.KeyServiceUnavailable)
    new_key = kms.create_key(Description="next")["KeyMetadata"]["KeyId"]
    with pytest.raises(envelope.EnvelopeError) as rewrapped:
        envelope.rewrap_if_needed({**stored, "dk": ""}, new_key)
    assert not isinstance(rewrapped.value, envelope.KeyServiceUnavailable)


def test_the_key_arn_is_asked_once_per_key_age(kms: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-wrap job compares every row's key with the target's ARN: one DescribeKey for
    them all (it was one per row), asked again once the cached answer is older than
    MAX_KEY_AGE_SECONDS."""
    target = kms.create_key(Description="next")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/next", TargetKeyId=target)
    arn = envelope.key_arn("alias/next")
    assert arn.endswith(target)
    # The alias is retargeted: the cached answer holds until it ages out.
    third = kms.create_key(Description="third")["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName="alias/next", TargetKeyId=third)
    assert envelope.key_arn("alias/next") == arn
    monkeypatch.setattr(envelope, "MAX_KEY_AGE_SECONDS", -1.0)
    assert envelope.key_arn("alias/next").endswith(third)
