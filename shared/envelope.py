"""KMS envelope encryption of sensitive fields, and keyed hashes to search them.

A value is sealed with AES-256-GCM (``cryptography``) under a data key that KMS made
(``GenerateDataKey``); what is stored is the data key as KMS wrapped it, the nonce, the
ciphertext and the id of the KMS key — never the clear data key, which only KMS can
unwrap (``Decrypt``). Locally the KMS is moto's (devstack/aws.py makes the key and sets
``KMS_KEY_ID``); in AWS serverless.yml's ``FieldsKey``, and only the functions that seal or
open values may call it (their IAM statements).

What is stored as the key id is the ARN of the key KMS used (an alias may be retargeted
later; Decrypt must name the key that wrapped).

Usage::

    from shared import envelope

    sealed = envelope.seal("DE89 3704 0044 0532 0130 00", context="vendors.tax_id")
    row["tax_id_sealed"] = sealed.to_json()            # jsonb column
    envelope.open_(envelope.Sealed.from_json(row["tax_id_sealed"]), context="vendors.tax_id")
    envelope.keyed_hash("DE893704...", purpose="vendors.tax_id")   # for lookups

``context`` is authenticated with the ciphertext (GCM's associated data): a value moved to
another column or table does not open there. Callers pass a stable string such as
``"<table>.<column>"``, optionally with the organization id.

Data keys. One ``GenerateDataKey`` per value would cost a KMS call per write and, worse,
one ``Decrypt`` per row read. So an instance reuses its data key for at most
``MAX_KEY_USES`` seals or ``MAX_KEY_AGE_SECONDS`` (as the AWS Encryption SDK's caching
does; random 96-bit nonces stay far below GCM's 2^32 limit per key), and keeps up to
``OPENED_KEYS`` unwrapped data keys by their wrapped form, so a list of rows sealed by the
same instance costs one ``Decrypt``.

Rotation (docs/security.md). KMS's automatic rotation keeps the key id and decrypts old
wraps: nothing to do. Moving to another key (a new key id): `rewrap` asks KMS to
``ReEncrypt`` the wrapped data key under the new key — the ciphertext and nonce are
unchanged, the clear data key never leaves KMS; `rewrap_if_needed` is what a bounded job
runs per row.

Failures. Every KMS call goes through `kms_call`: KMS away, timed out, throttled or
failing on its side is `KeyServiceUnavailable` (a route answers a retryable 503; the
re-wrap job stops and resumes next run); a key KMS refuses is an `EnvelopeError` that
names the step and KMS's error code. No botocore error leaves this module.

Keyed hashes: HMAC-SHA256 under ``FIELD_HASH_KEY`` (a secret of the stage, never the clear
value in the database): equal normalized inputs give equal hashes, so a column of hashes can
be indexed and matched in SQL without holding the value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared import aws
from shared.errors import ApiError

VERSION = 1
MAX_KEY_USES = 10_000
MAX_KEY_AGE_SECONDS = 300.0
OPENED_KEYS = 256
NONCE_BYTES = 12


class EnvelopeError(Exception):
    """A value that cannot be sealed or opened (no key configured, a damaged or foreign
    envelope, a wrong context). Its message never contains the value."""


class KeyServiceUnavailable(EnvelopeError, ApiError):
    """KMS could not be reached, timed out, was throttled or failed on its side: a
    dependency down, not a bad value. An `ApiError`, so a route answers it as a retryable
    503 ``service_unavailable`` (it was a 500); an `EnvelopeError` for the callers that
    catch those."""

    def __init__(self) -> None:
        ApiError.__init__(
            self,
            503,
            "service_unavailable",
            "the key service is briefly unavailable; retry shortly",
            headers={"Retry-After": "1"},
        )


# KMS's own codes for "try again later" (besides any 5xx or 429).
_KMS_BUSY_CODES = frozenset(
    {"ThrottlingException", "KMSInternalException", "DependencyTimeoutException"}
)


def _kms_down(error: Exception) -> bool:
    """Whether a KMS call failed because the service is away or busy (as shared.email
    judges SES): a connection error or timeout, a throttle, a 5xx. A request botocore
    refuses to send (a damaged envelope's empty wrapped key) is not KMS being away."""
    if isinstance(error, ParamValidationError):
        return False
    if isinstance(error, BotoCoreError):
        return True
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in _KMS_BUSY_CODES or status >= 500 or status == 429
    return False


_T = TypeVar("_T")


def kms_call(action: str, call: Callable[[Any], _T]) -> _T:
    """``call(kms)`` with the instance's KMS client. Every KMS call of this module (and of
    shared/stripe_keys.py's first format) goes through here, so a failure reads the same
    wherever it happens: KMS away, timed out, throttled or failing on its side is
    `KeyServiceUnavailable` (a retryable 503; a job stops and resumes next run); a key
    KMS refuses (disabled, access denied, unknown, a wrap it does not recognise) is an
    `EnvelopeError` naming ``action`` and KMS's error code, never a value."""
    try:
        return call(_kms())
    except (BotoCoreError, ClientError) as error:
        if _kms_down(error):
            raise KeyServiceUnavailable from error
        code = (
            str(error.response.get("Error", {}).get("Code", "") or "refused")
            if isinstance(error, ClientError)
            else type(error).__name__
        )
        raise EnvelopeError(f"KMS refused to {action} ({code})") from error


@dataclass(frozen=True)
class Sealed:
    """What is stored: the KMS key id, the wrapped data key, the nonce and the ciphertext
    (with GCM's 16-byte tag at its end)."""

    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes

    def to_json(self) -> dict[str, Any]:
        """The jsonb form: ``{"v", "kid", "dk", "n", "c"}`` (bytes as base64)."""
        return {
            "v": VERSION,
            "kid": self.key_id,
            "dk": base64.b64encode(self.wrapped_key).decode(),
            "n": base64.b64encode(self.nonce).decode(),
            "c": base64.b64encode(self.ciphertext).decode(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Sealed:
        if isinstance(data, str):
            data = json.loads(data)
        try:
            if data["v"] != VERSION:
                raise EnvelopeError(f"unknown envelope version {data['v']!r}")
            return cls(
                key_id=str(data["kid"]),
                wrapped_key=base64.b64decode(data["dk"], validate=True),
                nonce=base64.b64decode(data["n"], validate=True),
                ciphertext=base64.b64decode(data["c"], validate=True),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise EnvelopeError("malformed envelope") from error


@dataclass
class _DataKey:
    key_id: str  # as configured (an alias, say)
    arn: str  # the key KMS used, which is what is stored
    clear: bytes
    wrapped: bytes
    made: float
    uses: int = 0


class _Current:
    key: _DataKey | None = None


_lock = threading.Lock()
_current = _Current()
_opened: OrderedDict[bytes, bytes] = OrderedDict()
_arns: dict[str, tuple[str, float]] = {}  # a key's name -> (its ARN, when asked)


def _kms() -> Any:
    return aws.client("kms")


def key_id() -> str:
    """The KMS key new values are sealed under (``KMS_KEY_ID``: an id, ARN or alias)."""
    found = os.environ.get("KMS_KEY_ID")
    if not found:
        raise EnvelopeError("KMS_KEY_ID is not set")
    return found


def _data_key(wanted: str) -> _DataKey:
    now = time.monotonic()
    current = _current.key
    if (
        current is None
        or current.key_id != wanted
        or current.uses >= MAX_KEY_USES
        or now - current.made > MAX_KEY_AGE_SECONDS
    ):
        made = kms_call(
            "make a data key", lambda kms: kms.generate_data_key(KeyId=wanted, KeySpec="AES_256")
        )
        current = _DataKey(
            key_id=wanted,
            arn=made["KeyId"],
            clear=made["Plaintext"],
            wrapped=made["CiphertextBlob"],
            made=now,
        )
        _current.key = current
        _remember(current.wrapped, current.clear)
    current.uses += 1
    return current


def _remember(wrapped: bytes, clear: bytes) -> None:
    _opened[wrapped] = clear
    _opened.move_to_end(wrapped)
    while len(_opened) > OPENED_KEYS:
        _opened.popitem(last=False)


def seal(value: str, *, context: str, key: str | None = None) -> Sealed:
    """``value`` encrypted under a KMS data key, bound to ``context``; the data key is
    made under ``key`` (an id, ARN or alias) when given, else under `key_id` (the
    Stripe secrets have a KMS key of their own: shared/stripe_keys.py)."""
    wanted = key or key_id()
    with _lock:
        data_key = _data_key(wanted)
        clear, wrapped, arn = data_key.clear, data_key.wrapped, data_key.arn
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(clear).encrypt(nonce, value.encode(), context.encode())
    return Sealed(key_id=arn, wrapped_key=wrapped, nonce=nonce, ciphertext=ciphertext)


def _unwrap(sealed: Sealed) -> bytes:
    with _lock:
        clear = _opened.get(sealed.wrapped_key)
        if clear is not None:
            _opened.move_to_end(sealed.wrapped_key)
            return clear
    answer = kms_call(
        "unwrap the data key",
        lambda kms: kms.decrypt(CiphertextBlob=sealed.wrapped_key, KeyId=sealed.key_id),
    )
    clear = bytes(answer["Plaintext"])
    with _lock:
        _remember(sealed.wrapped_key, clear)
    return clear


def open_(sealed: Sealed, *, context: str) -> str:
    """The clear value of ``sealed``; EnvelopeError when it was sealed for another
    context or has been altered."""
    clear = _unwrap(sealed)
    try:
        return AESGCM(clear).decrypt(sealed.nonce, sealed.ciphertext, context.encode()).decode()
    except InvalidTag as error:
        raise EnvelopeError("the value does not open in this context") from error


def seal_json(value: str | None, *, context: str) -> dict[str, Any] | None:
    """`seal` into the jsonb form, None staying None."""
    return None if value is None else seal(value, context=context).to_json()


def open_json(data: Any, *, context: str) -> str | None:
    """`open_` from the jsonb form, None staying None."""
    return None if data is None else open_(Sealed.from_json(data), context=context)


def key_arn(wanted: str) -> str:
    """The ARN of the KMS key ``wanted`` names (an id, ARN or alias), as seals store it
    (``kid``). Asked of KMS once per ``MAX_KEY_AGE_SECONDS`` per name: a re-wrap job
    compares every row with it."""
    now = time.monotonic()
    with _lock:
        known = _arns.get(wanted)
    if known is not None and now - known[1] <= MAX_KEY_AGE_SECONDS:
        return known[0]
    answer = kms_call("describe the key", lambda kms: kms.describe_key(KeyId=wanted))
    found = str(answer["KeyMetadata"]["Arn"])
    with _lock:
        _arns[wanted] = (found, now)
    return found


def rewrap(sealed: Sealed, new_key_id: str) -> Sealed:
    """``sealed`` with its data key wrapped under ``new_key_id`` (an id, ARN or alias) by
    KMS ``ReEncrypt``; the nonce and ciphertext are unchanged and the clear data key never
    leaves KMS."""
    answer = kms_call(
        "re-wrap the data key",
        lambda kms: kms.re_encrypt(
            CiphertextBlob=sealed.wrapped_key,
            SourceKeyId=sealed.key_id,
            DestinationKeyId=new_key_id,
        ),
    )
    return Sealed(
        key_id=answer["KeyId"],
        wrapped_key=answer["CiphertextBlob"],
        nonce=sealed.nonce,
        ciphertext=sealed.ciphertext,
    )


def rewrap_if_needed(data: Any, new_key_id: str) -> dict[str, Any] | None:
    """The jsonb form re-wrapped under ``new_key_id``, or None when it already is (a row
    the rotation job can skip)."""
    sealed = Sealed.from_json(data)
    if sealed.key_id == key_arn(new_key_id):
        return None
    return rewrap(sealed, new_key_id).to_json()


def keyed_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of ``value`` (normalize it first) under ``FIELD_HASH_KEY``, with
    ``purpose`` mixed in so a hash of one field never matches another's; hex."""
    secret = os.environ.get("FIELD_HASH_KEY")
    if not secret:
        raise EnvelopeError("FIELD_HASH_KEY is not set")
    message = purpose.encode() + b"\x00" + value.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def forget_keys() -> None:
    """Drops the cached data keys (tests; a key change)."""
    with _lock:
        _current.key = None
        _opened.clear()
        _arns.clear()
