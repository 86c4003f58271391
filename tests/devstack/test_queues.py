"""devstack.queues: Lambda's SQS event source mapping against a moto server — batches as
``aws:sqs`` events, reported item failures and crashed batches left on the queue (and
moved to the dead-letter queue by the redrive policy), the rest deleted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from devstack.aws import CREDENTIALS, REGION, queue_with_dead_letters
from devstack.functions import FunctionHost, FunctionSpec, load_functions
from devstack.postgres import free_port
from devstack.queues import BucketEventPoller, QueuePoller, pollers
from tests.devstack import sqs_probe


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _queues(endpoint: str, name: str) -> tuple[Any, str, str]:
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    queue, dead = queue_with_dead_letters(sqs, name, visibility_seconds=0, max_receives=2)
    return sqs, queue, dead


def _probe(batch_size: int = 10) -> FunctionSpec:
    return FunctionSpec(
        name="probe",
        module="tests.devstack.sqs_probe",
        attribute="handler",
        method=None,
        path=None,
        timeout=10,
        queue=True,
        queue_resource="ProbeQueue",
        batch_size=batch_size,
        reports_item_failures=True,
    )


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_serverless_yml_sqs_sources_are_read() -> None:
    for spec in load_functions():
        if spec.queue:
            assert spec.queue_resource, spec.name
            assert 1 <= spec.batch_size <= 10


def test_messages_are_delivered_in_batches_and_deleted(endpoint: str) -> None:
    sqs, queue, _ = _queues(endpoint, "probe-ok")
    for i in range(23):
        sqs.send_message(QueueUrl=queue, MessageBody=f"m{i}")
    host = FunctionHost([_probe(batch_size=5)], workers=1)
    try:
        sqs_probe.SEEN.clear()
        found = pollers(host, {"ProbeQueue": queue}, endpoint)
        assert len(found) == 1
        total = found[0].drain(timeout=30)
    finally:
        host.close()
    assert total.received == 23
    assert total.deleted == 23
    assert sorted(sqs_probe.SEEN) == sorted(f"m{i}" for i in range(23))
    assert _count(sqs, queue) == 0


def test_reported_failures_stay_and_reach_the_dead_letter_queue(endpoint: str) -> None:
    sqs, queue, dead = _queues(endpoint, "probe-fail")
    sqs.send_message(QueueUrl=queue, MessageBody="fine")
    sqs.send_message(QueueUrl=queue, MessageBody="fail")
    host = FunctionHost([_probe()], workers=1)
    try:
        sqs_probe.SEEN.clear()
        poller = QueuePoller(host, _probe(), queue, endpoint)
        first = poller.drain(timeout=30, idle_polls=2)
    finally:
        host.close()
    # "fine" once; "fail" delivered until its receive count passes maxReceiveCount (2).
    assert sqs_probe.SEEN.count("fine") == 1
    assert sqs_probe.SEEN.count("fail") == 2
    assert first.deleted == 1
    assert _count(sqs, queue) == 0
    moved = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in moved] == ["fail"]


def test_a_crashed_batch_is_left_on_the_queue(endpoint: str) -> None:
    sqs, queue, _ = _queues(endpoint, "probe-crash")
    sqs.send_message(QueueUrl=queue, MessageBody="crash")
    host = FunctionHost([_probe()], workers=1)
    try:
        poller = QueuePoller(host, _probe(), queue, endpoint)
        delivery = poller.poll_once(wait_seconds=0)
    finally:
        host.close()
    assert delivery.received == 1
    assert delivery.deleted == 0
    assert delivery.failed == 1
    assert "RuntimeError" in delivery.errors[0]
    assert _count(sqs, queue) == 1


def test_background_pollers_start_and_stop(endpoint: str) -> None:
    sqs, queue, _ = _queues(endpoint, "probe-background")
    host = FunctionHost([_probe()], workers=1)
    errors: list[str] = []
    try:
        sqs_probe.SEEN.clear()
        poller = QueuePoller(host, _probe(), queue, endpoint).start(errors.append)
        sqs.send_message(QueueUrl=queue, MessageBody="later")
        deadline = time.monotonic() + 15
        while "later" not in sqs_probe.SEEN and time.monotonic() < deadline:
            time.sleep(0.05)
        poller.stop()
    finally:
        host.close()
    assert "later" in sqs_probe.SEEN
    assert errors == []


def test_bucket_notifications_reach_the_s3_triggered_function(endpoint: str) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    sqs, queue, _ = _queues(endpoint, "probe-bucket-events")
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.create_bucket(Bucket="probe-uploads")
    s3.put_bucket_notification_configuration(
        Bucket="probe-uploads",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    s3.put_object(Bucket="probe-uploads", Key="org/imports/a file.csv", Body=b"x")
    s3.put_object(Bucket="probe-uploads", Key="org/imports/notes.txt", Body=b"x")
    spec = FunctionSpec(
        name="s3probe",
        module="tests.devstack.sqs_probe",
        attribute="s3_handler",
        method=None,
        path=None,
        timeout=10,
        s3_bucket="uploads",
        s3_suffix=".csv",
    )
    host = FunctionHost([spec], workers=1)
    try:
        sqs_probe.S3_SEEN.clear()
        found = pollers(host, {}, endpoint, {"uploads": queue})
        assert [type(p) for p in found] == [BucketEventPoller]
        total = found[0].drain(timeout=30)
    finally:
        host.close()
    # The test event and the .txt object are dropped; the key arrives URL-encoded, as S3
    # sends it.
    assert sqs_probe.S3_SEEN == ["org/imports/a+file.csv"]
    assert total.failed == 0
    assert _count(sqs, queue) == 0


def test_serverless_yml_s3_sources_are_read() -> None:
    worker = [s for s in load_functions() if s.s3_bucket]
    assert worker, "no function has an s3 event"
    for spec in worker:
        assert spec.s3_event.startswith("s3:ObjectCreated")
