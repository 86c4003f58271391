"""The whole local stack as one object, started in this process: PostgreSQL, the gateway
(REST + Auth), AWS through moto, the functions behind the API Gateway emulator and the
queue pollers. ``make dev`` (devstack/__main__.py) runs one in the foreground; the
reliability suite (reliability/) starts one per session and breaks its parts on purpose:
`restart_postgres`, `stop_aws` / `start_aws`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from moto.server import ThreadedMotoServer

from devstack import queues, stripe_standin
from devstack.aws import Provisioned, provision
from devstack.config import StackConfig
from devstack.functions import FunctionHost, load_functions
from devstack.functions import create_app as create_functions_app
from devstack.keys import Keys
from devstack.openapi import build_openapi
from devstack.postgres import Cluster, bootstrap, free_port, has_platform, persistent_cluster
from devstack.stack import AppServer, GatewayServer

# The Stripe stand-in's port (stripe-mock's): devstack/stripe_standin.py.
STRIPE_STANDIN_PORT = 12111


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def environment(config: StackConfig, aws_url: str) -> dict[str, str]:
    """The variables the functions, the tests and the Supabase clients read."""
    return {
        "SUPABASE_URL": config.public_url,
        "SUPABASE_ANON_KEY": config.keys.anon_key,
        "SUPABASE_SERVICE_ROLE_KEY": config.keys.service_role_key,
        "SUPABASE_JWT_SECRET": config.keys.jwt_secret,
        "DATABASE_URL": config.database_url,
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any credentials
        "AWS_DEFAULT_REGION": "us-east-1",
    }


class _Once:
    """A function's answer, computed by its first caller; callers meanwhile wait for it."""

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any]:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value


@dataclass(frozen=True)
class Ports:
    db: int
    api: int
    aws: int
    functions: int


@dataclass
class LocalStack:
    """A started local stack; `close` (or leaving the ``with``) stops every part."""

    home: Path
    ports: Ports
    seed: bool = True
    cluster: Cluster = field(init=False)
    config: StackConfig = field(init=False)
    aws_url: str = field(init=False)
    functions_url: str = field(init=False)
    stripe_url: str = field(init=False)
    provisioned: Provisioned = field(init=False)
    host: FunctionHost = field(init=False)
    env: dict[str, str] = field(init=False)
    applied: list[str] = field(init=False)
    pollers: list[queues.QueuePoller] = field(init=False, default_factory=list)
    _aws: Any = field(init=False, default=None)
    _running: contextlib.ExitStack = field(init=False, default_factory=contextlib.ExitStack)

    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        running = self._running
        self.cluster = persistent_cluster(self.home, self.ports.db)
        running.callback(self.cluster.stop)
        with psycopg.connect(self.cluster.url) as conn:
            fresh = not has_platform(conn)
        self.applied = bootstrap(self.cluster.url, seed=self.seed and fresh)

        self.config = StackConfig(
            database_url=self.cluster.url,
            public_url=f"http://127.0.0.1:{self.ports.api}",
            keys=Keys.local(),
            minimum_password_length=8,
        )
        self.aws_url = f"http://127.0.0.1:{self.ports.aws}"
        self.start_aws()
        running.callback(self.stop_aws)
        gateway = GatewayServer(self.config, self.ports.api).start()
        running.callback(gateway.stop)

        self.functions_url = f"http://127.0.0.1:{self.ports.functions}"
        # The bucket, queues and sender serverless.yml declares.
        self.provisioned = provision(self.aws_url)
        # Stripe's API, as the local stand-in (the library pointed at it; its checkout
        # page posts the signed webhooks to the functions), and the payment keys' KMS key.
        # Its usual port, else any (a second stack, the reliability suite's, beside make dev).
        port = STRIPE_STANDIN_PORT if _port_is_free(STRIPE_STANDIN_PORT) else free_port()
        self.stripe_url = f"http://127.0.0.1:{port}"
        standin = AppServer(stripe_standin.create_app(self.stripe_url), port, "stripe-standin")
        running.callback(standin.start().stop)
        self.env = (
            environment(self.config, self.aws_url)
            | self.provisioned.environment()
            | {"API_URL": self.functions_url}
            | {
                "PORTAL_URL": self.functions_url,
                "STRIPE_API_BASE": self.stripe_url,
                "STRIPE_CHECKOUT_ORIGIN": self.stripe_url,
                "PAYMENT_KEYS_KMS_KEY_ID": stripe_standin.provision_kms(self.aws_url),
            }
        )
        # The functions read their settings from the environment, as in Lambda.
        os.environ.update(self.env)
        self.host = FunctionHost(load_functions())
        running.callback(self.host.close)
        # Lambda's SQS event source mappings (queue workers get their messages) and S3's
        # triggers (the uploads bucket's notifications reach their function).
        self.pollers = running.enter_context(
            queues.running(
                self.host,
                self.provisioned.queue_urls(),
                self.aws_url,
                self.provisioned.bucket_events(),
            )
        )
        # The OpenAPI document imports every function's module (seconds on a busy
        # machine): built once, in the background from the start, so the first
        # GET /api/openapi.json waits for that one build at most.
        openapi = _Once(build_openapi)
        threading.Thread(target=openapi, name="openapi-warm-up", daemon=True).start()
        functions = AppServer(
            create_functions_app(self.host, openapi), self.ports.functions, "functions"
        ).start()
        running.callback(functions.stop)

    # -- faults -----------------------------------------------------------------------

    def restart_postgres(self, down_for: float = 0.0) -> None:
        """Stops PostgreSQL (fast mode: sessions are cut, open transactions roll back),
        waits ``down_for`` seconds, and starts it again on the same port and data."""

        self.cluster.stop()
        if down_for:
            time.sleep(down_for)
        self.cluster.start()

    def poller(self, function: str) -> queues.QueuePoller:
        """The poller delivering to ``function`` (stop it to hold its queue's messages)."""
        return next(p for p in self.pollers if p.spec.name == function)

    def stop_aws(self) -> None:
        """AWS unreachable: connections to S3, SES and SQS are refused. moto's state
        (buckets, queues, sent mail) lives in this process and survives `start_aws`."""
        if self._aws is not None:
            self._aws.stop()
            self._aws = None

    def start_aws(self) -> None:
        if self._aws is None:
            self._aws = ThreadedMotoServer(
                ip_address="127.0.0.1", port=self.ports.aws, verbose=False
            )
            self._aws.start()

    def close(self) -> None:
        self._running.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
