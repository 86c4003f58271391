"""An organization's Stripe secrets under KMS envelope encryption.

`seal` asks KMS for a fresh data key (GenerateDataKey, AES-256, the organization's id as
the encryption context), encrypts the secret with it (AES-GCM, the organization's id as
associated data) and forgets the plaintext key: what is stored is the KMS-encrypted data
key, the nonce and the ciphertext (a JSON text, ``v`` 1). `unseal` has KMS decrypt the
data key (kms:Decrypt, granted only to the functions that pay and take webhooks) and
opens the secret. A sealed value moved to another organization does not open (the
context and the associated data differ). Secrets are never logged or answered.

``PAYMENT_KEYS_KMS_KEY_ID``: the key (id, ARN or alias); serverless.yml's
PaymentKeysKey, moto's locally (devstack.stripe_standin.provision_kms).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared import aws


class SealError(Exception):
    """A sealed secret that cannot be opened (tampered, another organization's, no key)."""


def _key_id() -> str:
    key = os.environ.get("PAYMENT_KEYS_KMS_KEY_ID")
    if not key:
        raise SealError("PAYMENT_KEYS_KMS_KEY_ID is not set")
    return key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(secret: str, organization_id: str) -> str:
    context = {"organization_id": organization_id}
    made = aws.client("kms").generate_data_key(
        KeyId=_key_id(), KeySpec="AES_256", EncryptionContext=context
    )
    nonce = secrets.token_bytes(12)
    cipher = AESGCM(made["Plaintext"]).encrypt(
        nonce, secret.encode("utf-8"), organization_id.encode()
    )
    return json.dumps(
        {"v": 1, "k": _b64(made["CiphertextBlob"]), "n": _b64(nonce), "c": _b64(cipher)},
        separators=(",", ":"),
    )


def unseal(sealed: str, organization_id: str) -> str:
    """The secret; opened once per Lambda instance and sealed value (a KMS call saved on
    every later webhook and checkout; a replaced key is another sealed value)."""
    return _unseal(sealed, organization_id)


@lru_cache(maxsize=256)
def _unseal(sealed: str, organization_id: str) -> str:
    try:
        parts = json.loads(sealed)
        if parts.get("v") != 1:
            raise SealError("unknown sealed format")
        key = aws.client("kms").decrypt(
            CiphertextBlob=base64.b64decode(parts["k"]),
            EncryptionContext={"organization_id": organization_id},
        )["Plaintext"]
        plain = AESGCM(key).decrypt(
            base64.b64decode(parts["n"]), base64.b64decode(parts["c"]), organization_id.encode()
        )
    except SealError:
        raise
    except Exception as exc:  # KMS refusals, bad base64, a failed tag: one answer
        raise SealError(f"the sealed secret does not open ({type(exc).__name__})") from None
    return plain.decode("utf-8")
