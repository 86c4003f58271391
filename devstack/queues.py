"""Lambda's SQS event source mapping, for the local stack: the functions that
serverless.yml triggers from a queue get their messages delivered as Lambda delivers them.

Each queue-triggered function gets a poller that long-polls its queue in moto, hands up
to ``batchSize`` messages to the function's real ``handler(event, context)`` as an
``aws:sqs`` event, and then does what Lambda does with the answer:

* the handler returned normally: every message is deleted, except those it names in
  ``batchItemFailures`` when the function has ``functionResponseType:
  ReportBatchItemFailures`` (they come back after the visibility timeout, and go to the
  dead-letter queue after the redrive policy's ``maxReceiveCount``, which moto applies);
* the handler raised (a crash, a timeout): nothing is deleted, the whole batch comes back.

Functions with an ``s3`` event get the bucket's notifications the same way
(`BucketEventPoller`): moto's server cannot invoke a function, but it sends a bucket's
notifications to an SQS queue, which devstack/aws.py configures.

`drain` processes until the queue is empty (tests and benchmarks); `start` runs the pollers
in the background (``make dev``).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from devstack.aws import CREDENTIALS, REGION
from devstack.functions import FunctionHost, FunctionSpec


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """What Lambda passes a function for a batch received from ``queue_arn``."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        body = message.get("Body", "")
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", ""),
                    "SenderId": attributes.get("SenderId", "000000000000"),
                    "ApproximateFirstReceiveTimestamp": attributes.get(
                        "ApproximateFirstReceiveTimestamp", ""
                    ),
                },
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody")
                or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


@dataclass
class Delivery:
    """What one poll did."""

    received: int = 0
    deleted: int = 0
    failed: int = 0  # left on the queue (reported failures, or the handler raised)
    errors: list[str] = field(default_factory=list)


