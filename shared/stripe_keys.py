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
"""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared import aws, envelope

if TYPE_CHECKING:
    from shared.jobs import Job

Column = Literal["secret_key_sealed", "webhook_secret_sealed", "handler_key_sealed"]
COLUMNS: tuple[Column, ...] = ("secret_key_sealed", "webhook_secret_sealed", "handler_key_sealed")
RESEAL_CHUNK = 100


class SealError(Exception):
    """A sealed secret that cannot be opened (tampered, another organization's or
    column's, no key). Its message never contains the secret."""


def _key_id() -> str:
    key = os.environ.get("PAYMENT_KEYS_KMS_KEY_ID")
    if not key:
        raise SealError("PAYMENT_KEYS_KMS_KEY_ID is not set")
    return key


def context(column: Column, organization_id: str) -> str:
    return f"stripe_accounts.{column}/{organization_id}"


def seal(secret: str, organization_id: str, column: Column) -> str:
    """``secret`` sealed for ``column`` of ``organization_id``'s account (the JSON text
    stored)."""
    try:
        sealed = envelope.seal(secret, context=context(column, organization_id), key=_key_id())
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
    key = aws.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(parts["k"]),
        EncryptionContext={"organization_id": organization_id},
    )["Plaintext"]
    plain = AESGCM(key).decrypt(
        base64.b64decode(parts["n"]), base64.b64decode(parts["c"]), organization_id.encode()
    )
    return plain.decode("utf-8")


def reseal_accounts(job: Job) -> dict[str, Any]:
    """Seals again, in the envelope's form, the accounts whose secrets are in the first
    format: ``RESEAL_CHUNK`` accounts a read (keyset by organization), each update guarded
    on the values read (an admin reconnecting meanwhile wins). Resumes where a run
    stopped; a second run finds nothing."""
    from shared.jobs import TIME_RESERVE_MS  # noqa: PLC0415

    resealed, failed, after = 0, 0, "00000000-0000-0000-0000-000000000000"
    while job.time_left_ms() > TIME_RESERVE_MS:
        rows = job.rpc("stripe_accounts_to_reseal", {"after": after, "max_rows": RESEAL_CHUNK})
        rows = rows if isinstance(rows, list) else []
        for row in rows:
            org = str(row["organization_id"])
            try:
                fresh = {
                    column: seal(unseal(str(row[column]), org, column), org, column)
                    if is_legacy(str(row[column]))
                    else str(row[column])
                    for column in COLUMNS
                }
            except SealError as error:  # left as it is, counted and logged (no secret in it)
                job.warning("a Stripe account's secrets could not be resealed", error=str(error))
                failed += 1
                continue
            done = job.rpc(
                "reseal_stripe_account",
                {
                    "organization_id": org,
                    "old": {column: row[column] for column in COLUMNS},
                    "new": fresh,
                },
            )
            resealed += 1 if done is True else 0
        if len(rows) < RESEAL_CHUNK:
            return {"stripe_accounts_resealed": resealed, "stripe_accounts_failed": failed}
        after = str(rows[-1]["organization_id"])
    return {
        "stripe_accounts_resealed": resealed,
        "stripe_accounts_failed": failed,
        "unfinished": True,
    }
