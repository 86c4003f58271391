"""The bulk worker cut off mid-batch (a Lambda timeout kills the process): only the item it
was sending is left in doubt, the rest of the message stays pending and is sent when the
message comes back, and the one in doubt is reported ``interrupted``, never sent twice.

An inline send (the API, up to ``INLINE_SEND_LIMIT`` ids) has the same safety net: it
queues one message for its items, delayed past its own deadline, before sending; cut off
(killed, or out of time: it stops claiming before the deadline), the worker sends the
rest from that message; not cut off, the message sends nothing. (The tests' environment
makes the delay 0; reliability/test_faults.py does both with a real SIGKILL on the whole
stack.)"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import yaml

from devstack.aws import Provisioned
from devstack.functions import ROOT, FunctionHost, FunctionSpec, LambdaContext, http_event
from devstack.queues import QueuePoller, sqs_event
from functions.jobs import bulk_worker
from shared import bulk_actions, bulk_send, sending
from shared.settings import get_settings
from tests.api.conftest import Api, World
from tests.api.invoices.test_bulk_actions import (  # noqa: F401 - fixtures
    BULK,
    invoices,
    queue,
    queued_send,
    receive_all,
    sqs,
)
from tests.api.invoices.test_send import sent_messages

pytestmark = pytest.mark.usefixtures("aws")


class Killed(BaseException):
    """The invocation's end: nothing after it runs (not even an ``except Exception``)."""


def _items(world: World, job_id: str) -> dict[str, str]:
    rows = world.sql(
        "select invoice_id::text, status from public.bulk_job_items where job_id = %s", job_id
    )
    return {str(r[0]): str(r[1]) for r in rows}


