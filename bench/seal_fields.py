"""``python -m bench.seal_fields [--rows 1000] [--json]``: what jobsSealFields costs over N
rows, and what it does when KMS goes away in the middle of a run.

* A whole local stack as ``make dev`` runs it (LocalStack in a temporary home, the seed):
  PostgreSQL, the REST gateway, moto (KMS), the API Gateway emulator.
* N vendors of the demo organization with a sealed IBAN (and its keyed hash), and N
  organizations with Stripe connected (their three secrets sealed under the payment keys'
  key), written in SQL.
* Each mode invoked through Lambda's Invoke API on the emulator (as
  ``python -m devstack.invoke jobsSealFields --event ...``), then once more (nothing left
  to do; the fields once more to a third key, the function warm): ``rewrap_to`` (the
  fields, one ReEncrypt a row), ``rewrap_payment_keys_to`` (the Stripe secrets, three
  ReEncrypts an account, one guarded RPC), ``{}`` over the accounts turned into the first
  format (three Decrypts and the new seals an account).
* KMS away: a ``rewrap_payment_keys_to`` run with moto stopped a few seconds in (as
  `reliability` stops it); the run's answer, how long it took to stop, that no account is
  half moved (its three values under one key), and the next run (moto back) finishing.
* moto runs in this process, as under ``make dev``: its time is in the figures (a KMS call
  is moto's HTTP server here, AWS's ~5-10 ms in a region).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from devstack.local import LocalStack, Ports
from devstack.postgres import free_port
from shared import aws as shared_aws
from shared import envelope, stripe_keys
from shared.payables import bank_accounts
from shared.settings import get_settings

COLUMNS = stripe_keys.COLUMNS


def _first_format(kms: Any, secret: str, org: str) -> str:
    """A value as stripe_keys' first format sealed it (its own data key, the organization
    as KMS encryption context)."""
    made = kms.generate_data_key(
        KeyId=os.environ["PAYMENT_KEYS_KMS_KEY_ID"],
        KeySpec="AES_256",
        EncryptionContext={"organization_id": org},
    )
    nonce = os.urandom(12)
    cipher = AESGCM(made["Plaintext"]).encrypt(nonce, secret.encode(), org.encode())

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return json.dumps({"v": 1, "k": b64(made["CiphertextBlob"]), "n": b64(nonce), "c": b64(cipher)})


def _invoke(api: httpx.Client, event: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    reply = api.post("/2015-03-31/functions/jobsSealFields/invocations", json=event)
    elapsed = time.perf_counter() - started
    body: dict[str, Any] = reply.json()
    body.pop("fields", None)
    return round(elapsed, 2), body


def _keys_of(conn: psycopg.Connection[Any], orgs: list[str]) -> list[set[str | None]]:
    rows = conn.execute(
        "select secret_key_sealed, webhook_secret_sealed, handler_key_sealed"
        " from private.stripe_accounts where organization_id = any(%s::uuid[])",
        (orgs,),
    ).fetchall()
    return [{json.loads(v).get("kid") for v in row} for row in rows]


def run(rows: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="bench-seal-"))
    os.chmod(home, 0o755)  # noqa: S103 - the postgres user must traverse it
    ports = Ports(db=free_port(), api=free_port(), aws=free_port(), functions=free_port())
    saved = dict(os.environ)
    local = LocalStack(home / "stack", ports, seed=True)
    out: dict[str, Any] = {"rows": rows}
    try:
        local.start()
        get_settings.cache_clear()
        shared_aws.reset()
        envelope.forget_keys()
        kms = boto3.client("kms", endpoint_url=local.aws_url)
        with psycopg.connect(local.cluster.url, autocommit=True) as conn:
            demo = str(
                conn.execute(
                    "select m.organization_id from public.memberships m join auth.users u"
                    " on u.id = m.user_id where u.email = 'demo@invoiceflow.local' limit 1"
                ).fetchone()[0]  # type: ignore[index]
            )
            vendors = []
            for n in range(rows):
                columns = bank_accounts.vendor_columns(demo, f"DE89370400440{n:09d}")
                vendors.append((demo, json.dumps(columns["iban_sealed"]), columns["iban_hash"]))
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into public.vendors (organization_id, name, iban_sealed, iban_hash)"
                    " values (%s, 'Bench vendor', %s::jsonb, %s)",
                    vendors,
                )
            orgs = [str(uuid.uuid4()) for _ in range(rows)]
            accounts = []
            for n, org in enumerate(orgs):
                sealed = [stripe_keys.seal(f"sk_test_{n}_{c}", org, c) for c in COLUMNS]
                token = f"bench_{org.replace('-', '')}"
                accounts.append((org, token, sealed[0], sealed[1], "a" * 64, sealed[2]))
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into public.organizations (id, name) values (%s, 'Bench')",
                    [(o,) for o in orgs],
                )
                cur.executemany(
                    "insert into private.stripe_accounts (organization_id, endpoint_token,"
                    " secret_key_sealed, webhook_secret_sealed, handler_key, handler_key_sealed,"
                    " livemode) values (%s, %s, %s, %s, %s, %s, false)",
                    accounts,
                )

            api = httpx.Client(base_url=local.functions_url, timeout=900)
            fields_next = kms.create_key(Description="fields, next")["KeyMetadata"]["Arn"]
            fields_third = kms.create_key(Description="fields, third")["KeyMetadata"]["Arn"]
            payments_next = kms.create_key(Description="payments, next")["KeyMetadata"]["Arn"]
            for name, event in [
                ("rewrap_to (the function's first run)", {"rewrap_to": fields_next}),
                ("rewrap_to, again", {"rewrap_to": fields_next}),
                ("rewrap_to, to a third key (warm)", {"rewrap_to": fields_third}),
                ("rewrap_payment_keys_to", {"rewrap_payment_keys_to": payments_next}),
                ("rewrap_payment_keys_to, again", {"rewrap_payment_keys_to": payments_next}),
            ]:
                out[name] = _invoke(api, event)

            legacy = [
                (*(_first_format(kms, f"sk_test_{n}_{c}", org) for c in COLUMNS), org)
                for n, org in enumerate(orgs)
            ]
            with conn.cursor() as cur:
                cur.executemany(
                    "update private.stripe_accounts set secret_key_sealed = %s,"
                    " webhook_secret_sealed = %s, handler_key_sealed = %s"
                    " where organization_id = %s",
                    legacy,
                )
            out["{} (first format)"] = _invoke(api, {})
            out["{}, again"] = _invoke(api, {})

            # KMS away a few seconds into a run, back for the next one.
            third = kms.create_key(Description="payments, third")["KeyMetadata"]["Arn"]
            away_after = max(1.0, out["rewrap_payment_keys_to"][0] / 3)
            stopper = threading.Timer(away_after, local.stop_aws)
            stopper.start()
            event = {"rewrap_payment_keys_to": third}
            out[f"KMS stopped after {away_after:.1f} s"] = _invoke(api, event)
            stopper.join()
            kids = _keys_of(conn, orgs)
            out["accounts moved before the stop"] = sum(1 for k in kids if k == {third})
            out["accounts half moved"] = sum(1 for k in kids if len(k) > 1)
            local.start_aws()
            out["next run, KMS back"] = _invoke(api, event)
            kids = _keys_of(conn, orgs)
            out["accounts under the new key at the end"] = sum(1 for k in kids if k == {third})
        out["load"] = [round(x, 2) for x in os.getloadavg()]
        return out
    finally:
        local.close()
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.seal_fields", description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.rows)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, value in result.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
