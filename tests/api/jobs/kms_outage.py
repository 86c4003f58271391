"""A KMS endpoint in front of moto's that goes away at a chosen request (the jobsSealFields
tests: KMS unreachable in the middle of a run, or a write racing a re-wrap)."""

from __future__ import annotations

import http.client
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from shared import aws as shared_aws
from shared import envelope
from shared.settings import get_settings


class KmsOutage:
    """A KMS endpoint forwarding to moto's, which goes away from the ``occurrence``-th
    request whose body holds ``needle`` (a wrapped data key, as botocore sends it in
    base64) until `restore`: each connection is then dropped unanswered, as an
    unreachable KMS's. ``before(body)`` (optional) runs ahead of forwarding a request that
    holds ``needle`` without taking KMS away: a write racing the job."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.needle: str | None = None
        self.occurrence = 1
        self.before: Callable[[], None] | None = None
        self.seen = 0
        self.down = False
        self.dropped = 0
        outage = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outage.holds_needle(body):
                    if outage.before is not None:
                        outage.before()
                    else:
                        outage.seen += 1
                        outage.down = outage.down or outage.seen >= outage.occurrence
                if outage.down:
                    outage.dropped += 1
                    self.close_connection = True
                    return
                outage.forward(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def holds_needle(self, body: bytes) -> bool:
        return self.needle is not None and self.needle.encode() in body

    def forward(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        host = self.upstream.hostname or "127.0.0.1"
        connection = http.client.HTTPConnection(host, self.upstream.port, timeout=10)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        connection.request("POST", request.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        request.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
        connection.close()

    def go_away_at(self, needle: str, occurrence: int = 1) -> None:
        self.needle, self.occurrence, self.seen, self.before = needle, occurrence, 0, None

    def restore(self) -> None:
        self.needle, self.down, self.before = None, False, None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _fresh_clients() -> None:
    get_settings.cache_clear()
    shared_aws.reset()
    envelope.forget_keys()


@contextmanager
def kms_outage(monkeypatch: pytest.MonkeyPatch) -> Iterator[KmsOutage]:
    """The functions reach KMS through a `KmsOutage` (the rest of AWS directly), with
    nothing cached: every unwrap asks KMS, as a fresh instance does."""
    outage = KmsOutage(os.environ["AWS_ENDPOINT_URL"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", outage.url)
    _fresh_clients()
    try:
        yield outage
    finally:
        monkeypatch.undo()
        _fresh_clients()
        outage.close()


def new_key(description: str) -> str:
    """A KMS key in moto (a re-wrap's target): its ARN."""
    kms = boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    arn: str = kms.create_key(Description=description)["KeyMetadata"]["Arn"]
    return arn
