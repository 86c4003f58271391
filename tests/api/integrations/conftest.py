"""Fixtures of the integrations tests: an organization of their own (its owner wendy, so
that the events of the other tests' organization A never reach these endpoints), a local
receiver that verifies signatures, and the webhook jobs driven by hand."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devstack.aws import CREDENTIALS, REGION, Provisioned
from devstack.functions import FunctionHost
from devstack.queues import QueuePoller
from devstack.webhook_receiver import Receiver
from shared.settings import get_settings
from tests.api.conftest import Api, World


@pytest.fixture(scope="session")
def wendy(world: World) -> str:
    """Wendy's organization (she owns it), for the webhook tests; maria is no member."""
    if "wendy" not in world.people:
        world.add_person("wendy")
    return world.people["wendy"].personal_org


@pytest.fixture
def fast_retries(aws: Provisioned) -> Iterator[None]:
    """Three tries, no wait between them, plain HTTP to 127.0.0.1 (the local stage)."""
    values = {
        "WEBHOOK_RETRY_BASE_SECONDS": "0",
        "WEBHOOK_MAX_ATTEMPTS": "3",
        "WEBHOOK_TIMEOUT_SECONDS": "5",
        "WEBHOOK_ALLOW_HTTP": "true",
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    get_settings.cache_clear()
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


class Hooks:
    """The dispatcher and the worker, run by hand as EventBridge and SQS would."""

    def __init__(self, host: FunctionHost, aws: Provisioned) -> None:
        self.host = host
        self.aws = aws
        self.poller = QueuePoller(
            host, host.by_name["jobsWebhookWorker"], aws.webhook_queue_url, aws.endpoint
        )
        self.sqs: Any = boto3.client(
            "sqs",
            endpoint_url=aws.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        )

    def dispatch(self) -> dict[str, Any]:
        result: dict[str, Any] = self.host.invoke_by_name("jobsWebhookDispatch", {})
        return result

    def drain(self) -> None:
        for _ in range(20):
            self.dispatch()
            delivery = self.poller.drain(timeout=60)
            assert not delivery.errors, delivery.errors
            if delivery.received == 0:
                return

    def dead_letters(self) -> list[str]:
        bodies: list[str] = []
        while True:
            reply = self.sqs.receive_message(
                QueueUrl=self.aws.webhook_dead_letter_queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
            )
            messages = reply.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                self.sqs.delete_message(
                    QueueUrl=self.aws.webhook_dead_letter_queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                )


@pytest.fixture
def hooks(function_host: FunctionHost, aws: Provisioned, fast_retries: None) -> Hooks:
    return Hooks(function_host, aws)


def endpoint(
    api: Api, url: str, events: list[str], *, as_: str = "wendy", org: str | None = None
) -> dict[str, Any]:
    reply = api.post(
        "/api/webhook-endpoints",
        as_=as_,
        org=org,
        json_body={"url": url, "event_types": events, "description": "tests"},
    )
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