class QueuePoller:
    """Delivers one queue's messages to one function."""

    def __init__(
        self,
        host: FunctionHost,
        spec: FunctionSpec,
        queue_url: str,
        endpoint: str,
        *,
        wait_seconds: int = 1,
    ) -> None:
        self.host = host
        self.spec = spec
        self.queue_url = queue_url
        self.wait_seconds = wait_seconds
        self._sqs: Any = boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        )
        self.queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self, wait_seconds: int | None = None) -> Delivery:
        """Receives one batch (waiting up to ``wait_seconds``) and delivers it."""
        reply = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(self.spec.batch_size, 10)),
            WaitTimeSeconds=self.wait_seconds if wait_seconds is None else wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = reply.get("Messages", [])
        delivery = Delivery(received=len(messages))
        if not messages:
            return delivery
        failed = self.deliver(messages, delivery)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        delivery.deleted = len(done)
        delivery.failed = len(messages) - len(done)
        return delivery

    def deliver(self, messages: list[dict[str, Any]], delivery: Delivery) -> set[str]:
        """Hands ``messages`` to the function; the ids of those to leave on the queue."""
        try:
            result = self.host.invoke_by_name(self.spec.name, sqs_event(messages, self.queue_arn))
        except Exception as exc:  # Lambda: the whole batch is retried
            delivery.errors.append(f"{type(exc).__name__}: {exc}")
            return {m["MessageId"] for m in messages}
        failed: set[str] = set()
        if self.spec.reports_item_failures and isinstance(result, Mapping):
            for item in result.get("batchItemFailures") or []:
                if isinstance(item, Mapping) and item.get("itemIdentifier"):
                    failed.add(str(item["itemIdentifier"]))
        return failed

    def drain(self, timeout: float = 120.0, idle_polls: int = 1) -> Delivery:
        """Delivers until the queue has been empty for ``idle_polls`` polls in a row (or
        ``timeout`` seconds pass); the totals of every poll."""
        total = Delivery()
        deadline = time.monotonic() + timeout
        idle = 0
        while idle < idle_polls and time.monotonic() < deadline:
            delivery = self.poll_once(wait_seconds=0)
            total.received += delivery.received
            total.deleted += delivery.deleted
            total.failed += delivery.failed
            total.errors.extend(delivery.errors)
            idle = idle + 1 if delivery.received == 0 else 0
        return total

    def _run(self, on_error: Callable[[str], None]) -> None:
        while not self._stop.is_set():
            try:
                delivery = self.poll_once()
            except Exception as exc:  # moto restarting, the stack stopping
                on_error(f"{self.spec.name}: {type(exc).__name__}: {exc}")
                self._stop.wait(1.0)
                continue
            for error in delivery.errors:
                on_error(f"{self.spec.name}: {error}")

    def start(self, on_error: Callable[[str], None] = print) -> QueuePoller:
        self._stop.clear()  # a stopped poller may be started again
        self._thread = threading.Thread(
            target=self._run, args=(on_error,), name=f"sqs-{self.spec.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_seconds + 5)
            self._thread = None


def _event_matches(pattern: str, name: str) -> bool:
    """``s3:ObjectCreated:*`` against a record's ``ObjectCreated:Put``."""
    wanted = pattern.removeprefix("s3:")
    return fnmatch.fnmatchcase(name, wanted) or name == wanted


def _key_matches(spec: FunctionSpec, key: str) -> bool:
    """The key suffix and prefix of the function's ``s3`` event rules."""
    name = urllib.parse.unquote_plus(key)
    return name.endswith(spec.s3_suffix) and name.startswith(spec.s3_prefix)


class BucketEventPoller(QueuePoller):
    """Lambda's S3 trigger: moto sends the bucket's notifications to a queue (what moto's
    server can do), and this hands each notification's records whose event and key
    suffix the function's ``s3`` event asks for to the function, one invocation per
    notification, as S3 invokes Lambda. A notification whose invocation raised stays on
    the queue and comes back (S3's asynchronous invocations are retried too)."""

    def deliver(self, messages: list[dict[str, Any]], delivery: Delivery) -> set[str]:
        failed: set[str] = set()
        for message in messages:
            try:
                body = json.loads(message.get("Body") or "{}")
            except ValueError:
                continue  # not a notification: dropped
            records = [
                record
                for record in body.get("Records") or []
                if _event_matches(self.spec.s3_event, str(record.get("eventName", "")))
                and _key_matches(
                    self.spec, str(record.get("s3", {}).get("object", {}).get("key", ""))
                )
            ]
            if not records:  # s3:TestEvent, or an object the rules leave out
                continue
            for record in records:
                # moto encodes the key's slashes too; S3 leaves them (``a+b/c%C3%A9.csv``).
                obj = record.get("s3", {}).get("object", {})
                if "key" in obj:
                    obj["key"] = urllib.parse.quote_plus(
                        urllib.parse.unquote_plus(str(obj["key"])), safe="/"
                    )
            try:
                self.host.invoke_by_name(self.spec.name, {"Records": records})
            except Exception as exc:
                delivery.errors.append(f"{type(exc).__name__}: {exc}")
                failed.add(message["MessageId"])
        return failed


def pollers(
    host: FunctionHost,
    queue_urls: Mapping[str, str],
    endpoint: str,
    bucket_events: Mapping[str, str] | None = None,
) -> list[QueuePoller]:
    """A poller for every queue-triggered function whose queue (by the logical id or name
    serverless.yml gives it) is in ``queue_urls``, and for every bucket-triggered function
    whose bucket's notification queue is in ``bucket_events``."""
    found: list[QueuePoller] = []
    for spec in host.by_name.values():
        events_url = (bucket_events or {}).get(spec.s3_bucket or "")
        if events_url:
            found.append(BucketEventPoller(host, spec, events_url, endpoint))
        url = queue_urls.get(spec.queue_resource or "") if spec.queue else None
        if url:
            found.append(QueuePoller(host, spec, url, endpoint))
    return found


@contextlib.contextmanager
def running(
    host: FunctionHost,
    queue_urls: Mapping[str, str],
    endpoint: str,
    bucket_events: Mapping[str, str] | None = None,
) -> Any:
    """The pollers of `pollers`, started, and stopped on exit."""
    started = [poller.start() for poller in pollers(host, queue_urls, endpoint, bucket_events)]
    try:
        yield started
    finally:
        for poller in started:
            poller.stop()
