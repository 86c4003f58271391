"""The webhook worker with the database away: the message comes back after the first
back-off, not after the queue's visibility timeout (360 s). In a reliability run a
delivery its receiver had got stayed `delivering` for that long after a transient 503."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest

from devstack.postgres import free_port
from functions.jobs import webhook_worker
from shared.settings import get_settings
from tests.api.integrations.conftest import Hooks

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def database_away() -> Iterator[None]:
    """The functions' Supabase URL pointing at a port nothing listens on."""
    saved = os.environ["SUPABASE_URL"]
    os.environ["SUPABASE_URL"] = f"http://127.0.0.1:{free_port()}"
    get_settings.cache_clear()
    yield
    os.environ["SUPABASE_URL"] = saved
    get_settings.cache_clear()


def test_a_message_deferred_by_a_database_outage_comes_back_after_the_back_off(
    hooks: Hooks, database_away: None
) -> None:
    queue = hooks.aws.webhook_queue_url
    body = json.dumps({"delivery_id": str(uuid.uuid4())})
    hooks.sqs.send_message(QueueUrl=queue, MessageBody=body)
    received = hooks.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1)
    (message,) = received["Messages"]
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
    }
    try:
        result = webhook_worker.handler({"Records": [record]}, None)
        assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
        # fast_retries: a back-off of 0 s, so it is visible again at once (before: hidden
        # for the queue's visibility timeout).
        again = hooks.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=2)
        assert [m["Body"] for m in again.get("Messages", [])] == [body]
        record["receiptHandle"] = again["Messages"][0]["ReceiptHandle"]
    finally:
        hooks.sqs.delete_message(QueueUrl=queue, ReceiptHandle=record["receiptHandle"])
