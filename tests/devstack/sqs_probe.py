"""A queue-triggered function for tests/devstack/test_queues.py: it records what it is
given; a body ``fail`` is reported as an item failure, a body ``crash`` raises."""

from __future__ import annotations

from typing import Any

SEEN: list[str] = []


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        if record["body"] == "crash":
            raise RuntimeError("the function crashed")
        SEEN.append(record["body"])
        if record["body"] == "fail":
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


S3_SEEN: list[str] = []


def s3_handler(event: dict[str, Any], context: Any) -> None:
    for record in event["Records"]:
        assert record["eventSource"] == "aws:s3"
        S3_SEEN.append(record["s3"]["object"]["key"])