def test_a_worker_killed_after_ses_accepted_leaves_one_in_doubt_and_the_rest_resume(
    api: Api,
    world: World,
    sqs: Any,  # noqa: F811 - the fixture
    queue: str,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch, body = queued_send(api, world, 12)
    job_id = body["job_id"]
    messages = receive_all(sqs, queue)
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    event = sqs_event(messages, arn)
    before = len(sent_messages())
    real_send = sending.send
    accepted: list[str] = []

    def send_then_die(*args: Any, **kwargs: Any) -> str:
        message_id = real_send(*args, **kwargs)
        accepted.append(message_id)
        if len(accepted) == 3:
            raise Killed  # SES accepted the third email; the database never hears of it
        return message_id

    monkeypatch.setattr(sending, "send", send_then_die)
    with pytest.raises(Killed):
        bulk_worker.handler(event, None)
    monkeypatch.setattr(sending, "send", real_send)
    items = _items(world, job_id)
    assert Counter(items.values()) == {"ok": 2, "sending": 1, "pending": 9}
    (in_doubt,) = [i for i, status in items.items() if status == "sending"]
    doubtful_message = next(m["MessageId"] for m in messages if in_doubt in m["Body"])

    # Redelivered before the claim is stale: the rest are sent; the message with the item
    # in doubt comes back again (or the job would never finish).
    again = bulk_worker.handler(event, None)
    assert again["batchItemFailures"] == [{"itemIdentifier": doubtful_message}]
    assert len(sent_messages()) == before + 12
    assert Counter(_items(world, job_id).values()) == {"ok": 11, "sending": 1}

    # Once the claim is stale (its invocation is over for sure), it is failed as
    # interrupted, never resent, and the job finishes.
    world.sql(
        "update public.bulk_job_items set claimed_at = now() - interval '1 hour'"
        " where job_id = %s and status = 'sending'",
        job_id,
    )
    last = bulk_worker.handler(event, None)
    assert last == {"batchItemFailures": []}
    assert len(sent_messages()) == before + 12
    job = api.get(f"{BULK}/{job_id}", as_="alice").json()
    assert job["state"] == "completed"
    assert job["summary"] == {"requested": 12, "ok": 11, "interrupted": 1}
    recorded = world.sql(
        "select invoice_id::text, count(*) from public.invoice_sends where bulk_job_id = %s"
        " group by 1",
        job_id,
    )
    assert len(recorded) == 11
    assert all(n == 1 for _, n in recorded)
    assert in_doubt not in {str(i) for i, _ in recorded}
    assert {i["id"] for i in batch} == set(items)


# =============================================================================
# An inline send cut off
# =============================================================================


class RunsOut(LambdaContext):
    """An invocation whose time runs out (one second left) once SES has accepted ``after``
    more emails: the clock tied to the work, so the cut falls at the same item every run."""

    def __init__(self, spec: FunctionSpec, after: int) -> None:
        super().__init__(spec)
        self.start = len(sent_messages())
        self.after = after

    def get_remaining_time_in_millis(self) -> int:
        if len(sent_messages()) - self.start >= self.after:
            return 1000
        return super().get_remaining_time_in_millis()


def _send_event(host: FunctionHost, world: World, ids: list[str]) -> dict[str, Any]:
    """API Gateway's event for alice's POST /api/invoices/bulk-actions sending ``ids``."""
    spec = host.by_name["invoicesBulkActions"].at("POST", BULK)
    body = json.dumps({"action": "send", "ids": ids}).encode()
    headers = {
        "authorization": f"Bearer {world.token('alice')}",
        "content-type": "application/json",
        "content-length": str(len(body)),
    }
    return http_event(spec, "POST", BULK, "", headers, body)


def _inline_send(
    host: FunctionHost, world: World, ids: list[str], context: Any = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The send through the function's handler, with the Lambda context given;
    (status, headers, body)."""
    spec = host.by_name["invoicesBulkActions"]
    result = host.submit(spec, _send_event(host, world, ids), context).result()
    answer = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    return int(result["statusCode"]), answer, json.loads(result["body"])


@pytest.fixture
def worker(
    function_host: FunctionHost,
    aws: Provisioned,
    queue: str,  # noqa: F811 - the fixture (emptied before and after)
) -> QueuePoller:
    """Lambda's event source mapping for the bulk queue, drained by the test."""
    return QueuePoller(function_host, function_host.by_name["jobsBulkWorker"], queue, aws.endpoint)


def test_an_inline_send_out_of_time_leaves_the_rest_to_its_delayed_message(
    api: Api, world: World, worker: QueuePoller, function_host: FunctionHost
) -> None:
    batch = invoices(api, world, bulk_send.INLINE_SEND_LIMIT)
    ids = [i["id"] for i in batch]
    before = len(sent_messages())
    spec = function_host.by_name["invoicesBulkActions"]
    status, headers, body = _inline_send(function_host, world, ids, RunsOut(spec, after=3))

    # It stopped claiming before the deadline: the rest are pending, left to the queue.
    assert status == 202, body
    assert body["queued"] is True
    job_id = body["job_id"]
    assert headers["location"] == f"{BULK}/{job_id}"
    assert [r["status"] for r in body["results"]] == ["ok"] * 3 + ["pending"] * 7
    assert len(sent_messages()) == before + 3
    assert Counter(_items(world, job_id).values()) == {"ok": 3, "pending": 7}

    # The delayed message (one, the queued path's shape, every pending id) sends them.
    delivery = worker.drain(timeout=60)
    assert (delivery.received, delivery.deleted, delivery.errors) == (1, 1, [])
    assert len(sent_messages()) == before + bulk_send.INLINE_SEND_LIMIT
    job = api.get(f"{BULK}/{job_id}", as_="alice").json()
    assert job["state"] == "completed"
    assert job["summary"] == {"requested": 10, "ok": 10}
    recorded = world.sql(
        "select invoice_id::text, count(*) from public.invoice_sends where bulk_job_id = %s"
        " group by 1",
        job_id,
    )
    assert sorted(i for i, _ in recorded) == sorted(ids)
    assert all(n == 1 for _, n in recorded)
    sent_to = Counter(a for m in sent_messages()[before:] for a in set(m.destinations))
    assert sent_to == Counter(i["client"]["email"] for i in batch)


def test_an_inline_send_killed_mid_way_is_finished_by_its_delayed_message(
    api: Api,
    world: World,
    sqs: Any,  # noqa: F811 - the fixture
    worker: QueuePoller,
    function_host: FunctionHost,
) -> None:
    batch = invoices(api, world, bulk_send.INLINE_SEND_LIMIT)
    ids = [i["id"] for i in batch]
    before = len(sent_messages())
    real_send = sending.send
    accepted: list[str] = []

    def send_then_die(*args: Any, **kwargs: Any) -> str:
        message_id = real_send(*args, **kwargs)
        accepted.append(message_id)
        if len(accepted) == 3:
            raise Killed  # SES accepted the third email; the database never hears of it
        return message_id

    spec = function_host.by_name["invoicesBulkActions"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sending, "send", send_then_die)
        # In Lambda the process is gone; here Starlette's last resort answers a bare 500.
        crashed = function_host.submit(spec, _send_event(function_host, world, ids)).result()
    assert crashed["statusCode"] == 500
    assert len(accepted) == 3
    (job_id,) = {
        str(r[0])
        for r in world.sql(
            "select distinct job_id from public.bulk_job_items where invoice_id = %s", ids[0]
        )
    }
    items = _items(world, job_id)
    assert Counter(items.values()) == {"ok": 2, "sending": 1, "pending": 7}
    (in_doubt,) = [i for i, status in items.items() if status == "sending"]

    # The delayed message (one, every id, the queued path's shape): the rest are sent; it
    # comes back while the one in doubt is "sending" (its claim not stale yet), ...
    messages = receive_all(sqs, worker.queue_url)
    assert [json.loads(m["Body"]) for m in messages] == [{"job_id": job_id, "invoice_ids": ids}]
    event = sqs_event(messages, worker.queue_arn)
    again = function_host.invoke_by_name("jobsBulkWorker", event)
    assert again["batchItemFailures"] == [{"itemIdentifier": messages[0]["MessageId"]}]
    assert len(sent_messages()) == before + 10
    assert Counter(_items(world, job_id).values()) == {"ok": 9, "sending": 1}

    # ... and once the claim is stale, that one is failed as interrupted, never resent.
    world.sql(
        "update public.bulk_job_items set claimed_at = now() - interval '1 hour'"
        " where job_id = %s and status = 'sending'",
        job_id,
    )
    assert function_host.invoke_by_name("jobsBulkWorker", event) == {"batchItemFailures": []}
    assert len(sent_messages()) == before + 10
    job = api.get(f"{BULK}/{job_id}", as_="alice").json()
    assert job["state"] == "completed"
    assert job["summary"] == {"requested": 10, "ok": 9, "interrupted": 1}
    recorded = world.sql(
        "select invoice_id::text from public.invoice_sends where bulk_job_id = %s", job_id
    )
    assert sorted(str(r[0]) for r in recorded) == sorted(i for i in ids if i != in_doubt)
    sent_to = Counter(a for m in sent_messages()[before:] for a in set(m.destinations))
    assert sent_to == Counter(i["client"]["email"] for i in batch), "each emailed once"


def test_a_normal_inline_send_sends_each_once_and_its_delayed_message_nothing(
    api: Api, world: World, worker: QueuePoller, function_host: FunctionHost
) -> None:
    batch = invoices(api, world, bulk_send.INLINE_SEND_LIMIT)
    ids = [i["id"] for i in batch]
    before = len(sent_messages())
    status, headers, body = _inline_send(function_host, world, ids)
    assert status == 200, body
    assert body["queued"] is False
    assert "location" not in headers
    assert {r["status"] for r in body["results"]} == {"ok"}
    assert len(sent_messages()) == before + 10

    delivery = worker.drain(timeout=60)
    assert (delivery.received, delivery.deleted, delivery.errors) == (1, 1, [])
    assert len(sent_messages()) == before + 10, "the safety message sent nothing"
    job = api.get(f"{BULK}/{body['job_id']}", as_="alice").json()
    assert job["summary"] == {"requested": 10, "ok": 10}
    assert world.sql(
        "select count(*) from public.invoice_sends where bulk_job_id = %s", body["job_id"]
    ) == [(10,)]


def test_an_inline_send_goes_on_without_sqs_and_fails_what_it_cannot_reach(
    api: Api,
    world: World,
    queue: str,  # noqa: F811 - the fixture
    function_host: FunctionHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Best effort: a queue that refuses the safety message (here one that does not exist)
    is logged and the send goes on inline; out of time then, with nothing queued to finish
    it, the items not reached fail (send_failed, nothing sent) so the job finishes."""
    monkeypatch.setenv("BULK_QUEUE_URL", queue.rsplit("/", 1)[0] + "/no-such-queue")
    get_settings.cache_clear()
    try:
        batch = invoices(api, world, 4)
        before = len(sent_messages())
        status, _, body = _inline_send(function_host, world, [i["id"] for i in batch])
        assert status == 200, body
        assert {r["status"] for r in body["results"]} == {"ok"}
        assert len(sent_messages()) == before + 4

        batch = invoices(api, world, 4)
        spec = function_host.by_name["invoicesBulkActions"]
        ids = [i["id"] for i in batch]
        status, _, body = _inline_send(function_host, world, ids, RunsOut(spec, after=1))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert status == 200, body
    assert body["queued"] is False
    assert [r["status"] for r in body["results"]] == ["ok"] + ["send_failed"] * 3
    assert "ran out of time" in body["results"][1]["message"]
    assert len(sent_messages()) == before + 5
    job = api.get(f"{BULK}/{body['job_id']}", as_="alice").json()
    assert job["state"] == "completed"


def test_the_safety_delay_outlasts_the_routes_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = yaml.safe_load((ROOT / "serverless.yml").read_text())["functions"]
    timeout = int(declared["invoicesBulkActions"]["timeout"])
    assert timeout == bulk_actions.ROUTE_TIMEOUT_SECONDS
    monkeypatch.delenv("BULK_INLINE_SAFETY_DELAY_SECONDS", raising=False)
    get_settings.cache_clear()
    try:
        settings = get_settings()
        ctx: Any = type("Ctx", (), {"user": type("User", (), {"settings": settings})})
        assert settings.bulk_inline_safety_delay_seconds is None
        # No Lambda context: the route's timeout plus the margin.
        assert bulk_actions.safety_delay(ctx, None) == timeout + 30
        # In Lambda: past what is left of this invocation, at most SQS's 900 s.
        assert bulk_actions.safety_delay(ctx, lambda: 28.2) == 59
        assert bulk_actions.safety_delay(ctx, lambda: 7200.0) == 900
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert timeout < timeout + bulk_actions.SAFETY_DELAY_MARGIN_SECONDS <= 900
