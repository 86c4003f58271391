"""An organization's Stripe secrets, sealed with the project's envelope encryption
(shared/envelope.py) under the payment keys' own KMS key.

Three values per connected account, each a column of ``private.stripe_accounts`` (text
holding the envelope's JSON form): the secret key, the webhook signing secret and the
handler key. Each is bound to its column and its organization (the envelope's context
``stripe_accounts.<column>/<organization id>``): a value copied into another column or
another organization's row does not open. The data key is made under
``PAYMENT_KEYS_KMS_KEY_ID`` (serverless.yml's PaymentKeysKey, moto's locally:
devstack.stripe_standin.provision_kms), not the sensitive fields' key: stripeApi may
only generate data keys under it, stripePayments only decrypt them, and no other
function may do either. Secrets are never logged or answered.

Values sealed before the envelope was used here (``{"v": 1, "k", "n", "c"}``: a data key
per value with the organization as KMS encryption context) still open (`unseal`), and
`reseal_accounts` (run by the jobsSealFields job, functions/jobs/seal_fields.py) seals
them again in the envelope's form, in bounded chunks. Once it has run everywhere and
``select count(*) from private.stripe_accounts where secret_key_sealed::jsonb ? 'k'`` is
0, the legacy opening below can go.

Moving the secrets to another KMS key (``PAYMENT_KEYS_KMS_KEY_ID`` pointed at a new key):
jobsSealFields with ``{"rewrap_payment_keys_to": "<key>"}`` runs `rewrap_accounts`, which
has KMS ``ReEncrypt`` each data key under it (first-format values are sealed anew), in the
same guarded chunks. KMS away (`SealUnavailable`) stops a run before an account is half
written; the next run resumes.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared import envelope

if TYPE_CHECKING:
    from shared.jobs import Job

Column = Literal["secret_key_sealed", "webhook_secret_sealed", "handler_key_sealed"]
COLUMNS: tuple[Column, ...] = ("secret_key_sealed", "webhook_secret_sealed", "handler_key_sealed")
RESEAL_CHUNK = 100


class SealError(Exception):
    """A sealed secret that cannot be opened (tampered, another organization's or
    column's, no key). Its message never contains the secret."""


class SealUnavailable(SealError):
    """KMS away, timed out, throttled or failing on its side (the envelope's
    `KeyServiceUnavailable`): nothing is wrong with the value; retry later. The routes
    answer every SealError as a 503 already; the job stops its run on this one and the
    next run resumes."""


def _key_id() -> str:
    key = os.environ.get("PAYMENT_KEYS_KMS_KEY_ID")
    if not key:
        raise SealError("PAYMENT_KEYS_KMS_KEY_ID is not set")
    return key


def context(column: Column, organization_id: str) -> str:
    return f"stripe_accounts.{column}/{organization_id}"


def seal(secret: str, organization_id: str, column: Column, *, key: str | None = None) -> str:
    """``secret`` sealed for ``column`` of ``organization_id``'s account (the JSON text
    stored), under ``key`` when given (the re-wrap job's target), else the payment keys'
    key."""
    try:
        sealed = envelope.seal(
            secret, context=context(column, organization_id), key=key or _key_id()
        )
    except envelope.KeyServiceUnavailable:
        raise SealUnavailable("the key service is unavailable") from None
    except envelope.EnvelopeError as error:
        raise SealError(str(error)) from None
    return json.dumps(sealed.to_json(), separators=(",", ":"))


def unseal(sealed: str, organization_id: str, column: Column) -> str:
    """The secret (an instance keeps the data keys it unwrapped: envelope's cache)."""
    try:
        parts = json.loads(sealed)
        if isinstance(parts, dict) and "k" in parts:
            return _open_legacy(parts, organization_id)
        return envelope.open_(
            envelope.Sealed.from_json(parts), context=context(column, organization_id)
        )
    except SealError:
        raise
    except envelope.KeyServiceUnavailable:
        raise SealUnavailable("the key service is unavailable") from None
    except Exception as error:  # KMS refusals, bad JSON or base64, a failed tag: one answer
        raise SealError(f"the sealed secret does not open ({type(error).__name__})") from None


def is_legacy(sealed: str) -> bool:
    try:
        parts = json.loads(sealed)
    except ValueError:
        return False
    return isinstance(parts, dict) and "k" in parts


def _open_legacy(parts: dict[str, Any], organization_id: str) -> str:
    """A value sealed by this module's first format (its own data key per value, the
    organization as KMS encryption context and as GCM's associated data)."""
    if parts.get("v") != 1:
        raise SealError("unknown sealed format")
    wrapped = base64.b64decode(parts["k"])
    key = envelope.kms_call(
        "unwrap the data key",
        lambda kms: kms.decrypt(
            CiphertextBlob=wrapped, EncryptionContext={"organization_id": organization_id}
        ),
    )["Plaintext"]
    plain = AESGCM(key).decrypt(
        base64.b64decode(parts["n"]), base64.b64decode(parts["c"]), organization_id.encode()
    )
    return plain.decode("utf-8")


def rewrap(sealed: str, organization_id: str, column: Column, new_key: str) -> str | None:
    """``sealed`` with its data key under ``new_key`` (KMS ``ReEncrypt``: the ciphertext
    is unchanged and the secret never leaves KMS), or None when it already is. A value of
    the first format is opened and sealed anew under ``new_key``, in its column's and
    organization's context."""
    if is_legacy(sealed):
        return seal(unseal(sealed, organization_id, column), organization_id, column, key=new_key)
    try:
        moved = envelope.rewrap_if_needed(json.loads(sealed), new_key)
    except envelope.KeyServiceUnavailable:
        raise SealUnavailable("the key service is unavailable") from None
    except envelope.EnvelopeError as error:
        raise SealError(str(error)) from None
    except ValueError as error:  # not JSON
        raise SealError(f"the sealed secret is damaged ({type(error).__name__})") from None
    return None if moved is None else json.dumps(moved, separators=(",", ":"))


def reseal_accounts(job: Job) -> dict[str, Any]:
    """Seals again, in the envelope's form, the accounts whose secrets are in the first
    format (`stripe_accounts_to_reseal`). Resumes where a run stopped; a second run finds
    nothing."""

    def fresh(org: str, column: Column, value: str) -> str | None:
        return seal(unseal(value, org, column), org, column) if is_legacy(value) else None

    return _walk(job, "stripe_accounts_to_reseal", {}, fresh, done="stripe_accounts_resealed")


def rewrap_accounts(job: Job, new_key: str) -> dict[str, Any]:
    """Moves every account's secrets under ``new_key`` (`rewrap`; the first format is
    converted on the way): the accounts `stripe_accounts_to_rewrap` lists, those with a
    value not under the key's ARN. Resumes where a run stopped; a second run finds
    nothing."""
    try:
        arn = envelope.key_arn(new_key)
    except envelope.KeyServiceUnavailable:
        return _stopped({"stripe_accounts_rewrapped": 0, "stripe_accounts_failed": 0})

    def fresh(org: str, column: Column, value: str) -> str | None:
        return rewrap(value, org, column, new_key)

    return _walk(
        job,
        "stripe_accounts_to_rewrap",
        {"key_arn": arn},
        fresh,
        done="stripe_accounts_rewrapped",
    )


def _stopped(summary: dict[str, Any]) -> dict[str, Any]:
    return {**summary, "unfinished": True, "stopped": "key_service_unavailable"}


def _walk(
    job: Job,
    listing: str,
    params: dict[str, Any],
    fresh: Callable[[str, Column, str], str | None],
    *,
    done: str,
) -> dict[str, Any]:
    """The accounts ``listing`` answers, ``RESEAL_CHUNK`` a read (keyset by
    organization): each column's new value is ``fresh(org, column, value)`` (None: kept),
    and an account's three values are written together by `reseal_stripe_account`,
    guarded on the values read (an admin reconnecting meanwhile wins). An account KMS or
    the value refuses is left as it is, counted and logged (never the secret); KMS away
    stops the run before anything of that account is written (the next run resumes)."""
    from shared.jobs import TIME_RESERVE_MS  # noqa: PLC0415

    written, failed, after = 0, 0, "00000000-0000-0000-0000-000000000000"
    while job.time_left_ms() > TIME_RESERVE_MS:
        rows = job.rpc(listing, {**params, "after": after, "max_rows": RESEAL_CHUNK})
        rows = rows if isinstance(rows, list) else []
        for row in rows:
            org = str(row["organization_id"])
            old = {column: str(row[column]) for column in COLUMNS}
            try:
                new = {column: fresh(org, column, old[column]) or old[column] for column in COLUMNS}
            except SealUnavailable:
                job.warning("KMS is unavailable: the run stops, the next one resumes")
                return _stopped({done: written, "stripe_accounts_failed": failed})
            except SealError as error:
                job.warning(
                    "a Stripe account's secrets could not be sealed again",
                    organization_id=org,
                    error=str(error),
                )
                failed += 1
                continue
            if new == old:
                continue
            answer = job.rpc(
                "reseal_stripe_account", {"organization_id": org, "old": old, "new": new}
            )
            written += 1 if answer is True else 0
        if len(rows) < RESEAL_CHUNK:
            return {done: written, "stripe_accounts_failed": failed}
        after = str(rows[-1]["organization_id"])
    return {done: written, "stripe_accounts_failed": failed, "unfinished": True}
