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

_clients: dict[str, Any] = {}
_lock = threading.Lock()
_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
)


def client(service: str) -> Any:
    """The instance's client for ``service`` ("s3", "ses", "sqs", ...)."""
    with _lock:
        found = _clients.get(service)
        if found is None:
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            make: Any = boto3.client  # typed per literal service name; ours is a variable
            found = make(service, region_name=region or "us-east-1", config=_CONFIG)
            _clients[service] = found
        return found


def reset() -> None:
    """Forgets the clients (tests that move AWS_ENDPOINT_URL, the local emulator)."""
    with _lock:
        _clients.clear()
