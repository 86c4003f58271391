"""POST /api/invoices/bulk-actions and GET /api/invoices/bulk-actions/{id}, and the bulk
worker: per-id results (other organizations' ids are not_found and untouched), sends
made inline or queued on moto's SQS and processed by the worker's real handler with the
event Lambda builds (twice-delivered messages and a timeout mid-batch never email an
invoice twice), and the download zip fetched back through its presigned URL."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest
import yaml
from botocore.stub import Stubber
from pypdf import PdfReader

from devstack.aws import CREDENTIALS, REGION, Provisioned
from devstack.functions import ROOT, FunctionHost
from devstack.queues import sqs_event
from functions.jobs import bulk_worker
from shared import aws as shared_aws
from tests.api.conftest import Api, World
from tests.api.invoices.test_send import (
    message_by_id,
    new_invoice,
    parse,
    pdf_of,
    sent_messages,
    status_of,
)

pytestmark = pytest.mark.usefixtures("aws")

BULK = "/api/invoices/bulk-actions"


@pytest.fixture(scope="module")
def sqs(aws: Provisioned) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=aws.endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


@pytest.fixture
def queue(sqs: Any, aws: Provisioned) -> Iterator[str]:
    """The bulk queue, emptied before and after the test (moto allows one purge a minute:
    the messages are received and deleted instead)."""
    empty(sqs, aws.bulk_queue_url)
    yield aws.bulk_queue_url
    empty(sqs, aws.bulk_queue_url)


def empty(sqs: Any, url: str) -> None:
    for message in receive_all(sqs, url):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        reply = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        )
        batch = reply.get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


def run_worker(host: FunctionHost, sqs: Any, messages: list[dict[str, Any]]) -> list[str]:
    """The worker's handler with the aws:sqs event Lambda builds, 10 messages per batch;
    the message ids it reported as failed."""
    arn = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName="invoiceflow-bulk")["QueueUrl"],
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    failed: list[str] = []
    for start in range(0, len(messages), 10):
        result = host.invoke_by_name("jobsBulkWorker", sqs_event(messages[start : start + 10], arn))
        failed.extend(f["itemIdentifier"] for f in result["batchItemFailures"])
    return failed


def invoices(api: Api, world: World, n: int, **fields: Any) -> list[dict[str, Any]]:
    return [new_invoice(api, world, **fields) for _ in range(n)]


def statuses(reply_body: dict[str, Any]) -> list[str]:
    return [r["status"] for r in reply_body["results"]]


def bob_invoice(api: Api, world: World) -> dict[str, Any]:
    return new_invoice(api, world, as_="bob", status="sent")


# =============================================================================
# Actions in SQL
# =============================================================================


def test_mark_sent_cancel_and_delete_give_one_result_per_id(api: Api, world: World) -> None:
    drafts = invoices(api, world, 3)
    sent = new_invoice(api, world, status="sent")
    theirs = bob_invoice(api, world)
    ids = [drafts[0]["id"], sent["id"], theirs["id"], str(uuid.uuid4())]
    before = len(sent_messages())
    reply = api.post(BULK, as_="maria", json_body={"action": "mark_sent", "ids": ids})
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert statuses(body) == ["ok", "wrong_status", "not_found", "not_found"]
    assert [r["id"] for r in body["results"]] == ids
    assert body["summary"] == {"requested": 4, "ok": 1, "wrong_status": 1, "not_found": 2}
    assert status_of(world, drafts[0]["id"]) == "sent"
    assert len(sent_messages()) == before, "mark_sent emails nobody"

    reply = api.post(
        BULK,
        as_="alice",
        json_body={"action": "cancel", "ids": [drafts[1]["id"], sent["id"], theirs["id"]]},
    )
    assert statuses(reply.json()) == ["ok", "ok", "not_found"]
    assert status_of(world, sent["id"]) == "cancelled"
    assert status_of(world, theirs["id"]) == "sent", "another organization's invoice untouched"

    reply = api.post(
        BULK, as_="alice", json_body={"action": "delete", "ids": [drafts[2]["id"], sent["id"]]}
    )
    assert statuses(reply.json()) == ["ok", "wrong_status"]
    assert "only drafts" in reply.json()["results"][1]["message"]
    assert world.sql("select 1 from public.invoices where id = %s", drafts[2]["id"]) == []


def test_mark_paid_records_the_remaining_balance(api: Api, world: World) -> None:
    part = new_invoice(api, world, status="sent")
    paid = api.post(
        "/api/payments", as_="alice", json_body={"invoice_id": part["id"], "amount": "40.00"}
    )
    assert paid.status == 201
    whole = new_invoice(api, world, status="sent")
    draft = new_invoice(api, world)
    theirs = bob_invoice(api, world)
    reply = api.post(
        BULK,
        as_="alice",
        json_body={
            "action": "mark_paid",
            "ids": [part["id"], whole["id"], draft["id"], theirs["id"]],
            "payment_method": "check",
            "reference_number": "BULK-42",
        },
    )
    assert reply.status == 200, reply.json()
    assert statuses(reply.json()) == ["ok", "ok", "wrong_status", "not_found"]
    assert "60.01" in reply.json()["results"][0]["message"]
    rows = world.sql(
        "select invoice_id::text, amount, payment_method from public.payments"
        " where reference_number = 'BULK-42' order by amount"
    )
    assert rows == [
        (part["id"], Decimal("60.01"), "check"),
        (whole["id"], Decimal("100.01"), "check"),
    ]
    assert status_of(world, part["id"]) == status_of(world, whole["id"]) == "paid"
    assert status_of(world, theirs["id"]) == "sent"
    again = api.post(BULK, as_="alice", json_body={"action": "mark_paid", "ids": [whole["id"]]})
    assert statuses(again.json()) == ["wrong_status"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "cancel", "ids": []}, "ids"),
        ({"action": "cancel", "ids": [str(uuid.uuid4()) for _ in range(501)]}, "ids"),
        ({"action": "cancel", "ids": ["not-a-uuid"]}, "ids[0]"),
        ({"action": "explode", "ids": [str(uuid.uuid4())]}, "action"),
        ({"action": "cancel", "ids": [str(uuid.uuid4())], "subject": "x"}, "body"),
        (
            {"action": "mark_paid", "ids": [str(uuid.uuid4())], "payment_method": "gold"},
            "payment_method",
        ),
        ({"action": "send", "ids": [str(uuid.uuid4())], "cc": ["nope"]}, "cc[0]"),
    ],
)
def test_bad_bodies_are_422(api: Api, body: dict[str, Any], field: str) -> None:
    reply = api.post(BULK, as_="alice", json_body=body)
    assert reply.status == 422, reply.json()
    assert any(d["field"] == field for d in reply.error["details"]), reply.error


def test_repeated_ids_are_422(api: Api) -> None:
    same = str(uuid.uuid4())
    reply = api.post(BULK, as_="alice", json_body={"action": "cancel", "ids": [same, same]})
    assert reply.status == 422
    assert "repeated" in reply.error["message"]


def test_a_viewer_cannot_act_in_bulk(api: Api, world: World) -> None:
    draft = new_invoice(api, world)
    reply = api.post(BULK, as_="victor", json_body={"action": "delete", "ids": [draft["id"]]})
    assert reply.status == 403
    assert status_of(world, draft["id"]) == "draft"


# =============================================================================
# Send: inline
# =============================================================================


def test_a_small_send_is_made_during_the_request(any_api: Api, world: World) -> None:
    api = any_api
    good = invoices(api, world, 2)
    no_email = new_invoice(api, world, email_="")
    cancelled = new_invoice(api, world, status="sent")
    api.delete(f"/api/invoices/{cancelled['id']}", as_="alice")
    theirs = bob_invoice(api, world)
    ids = [good[0]["id"], no_email["id"], cancelled["id"], theirs["id"], good[1]["id"]]
    before = len(sent_messages())
    reply = api.post(
        BULK, as_="maria", json_body={"action": "send", "ids": ids, "cc": ["boss@example.com"]}
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["queued"] is False
    assert statuses(body) == ["ok", "no_email", "wrong_status", "not_found", "ok"]
    assert "client.email" in body["results"][1]["message"]
    assert len(sent_messages()) == before + 2
    for invoice in good:
        assert status_of(world, invoice["id"]) == "sent"
        (message_id,) = world.sql(
            "select ses_message_id from public.invoice_sends where invoice_id = %s", invoice["id"]
        )[0]
        message = parse(message_by_id(message_id))
        assert [a.addr_spec for a in message["To"].addresses] == [invoice["client"]["email"]]
        assert [a.addr_spec for a in message["Cc"].addresses] == ["boss@example.com"]
        _, text = pdf_of(message)
        assert invoice["invoice_number"] in text
        assert "100.01" in text
    assert status_of(world, theirs["id"]) == "sent"

    job = api.get(f"{BULK}/{body['job_id']}", as_="victor")
    assert job.status == 200, job.json()
    assert job.json()["state"] == "completed"
    assert job.json()["summary"]["ok"] == 2
    assert api.get(f"{BULK}/{body['job_id']}", as_="bob").status == 404


# =============================================================================
# Send: queued, the worker
# =============================================================================


def queued_send(api: Api, world: World, n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    batch = invoices(api, world, n)
    reply = api.post(
        BULK, as_="alice", json_body={"action": "send", "ids": [i["id"] for i in batch]}
    )
    assert reply.status == 202, reply.json()
    body = reply.json()
    assert body["queued"] is True
    assert reply.headers["location"] == f"{BULK}/{body['job_id']}"
    assert set(statuses(body)) == {"pending"}
    return batch, body


def test_a_large_send_is_queued_and_the_worker_sends_each_once(
    api: Api, world: World, sqs: Any, queue: str, function_host: FunctionHost
) -> None:
    batch, body = queued_send(api, world, 23)
    progress = api.get(f"{BULK}/{body['job_id']}", as_="alice").json()
    assert progress["state"] == "queued"
    assert progress["done"] == 0

    messages = receive_all(sqs, queue)
    assert len(messages) == 3  # 10 ids per message
    ids = [i for m in messages for i in json.loads(m["Body"])["invoice_ids"]]
    assert sorted(ids) == sorted(i["id"] for i in batch)
    assert all(set(json.loads(m["Body"])) == {"job_id", "invoice_ids"} for m in messages)

    before = len(sent_messages())
    assert run_worker(function_host, sqs, messages) == []
    assert len(sent_messages()) == before + 23
    # Delivered again (SQS is at-least-once): nothing is sent twice.
    assert run_worker(function_host, sqs, messages) == []
    assert len(sent_messages()) == before + 23

    job = api.get(f"{BULK}/{body['job_id']}", as_="alice").json()
    assert job["state"] == "completed"
    assert job["done"] == 23
    assert job["summary"] == {"requested": 23, "ok": 23}
    assert job["finished_at"]
    for invoice in batch[:3]:
        assert status_of(world, invoice["id"]) == "sent"
        (message_id,) = world.sql(
            "select ses_message_id from public.invoice_sends where invoice_id = %s", invoice["id"]
        )[0]
        message = parse(message_by_id(message_id))
        assert [a.addr_spec for a in message["To"].addresses] == [invoice["client"]["email"]]
        _, text = pdf_of(message)
        assert invoice["invoice_number"] in text
    assert world.sql(
        "select count(*) from public.client_activities where type = 'invoice_sent'"
        " and metadata ->> 'bulk_job_id' = %s and created_by = %s",
        body["job_id"],
        world.people["alice"].id,
    ) == [(23,)]


def test_a_worker_out_of_time_puts_items_back_and_never_sends_twice(
    api: Api, world: World, sqs: Any, queue: str, function_host: FunctionHost
) -> None:
    batch, body = queued_send(api, world, 12)
    messages = receive_all(sqs, queue)
    arn = "arn:aws:sqs:us-east-1:123456789012:invoiceflow-bulk"
    event = sqs_event(messages, arn)

    class Ending:
        """A Lambda context whose time runs out after a few sends."""

        def __init__(self, sends: int) -> None:
            self.calls = 0
            self.sends = sends

        def get_remaining_time_in_millis(self) -> int:
            self.calls += 1
            return 60_000 if self.calls <= self.sends else 1_000

    before = len(sent_messages())
    first = bulk_worker.handler(event, Ending(4))
    assert len(sent_messages()) == before + 4
    failed = {f["itemIdentifier"] for f in first["batchItemFailures"]}
    assert failed == {m["MessageId"] for m in messages}, "both messages have items left"
    assert api.get(f"{BULK}/{body['job_id']}", as_="alice").json()["state"] == "running"

    # The item being sent when the Lambda died (claimed, never recorded): never resent.
    stuck = next(i["id"] for i in batch if status_of(world, i["id"]) == "draft")
    world.sql(
        "update public.bulk_job_items set status = 'sending',"
        " claimed_at = now() - interval '1 hour' where job_id = %s and invoice_id = %s",
        body["job_id"],
        stuck,
    )
    second = bulk_worker.handler(event, Ending(100))
    assert second == {"batchItemFailures": []}
    assert len(sent_messages()) == before + 11
    job = api.get(f"{BULK}/{body['job_id']}", as_="alice").json()
    assert job["summary"] == {"requested": 12, "ok": 11, "interrupted": 1}
    assert job["state"] == "completed"
    assert status_of(world, stuck) == "draft"
    assert world.sql(
        "select count(*), count(distinct invoice_id) from public.invoice_sends"
        " where bulk_job_id = %s",
        body["job_id"],
    ) == [(11, 11)]


def test_the_worker_acts_only_within_the_jobs_organization(
    api: Api, world: World, sqs: Any, queue: str, function_host: FunctionHost
) -> None:
    """A message naming another organization's invoices under a job (forged or a bug)
    sends none of them: the worker takes the organization from the job, not the message."""
    _, body = queued_send(api, world, 11)
    receive_all(sqs, queue)
    theirs = bob_invoice(api, world)
    world.sql(
        "insert into public.bulk_job_items (job_id, organization_id, invoice_id, position)"
        " values (%s, %s, %s, 99)",
        body["job_id"],
        world.org_a,
        theirs["id"],
    )
    forged = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": "x",
        "Body": json.dumps({"job_id": body["job_id"], "invoice_ids": [theirs["id"]]}),
    }
    before = len(sent_messages())
    assert run_worker(function_host, sqs, [forged]) == []
    assert len(sent_messages()) == before
    item = world.sql(
        "select status, reason from public.bulk_job_items where job_id = %s and invoice_id = %s",
        body["job_id"],
        theirs["id"],
    )
    assert item == [("failed", "not_found")]
    assert world.sql(
        "select count(*) from public.invoice_sends where invoice_id = %s", theirs["id"]
    ) == [(0,)]


def test_unreadable_messages_are_dropped_not_retried(function_host: FunctionHost, sqs: Any) -> None:
    junk = [
        {"MessageId": "a", "ReceiptHandle": "x", "Body": "not json"},
        {
            "MessageId": "b",
            "ReceiptHandle": "x",
            "Body": json.dumps({"job_id": str(uuid.uuid4()), "invoice_ids": []}),
        },
    ]
    assert run_worker(function_host, sqs, junk) == []


def test_a_throttled_email_service_retries_the_message_then_gives_up(
    api: Api, world: World, sqs: Any, queue: str
) -> None:
    """Throttling (through a stub on the real SES client: moto never throttles) puts the
    items back and reports the message for redelivery; on the queue's last receive the
    items fail for good, so the job finishes."""
    batch, body = queued_send(api, world, 11)
    messages = receive_all(sqs, queue)
    arn = "arn:aws:sqs:us-east-1:123456789012:invoiceflow-bulk"
    before = len(sent_messages())

    def throttled(receive_count: int) -> dict[str, Any]:
        event = sqs_event(messages, arn)
        for record in event["Records"]:
            record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        with Stubber(shared_aws.client("ses")) as stub:
            for _ in range(3 * 11):  # the client retries throttling 3 times
                stub.add_client_error(
                    "send_raw_email",
                    service_error_code="Throttling",
                    service_message="Maximum sending rate exceeded.",
                )
            return bulk_worker.handler(event, None)

    first = throttled(1)
    assert {f["itemIdentifier"] for f in first["batchItemFailures"]} == {
        m["MessageId"] for m in messages
    }
    job = api.get(f"{BULK}/{body['job_id']}", as_="alice").json()
    assert job["summary"] == {"requested": 11, "pending": 11}
    assert job["state"] == "running"
    last = throttled(bulk_worker.MAX_RECEIVES)
    assert last == {"batchItemFailures": []}
    job = api.get(f"{BULK}/{body['job_id']}", as_="alice").json()
    assert job["summary"] == {"requested": 11, "send_failed": 11}
    assert job["state"] == "completed"
    assert "busy" in job["results"][0]["message"]
    assert len(sent_messages()) == before
    assert all(status_of(world, i["id"]) == "draft" for i in batch)


def test_the_queue_has_a_dead_letter_queue_after_the_workers_last_attempt(
    sqs: Any, aws: Provisioned
) -> None:
    attributes = sqs.get_queue_attributes(
        QueueUrl=aws.bulk_queue_url, AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert int(policy["maxReceiveCount"]) == bulk_worker.MAX_RECEIVES
    assert policy["deadLetterTargetArn"].endswith(":invoiceflow-bulk-dlq")
    declared = yaml.safe_load((ROOT / "serverless.yml").read_text())["resources"]["Resources"]
    redrive = declared["BulkQueue"]["Properties"]["RedrivePolicy"]
    assert int(redrive["maxReceiveCount"]) == bulk_worker.MAX_RECEIVES
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["BulkDeadLetterQueue", "Arn"]}


# =============================================================================
# Download
# =============================================================================


def test_download_zips_the_pdfs_in_s3_behind_a_presigned_url(
    any_api: Api, world: World, aws: Provisioned
) -> None:
    api = any_api
    batch = invoices(api, world, 3)
    theirs = bob_invoice(api, world)
    ids = [batch[0]["id"], theirs["id"], batch[1]["id"], batch[2]["id"]]
    reply = api.post(BULK, as_="victor", json_body={"action": "download", "ids": ids})
    assert reply.status == 403, "a download is a write: it stores a file"
    reply = api.post(BULK, as_="maria", json_body={"action": "download", "ids": ids})
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert statuses(body) == ["ok", "not_found", "ok", "ok"]
    assert body["key"].startswith(f"{world.org_a}/invoices/")
    assert "X-Amz-Signature=" in body["download_url"]
    fetched = httpx.get(body["download_url"], timeout=30)
    assert fetched.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(fetched.content))
    names = archive.namelist()
    assert len(names) == 3
    for invoice, name in zip([batch[0], batch[1], batch[2]], names, strict=True):
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(archive.read(name))).pages)
        assert invoice["invoice_number"] in text
        assert "100.01" in text
    # (moto does not check signatures or expiry, so the URL's terms are checked here)
    assert "X-Amz-Expires=900&" in body["download_url"]
    assert body["expires_at"]


def test_download_of_nothing_found_stores_nothing(api: Api, world: World) -> None:
    theirs = bob_invoice(api, world)
    reply = api.post(BULK, as_="alice", json_body={"action": "download", "ids": [theirs["id"]]})
    assert reply.status == 200
    assert statuses(reply.json()) == ["not_found"]
    assert reply.json()["download_url"] is None
