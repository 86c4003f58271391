"""The bulk worker cut off mid-batch (a Lambda timeout kills the process): only the item it
was sending is left in doubt, the rest of the message stays pending and is sent when the
message comes back, and the one in doubt is reported ``interrupted``, never sent twice.
(reliability/test_faults.py does the same with a real SIGKILL on the whole stack.)"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from devstack.queues import sqs_event
from functions.jobs import bulk_worker
from shared import sending
from tests.api.conftest import Api, World
from tests.api.test_bulk_actions import (  # noqa: F401 - fixtures
    BULK,
    queue,
    queued_send,
    receive_all,
    sqs,
)
from tests.api.test_send import sent_messages

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
