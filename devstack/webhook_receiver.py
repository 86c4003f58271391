"""A local webhook receiver: verifies each delivery's Standard Webhooks signature with the
``standardwebhooks`` library, as a receiver should (docs/integrations.md), and keeps what
it received. For `make dev` (a person watching their webhooks arrive), the tests and
bench/webhooks.py.

    .venv/bin/python -m devstack.webhook_receiver --port 8787 --secret whsec_...

Each path may misbehave on purpose, for the tests and the benchmark:
``/fail/<n>/...`` answers 503 to the first n attempts of each webhook-id, then 204;
``/down/...`` always 500; ``/slow/<ms>/...`` waits before answering 204. Any other path: 204.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    webhook_id: str
    event_type: str
    body: dict[str, Any]
    headers: dict[str, str]
    verified: bool


@dataclass
class Receiver:
    """The server's memory: every request, and the attempts per (path, webhook-id)."""

    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)
    accepted: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    def handle(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        webhook_id = headers.get("webhook-id", "")
        verified = self.verify(body, headers)
        try:
            document = json.loads(body)
        except ValueError:
            document = {}
        parts = path.strip("/").split("/")
        with self.lock:
            self.attempts[(path, webhook_id)] += 1
            tries = self.attempts[(path, webhook_id)]
        status = 204
        if parts[0] == "fail" and len(parts) > 1 and parts[1].isdigit() and tries <= int(parts[1]):
            status = 503
        elif parts[0] == "down":
            status = 500
        elif parts[0] == "slow" and len(parts) > 1 and parts[1].isdigit():
            time.sleep(int(parts[1]) / 1000)
        if not verified:
            status = 401
        with self.lock:
            self.received.append(
                Received(
                    path=path,
                    webhook_id=webhook_id,
                    event_type=str(document.get("type", "")),
                    body=document,
                    headers=headers,
                    verified=verified,
                )
            )
            if 200 <= status < 300:
                self.accepted[(path, webhook_id)] += 1
        return status

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.handle(self.path, body, headers)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--secret", action="append", default=[], help="whsec_... (repeatable)")
    args = parser.parse_args()
    receiver = Receiver(secrets=list(args.secret)).start(args.port)
    print(f"receiving webhooks on {receiver.url}/ (Ctrl-C stops)", flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            with receiver.lock:
                new = receiver.received[seen:]
                seen = len(receiver.received)
            for item in new:
                mark = "signature ok" if item.verified else "SIGNATURE INVALID"
                print(f"{item.webhook_id} {item.event_type} ({mark})", flush=True)
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
