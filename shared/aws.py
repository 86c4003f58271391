"""boto3 clients, one per service per Lambda instance (only functions that touch AWS
import this module: the import-cost test keeps boto3 out of every other route).

Region and endpoint are boto3's own: ``AWS_REGION``/``AWS_DEFAULT_REGION`` and
``AWS_ENDPOINT_URL`` (set by ``make dev`` to the moto server), so the same code reaches
moto locally and AWS in production.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

_clients: dict[tuple[str, str | None, str], Any] = {}
_lock = threading.Lock()
_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
)
# S3 signs with Signature Version 4, so a presigned URL expires as asked (``X-Amz-Expires``;
# botocore still presigns with the deprecated version 2 in us-east-1), and waits longer for
# an 8 MiB upload part.
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4", read_timeout=20))


def client(service: str) -> Any:
    """The instance's client for ``service`` ("s3", "ses", "sqs", ...), one per endpoint and
    region of the environment (tests and the local stack move ``AWS_ENDPOINT_URL``)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key = (service, os.environ.get("AWS_ENDPOINT_URL"), region)
    with _lock:
        found = _clients.get(key)
        if found is None:
            make: Any = boto3.client  # typed per literal service name; ours is a variable
            config = _S3_CONFIG if service == "s3" else _CONFIG
            found = make(service, region_name=region, config=config)
            _clients[key] = found
        return found


def reset() -> None:
    """Forgets the clients (tests that move AWS_ENDPOINT_URL, the local emulator)."""
    with _lock:
        _clients.clear()
