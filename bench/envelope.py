"""The cost of sealed fields (shared/envelope.py), in process against moto's KMS: sealing
1,000 values, opening them in a fresh instance (nothing cached), keyed hashes; and how many
KMS calls each took (the data key is reused and unwrapped keys cached, so a page of rows
is one call, not one per row). ``python -m bench.envelope``; bench/RESULTS.md, Issue 17."""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
from moto import mock_aws

from shared import aws, envelope

N = 1000


class _Counting:
    def __init__(self, client: Any, calls: list[str]) -> None:
        self._client = client
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        self._calls.append(name)
        return getattr(self._client, name)


def main() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's
        AWS_DEFAULT_REGION="us-east-1",
        FIELD_HASH_KEY="bench",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        os.environ["KMS_KEY_ID"] = kms.create_key()["KeyMetadata"]["KeyId"]
        aws.reset()
        envelope.forget_keys()
        calls: list[str] = []
        counting = _Counting(kms, calls)
        envelope._kms = lambda: counting
        started = time.perf_counter()
        sealed = [envelope.seal_json(f"DE{n:09d}", context="vendors.tax_id:x") for n in range(N)]
        seal_ms = (time.perf_counter() - started) * 1000
        seal_calls = len(calls)
        envelope.forget_keys()
        started = time.perf_counter()
        opened = [envelope.open_json(s, context="vendors.tax_id:x") for s in sealed]
        open_ms = (time.perf_counter() - started) * 1000
        assert opened == [f"DE{n:09d}" for n in range(N)]
        started = time.perf_counter()
        for n in range(N):
            envelope.keyed_hash(f"DE{n:09d}", purpose="vendors.tax_id")
        hash_ms = (time.perf_counter() - started) * 1000
        print(
            f"seal {N}: {seal_ms:.1f} ms, {seal_calls} KMS call(s); open {N} in a fresh"
            f" instance: {open_ms:.1f} ms, {len(calls) - seal_calls} KMS call(s);"
            f" keyed hash {N}: {hash_ms:.1f} ms"
        )
        aws.reset()


if __name__ == "__main__":
    main()
