"""Concurrency on the whole stack, over HTTP: many writers on one invoice, one
Idempotency-Key sent from several places at once, job runs overlapping, invoices
created side by side. Every request goes through the API Gateway emulator to the
functions, PostgREST and PostgreSQL as the frontend's would; the invariants are then
read from the database behind RLS's back (``sql``) and from moto's SES.

What tests/db/test_concurrency.py (SQL on one connection per thread), tests/api/
payments/test_payments.py (4 payments in process), invoices/test_send.py (6 sends of one
key) and jobs/test_jobs.py (2 runs of one job) check, this checks at a larger scale, through every
part at once, with amounts that overshoot, with updates and deletes mixed in, with item
edits racing the first payment, with the Lambda Invoke API as a second way in.

Sizes (environment variables; defaults in brackets):
  RELIABILITY_CONC_PAYMENTS   payments raced against one invoice [30]
  RELIABILITY_CONC_SENDS      sends of one Idempotency-Key at once [10]
  RELIABILITY_CONC_JOB_RUNS   overlapping runs of each job [6]
  RELIABILITY_CONC_JOB_ORGS   organizations the jobs work through [5]
  RELIABILITY_CONC_JOB_OVERDUE  past-due invoices in each [6] (and 3 due soon)
  RELIABILITY_CONC_INVOICES   invoices created at once in one organization [40]
  RELIABILITY_CONC_SEED       the seed of the amounts drawn [7]
Figures go to bench/out/reliability/concurrency.json (record("concurrency", ...)).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from devstack.local import LocalStack
from reliability.conftest import Client, Reply, User, record, sql

PAYMENTS = int(os.environ.get("RELIABILITY_CONC_PAYMENTS", "30"))
SENDS = int(os.environ.get("RELIABILITY_CONC_SENDS", "10"))
JOB_RUNS = int(os.environ.get("RELIABILITY_CONC_JOB_RUNS", "6"))
JOB_ORGS = int(os.environ.get("RELIABILITY_CONC_JOB_ORGS", "5"))
JOB_OVERDUE = int(os.environ.get("RELIABILITY_CONC_JOB_OVERDUE", "6"))
INVOICES = int(os.environ.get("RELIABILITY_CONC_INVOICES", "40"))
SEED = int(os.environ.get("RELIABILITY_CONC_SEED", "7"))

T = TypeVar("T")
FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="module", autouse=True)
def _record_figures() -> Iterator[None]:
    yield
    if FIGURES:
        record(
            "concurrency",
            {
                "sizes": {
                    "payments": PAYMENTS,
                    "sends": SENDS,
                    "job_runs": JOB_RUNS,
                    "job_organizations": JOB_ORGS,
                    "job_overdue_per_organization": JOB_OVERDUE,
                    "invoices": INVOICES,
                    "seed": SEED,
                },
                **FIGURES,
            },
        )


# =============================================================================
# Helpers
# =============================================================================


def draws(stream: int) -> random.Random:
    """Reproducible amounts and orders (RELIABILITY_CONC_SEED); not for secrets."""
    return random.Random(SEED + stream)  # noqa: S311


def at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Runs ``work(0..count-1)`` on ``count`` threads released together by a barrier;
    the results in index order (an exception in any is raised)."""
    barrier = threading.Barrier(count, timeout=120)

    def run(index: int) -> T:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def clients_of(stack: LocalStack, user: User, count: int) -> list[Client]:
    """One HTTP client per thread, all signed in as ``user``."""
    return [Client(stack, user) for _ in range(count)]


def closing(clients: list[Client]) -> None:
    for c in clients:
        c.close()


def race(stack: LocalStack, user: User, work: list[tuple[str, str, Any]]) -> list[Reply]:
    """Each ``(method, path, body)`` of ``work`` sent at once, from a client of its own."""
    workers = clients_of(stack, user, len(work))
    try:
        return at_once(
            len(work), lambda n: workers[n].request(work[n][0], work[n][1], json_body=work[n][2])
        )
    finally:
        closing(workers)


def new_customer(client: Client, currency: str = "USD") -> str:
    reply = client.request(
        "POST",
        "/api/clients",
        json_body={
            "company_name": f"Concurrent {uuid.uuid4().hex[:6]}",
            "email": f"ap-{uuid.uuid4().hex[:8]}@customer.example",
            "currency": currency,
        },
    )
    assert reply.status == 201, reply.content
    return str(reply.json()["id"])


def new_invoice(
    client: Client,
    customer: str,
    rates: list[str],
    *,
    status: str = "sent",
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": customer,
        "status": status,
        "tax_rate": "0",
        "items": [
            {"description": f"Work {n}", "quantity": "1", "rate": rate}
            for n, rate in enumerate(rates)
        ],
        **fields,
    }
    reply = client.request("POST", "/api/invoices", json_body=body)
    assert reply.status == 201, reply.content
    document: dict[str, Any] = reply.json()
    return document


def invoice_row(stack: LocalStack, invoice_id: str) -> dict[str, Any]:
    """The invoice as stored, with the sum and count of its stored payments and the sum
    of its stored items."""
    rows = sql(
        stack,
        "select i.status, i.subtotal, i.total_amount, i.amount_paid, i.balance_due,"
        " (select coalesce(sum(p.amount), 0) from public.payments p where p.invoice_id = i.id),"
        " (select count(*) from public.payments p where p.invoice_id = i.id),"
        " (select coalesce(sum(it.amount), 0) from public.invoice_items it"
        "   where it.invoice_id = i.id),"
        " i.paid_at is not null"
        " from public.invoices i where i.id = %s",
        invoice_id,
    )
    keys = [
        "status",
        "subtotal",
        "total",
        "amount_paid",
        "balance",
        "payments_sum",
        "payments",
        "items_sum",
        "paid_at",
    ]
    return dict(zip(keys, rows[0], strict=True))


def assert_consistent(row: dict[str, Any]) -> None:
    """The money rules of one stored invoice (docs/architecture.md)."""
    assert row["amount_paid"] == row["payments_sum"], row
    assert row["subtotal"] == row["items_sum"], row
    assert Decimal(0) <= row["amount_paid"] <= row["total"], row
    assert row["balance"] == row["total"] - row["amount_paid"], row
    if row["status"] != "cancelled":
        assert (row["status"] == "paid") == (row["balance"] == 0), row
        assert row["paid_at"] == (row["status"] == "paid"), row


def error_code(reply: Reply) -> str:
    body = reply.json()
    return str(body["error"]["code"]) if isinstance(body, dict) and "error" in body else "?"


def milliseconds(replies: list[Reply]) -> dict[str, float]:
    times = sorted(r.seconds * 1000 for r in replies)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "max_ms": round(times[-1], 1),
    }


def ses_messages() -> list[Any]:
    """Every message moto's SES accepted (the moto server runs in this process)."""
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def to_address(address: str) -> list[Any]:
    return [m for m in ses_messages() if address in m.destinations]


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# =============================================================================
# Payments against one invoice
# =============================================================================


def test_payments_racing_for_one_balance_never_overpay_nor_get_lost(
    stack: LocalStack, client: Client
) -> None:
    assert client.user is not None
    customer = new_customer(client)
    invoice = new_invoice(client, customer, ["600.00", "400.00"])
    assert invoice["total_amount"] == "1000.00"
    rng = draws(0)
    amounts = [Decimal(rng.randint(2_000, 8_000)) / 100 for _ in range(PAYMENTS)]
    assert sum(amounts) > Decimal("1000.00"), "the race must overshoot the balance"
    workers = clients_of(stack, client.user, PAYMENTS)
    try:
        replies = at_once(
            PAYMENTS,
            lambda n: workers[n].request(
                "POST",
                "/api/payments",
                json_body={"invoice_id": invoice["id"], "amount": str(amounts[n])},
            ),
        )
    finally:
        closing(workers)

    accepted = [(n, r) for n, r in enumerate(replies) if r.status == 201]
    refused = [(n, r) for n, r in enumerate(replies) if r.status != 201]
    # A refusal is a clear business-rule answer, never a 5xx, a deadlock or a retry.
    assert {(r.status, error_code(r)) for _, r in refused} <= {(422, "rule_violation")}, [
        (r.status, r.content[:200]) for _, r in refused
    ]
    for n, r in refused:
        message = r.json()["error"]["message"]
        assert "balance due" in message or "paid in full" in message, message
        assert amounts[n] > 0
    accepted_sum = sum((amounts[n] for n, _ in accepted), Decimal(0))
    row = invoice_row(stack, invoice["id"])
    assert_consistent(row)
    # No lost update: what was accepted is what is stored and counted.
    assert row["amount_paid"] == accepted_sum
    assert row["payments"] == len(accepted)
    stored = sorted(
        r[0]
        for r in sql(
            stack, "select id::text from public.payments where invoice_id = %s", invoice["id"]
        )
    )
    assert stored == sorted(str(r.json()["id"]) for _, r in accepted)
    # Every payment 201 answered with the invoice state right after it: the balances the
    # winners saw, taken in order, are strictly decreasing and distinct.
    seen = sorted((Decimal(r.json()["invoice"]["balance_due"]) for _, r in accepted), reverse=True)
    assert len(set(seen)) == len(seen), seen
    # Each refused amount was more than the balance at some point after the winners
    # before it: at the least, more than the final balance.
    assert all(amounts[n] > row["balance"] for n, _ in refused)
    activities = sql(
        stack,
        "select count(*) from public.client_activities where client_id = %s and type = 'payment'",
        customer,
    )[0][0]
    assert activities == len(accepted)

    # The rest of the balance pays it off; then nothing more fits.
    if row["balance"] > 0:
        last = client.request(
            "POST",
            "/api/payments",
            json_body={"invoice_id": invoice["id"], "amount": str(row["balance"])},
        )
        assert last.status == 201, last.content
    assert invoice_row(stack, invoice["id"])["status"] == "paid"
    extra = client.request(
        "POST", "/api/payments", json_body={"invoice_id": invoice["id"], "amount": "0.01"}
    )
    assert (extra.status, error_code(extra)) == (422, "rule_violation")
    assert "paid in full" in extra.json()["error"]["message"]
    final = invoice_row(stack, invoice["id"])
    assert_consistent(final)
    assert final["amount_paid"] == final["total"] == Decimal("1000.00")
    FIGURES["payments_race"] = {
        "requests": PAYMENTS,
        "accepted": len(accepted),
        "refused_422": len(refused),
        "asked_total": str(sum(amounts)),
        "accepted_total": str(accepted_sum),
        **milliseconds(replies),
    }


def test_updates_deletes_and_new_payments_at_once_keep_the_sum(
    stack: LocalStack, client: Client
) -> None:
    """Ten payments, then at once: five deleted, eight changed (three of them also being
    deleted), and ten new ones. Whatever wins, the invoice's amount paid is the sum of
    the payments stored, each answer is true of what is stored, and nothing overpays."""
    assert client.user is not None
    customer = new_customer(client)
    invoice = new_invoice(client, customer, ["1000.00"])
    first: list[str] = []
    for _ in range(10):
        reply = client.request(
            "POST", "/api/payments", json_body={"invoice_id": invoice["id"], "amount": "50.00"}
        )
        assert reply.status == 201, reply.content
        first.append(str(reply.json()["id"]))
    rng = draws(1)
    deletes = first[:5]
    updates = {pid: Decimal(rng.randint(2_000, 15_000)) / 100 for pid in first[2:]}
    fresh = [Decimal(rng.randint(3_000, 9_000)) / 100 for _ in range(10)]
    work: list[tuple[str, str, Any]] = (
        [("DELETE", f"/api/payments/{pid}", None) for pid in deletes]
        + [("PUT", f"/api/payments/{pid}", {"amount": str(a)}) for pid, a in updates.items()]
        + [
            ("POST", "/api/payments", {"invoice_id": invoice["id"], "amount": str(a)})
            for a in fresh
        ]
    )
    draws(2).shuffle(work)
    workers = clients_of(stack, client.user, len(work))
    try:
        replies = at_once(
            len(work),
            lambda n: workers[n].request(work[n][0], work[n][1], json_body=work[n][2]),
        )
    finally:
        closing(workers)

    outcomes = Counter(f"{w[0]} {r.status}" for w, r in zip(work, replies, strict=True))
    for (method, path, _), reply in zip(work, replies, strict=True):
        allowed = {
            "DELETE": {204},  # nothing else deletes it
            # raced its own deletion: done (or refused) before it, or not found after
            "PUT": {200, 404, 422} if path.rsplit("/", 1)[-1] in deletes else {200, 422},
            "POST": {201, 422},
        }[method]
        assert reply.status in allowed, (method, reply.content)
        if reply.status == 422:
            assert error_code(reply) == "rule_violation", reply.content
    created = {str(r.json()["id"]) for w, r in zip(work, replies, strict=True) if r.status == 201}

    stored = dict(
        sql(
            stack,
            "select id::text, amount from public.payments where invoice_id = %s",
            invoice["id"],
        )
    )
    kept = set(first) - set(deletes)
    assert set(stored) == kept | created, "deleted ones gone, created ones kept, no others"
    for (method, path, body), reply in zip(work, replies, strict=True):
        pid = path.rsplit("/", 1)[-1]
        if method == "PUT" and pid in kept:
            expected = Decimal(body["amount"]) if reply.status == 200 else Decimal("50.00")
            assert stored[pid] == expected, (pid, reply.status)
    row = invoice_row(stack, invoice["id"])
    assert_consistent(row)
    assert row["amount_paid"] == sum(stored.values(), Decimal(0))
    FIGURES["payments_mixed"] = {"requests": len(work), "outcomes": dict(outcomes)}


def test_item_edits_racing_payments_never_change_a_paid_total(
    stack: LocalStack, client: Client
) -> None:
    """Items may change while no payment is recorded (docs/api.md). Item edits and first
    payments raced on several invoices: an edit either lands before every payment (and
    the payments are checked against the new total) or is refused once one is recorded;
    the stored total is always the sum of the stored items."""
    assert client.user is not None
    customer = new_customer(client)
    invoices = [new_invoice(client, customer, ["500.00", "500.00"]) for _ in range(4)]
    work: list[tuple[str, str, Any]] = []
    for invoice in invoices:
        items = invoice["items"]
        for rate in ("300.00", "900.00", "450.00"):
            work.append(
                (
                    "PUT",
                    f"/api/invoices/{invoice['id']}",
                    {"items": [{"id": items[0]["id"], "rate": rate}, {"id": items[1]["id"]}]},
                )
            )
        for amount in ("400.00", "400.00", "400.00"):
            work.append(("POST", "/api/payments", {"invoice_id": invoice["id"], "amount": amount}))
    draws(3).shuffle(work)
    replies = race(stack, client.user, work)

    outcomes = Counter(f"{w[0]} {r.status}" for w, r in zip(work, replies, strict=True))
    for (method, _, _), reply in zip(work, replies, strict=True):
        ok = 200 if method == "PUT" else 201
        assert reply.status in (ok, 422), reply.content
        if reply.status == 422:
            assert error_code(reply) == "rule_violation", reply.content
    for invoice in invoices:
        row = invoice_row(stack, invoice["id"])
        assert_consistent(row)
        # The edits that won all came before the first payment (commit order, which
        # neither updated_at — the transaction's start — nor the answers' order give):
        # the stored total is one an accepted edit answered (or the first one), and
        # every accepted payment saw that same total.
        mine = [
            (m, r)
            for (m, p, b), r in zip(work, replies, strict=True)
            if r.status in (200, 201)
            and (p.endswith(invoice["id"]) or (b or {}).get("invoice_id") == invoice["id"])
        ]
        edited = {Decimal(r.json()["total_amount"]) for m, r in mine if m == "PUT"}
        assert row["total"] in edited | {Decimal("1000.00")}, (edited, row)
        paid_totals = {Decimal(r.json()["invoice"]["total_amount"]) for m, r in mine if m == "POST"}
        assert paid_totals <= {row["total"]}, (paid_totals, row)
        stored_items = sql(
            stack,
            "select count(*) from public.invoice_items where invoice_id = %s",
            invoice["id"],
        )[0][0]
        assert stored_items == 2
    FIGURES["items_vs_payments"] = {"requests": len(work), "outcomes": dict(outcomes)}


def test_cancels_racing_payments_leave_no_paid_cancelled_invoice(
    stack: LocalStack, client: Client
) -> None:
    """DELETE (a sent invoice without payments is cancelled) raced by payments: each
    invoice ends either cancelled with nothing paid (the payments refused) or with its
    payments and the cancel refused — never a cancelled invoice with money on it.
    (A payment inserted straight through PostgREST could land on one: fixed in
    migration 20261206100600_invoices.sql; tests/db/test_payment_races.py.)"""
    assert client.user is not None
    customer = new_customer(client)
    invoices = [new_invoice(client, customer, ["300.00"]) for _ in range(6)]
    work: list[tuple[str, str, Any]] = []
    for invoice in invoices:
        work.append(("DELETE", f"/api/invoices/{invoice['id']}", None))
        work += [("POST", "/api/payments", {"invoice_id": invoice["id"], "amount": "50.00"})] * 3
    draws(4).shuffle(work)
    replies = race(stack, client.user, work)
    outcomes = Counter(f"{w[0]} {r.status}" for w, r in zip(work, replies, strict=True))
    for (method, _, _), reply in zip(work, replies, strict=True):
        assert reply.status in ((200,) if method == "DELETE" else (201,)) + (422,), reply.content
        if reply.status == 422:
            assert error_code(reply) == "rule_violation", reply.content
    endings: Counter[str] = Counter()
    for invoice in invoices:
        row = invoice_row(stack, invoice["id"])
        assert_consistent(row)
        cancel = next(
            r
            for (m, p, _), r in zip(work, replies, strict=True)
            if m == "DELETE" and p.endswith(invoice["id"])
        )
        if row["status"] == "cancelled":
            assert cancel.status == 200
            assert (row["payments"], row["amount_paid"]) == (0, Decimal("0.00")), row
        else:
            assert cancel.status == 422, "refused: the invoice has payments"
            assert row["payments"] >= 1
        endings[row["status"]] += 1
    FIGURES["cancel_vs_payments"] = {
        "requests": len(work),
        "outcomes": dict(outcomes),
        "endings": dict(endings),
    }


def test_bulk_actions_racing_single_payments_agree_with_what_is_stored(
    stack: LocalStack, client: Client
) -> None:
    """Two bulk mark_paid and one bulk cancel over the same invoices, with single
    payments, all at once: each bulk answer is true of what is stored (an invoice marked
    paid is paid, a cancelled one has no payments), at most one mark_paid pays each
    invoice, and no invoice is over-paid."""
    assert client.user is not None
    customer = new_customer(client)
    invoices = [new_invoice(client, customer, ["200.00"]) for _ in range(8)]
    ids = [str(i["id"]) for i in invoices]
    work: list[tuple[str, str, Any]] = [
        ("POST", "/api/invoices/bulk-actions", {"action": "mark_paid", "ids": ids}),
        ("POST", "/api/invoices/bulk-actions", {"action": "mark_paid", "ids": ids[::-1]}),
        ("POST", "/api/invoices/bulk-actions", {"action": "cancel", "ids": ids[2:6]}),
    ]
    work += [("POST", "/api/payments", {"invoice_id": i, "amount": "150.00"}) for i in ids]
    draws(5).shuffle(work)
    replies = race(stack, client.user, work)
    outcomes = Counter(
        f"{w[2].get('action', 'pay')} {r.status}" for w, r in zip(work, replies, strict=True)
    )
    paid_by_bulk: Counter[str] = Counter()
    cancelled_by_bulk: set[str] = set()
    for (_, path, body), reply in zip(work, replies, strict=True):
        if path.endswith("bulk-actions"):
            assert reply.status == 200, reply.content
            for result in reply.json()["results"]:
                assert result["status"] in ("ok", "wrong_status", "has_payments"), result
                if result["status"] == "ok" and body["action"] == "mark_paid":
                    paid_by_bulk[result["id"]] += 1
                elif result["status"] == "ok":
                    cancelled_by_bulk.add(result["id"])
        else:
            assert reply.status in (201, 422), reply.content
            if reply.status == 422:
                assert error_code(reply) == "rule_violation", reply.content
    for invoice_id in ids:
        row = invoice_row(stack, invoice_id)
        assert_consistent(row)
        assert paid_by_bulk[invoice_id] <= 1, "two bulk calls both paid it"
        if paid_by_bulk[invoice_id]:
            assert row["status"] == "paid", row
        if invoice_id in cancelled_by_bulk:
            assert (row["status"], row["payments"]) == ("cancelled", 0), row
        else:
            assert row["status"] != "cancelled", row
    FIGURES["bulk_vs_payments"] = {"requests": len(work), "outcomes": dict(outcomes)}


# =============================================================================
# Idempotency-Key
# =============================================================================


def _send(client: Client, invoice_id: str, key: str | None, body: Any = None) -> Reply:
    headers = {"Idempotency-Key": key} if key else {}
    return client.request(
        "POST", f"/api/invoices/{invoice_id}/send", json_body=body or {}, headers=headers
    )


@pytest.mark.parametrize("senders", [2, SENDS], ids=["two", "many"])
def test_one_key_sent_at_once_emails_once(stack: LocalStack, client: Client, senders: int) -> None:
    assert client.user is not None
    customer = new_customer(client)
    address = sql(stack, "select email from public.clients where id = %s", customer)[0][0]
    invoice = new_invoice(client, customer, ["120.00"], status="draft")
    key = uuid.uuid4().hex
    workers = clients_of(stack, client.user, senders)
    try:
        replies = at_once(senders, lambda n: _send(workers[n], invoice["id"], key))
    finally:
        closing(workers)

    statuses = Counter(r.status for r in replies)
    assert set(statuses) <= {200, 409}, [(r.status, r.content[:300]) for r in replies]
    assert statuses[200] >= 1
    for reply in replies:
        if reply.status == 409:  # still in progress past the wait: a clear, retryable answer
            assert error_code(reply) == "conflict"
            assert reply.headers.get("retry-after")
    answered = [r for r in replies if r.status == 200]
    originals = [r for r in answered if r.headers.get("idempotent-replayed") != "true"]
    assert len(originals) == 1, "one request sent; the others replayed its answer"
    assert {r.content for r in answered} == {originals[0].content}, "replays are byte-identical"
    message_id = originals[0].json()["send"]["ses_message_id"]
    assert [m.id for m in to_address(address)] == [message_id], "exactly one email"
    assert sql(
        stack, "select count(*) from public.invoice_sends where invoice_id = %s", invoice["id"]
    ) == [(1,)]
    assert sql(
        stack,
        "select count(*) from public.client_activities"
        " where type = 'invoice_sent' and metadata ->> 'invoice_id' = %s",
        invoice["id"],
    ) == [(1,)]
    assert invoice_row(stack, invoice["id"])["status"] == "sent"
    # Later, the same key again: the stored answer, nothing sent.
    again = _send(client, invoice["id"], key)
    assert again.status == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == originals[0].content
    assert len(to_address(address)) == 1
    FIGURES[f"one_key_{senders}_senders"] = {
        "statuses": dict(statuses),
        "replayed": len(answered) - 1,
        "emails": 1,
        **milliseconds(replies),
    }


def test_different_keys_at_once_each_send_once(stack: LocalStack, client: Client) -> None:
    """Different keys are different requests: each sends (a resend is allowed), each once
    — as many emails, sends and timeline lines as keys — and the draft ends sent once
    (one sent_at)."""
    assert client.user is not None
    customer = new_customer(client)
    address = sql(stack, "select email from public.clients where id = %s", customer)[0][0]
    invoice = new_invoice(client, customer, ["80.00"], status="draft")
    keys = [uuid.uuid4().hex for _ in range(SENDS)]
    workers = clients_of(stack, client.user, 2 * SENDS)
    try:
        # Each key sent twice at once: 2 x SENDS requests, SENDS emails.
        replies = at_once(2 * SENDS, lambda n: _send(workers[n], invoice["id"], keys[n % SENDS]))
    finally:
        closing(workers)
    assert {r.status for r in replies} <= {200, 409}, [(r.status, r.content[:300]) for r in replies]
    originals = [
        r for r in replies if r.status == 200 and r.headers.get("idempotent-replayed") != "true"
    ]
    assert len(originals) == SENDS
    message_ids = sorted(r.json()["send"]["ses_message_id"] for r in originals)
    assert sorted(m.id for m in to_address(address)) == message_ids
    sends = sql(
        stack,
        "select count(*), count(distinct ses_message_id) from public.invoice_sends"
        " where invoice_id = %s",
        invoice["id"],
    )
    assert sends == [(SENDS, SENDS)]
    row = sql(
        stack,
        "select status, sent_at is not null from public.invoices where id = %s",
        invoice["id"],
    )
    assert row == [("sent", True)]
    FIGURES["different_keys"] = {
        "keys": SENDS,
        "requests": 2 * SENDS,
        "emails": len(message_ids),
        **milliseconds(replies),
    }


def test_one_key_for_two_invoices_at_once_sends_one_of_them(
    stack: LocalStack, client: Client
) -> None:
    """One Idempotency-Key on two different invoices at once (three requests each): one
    request sends; the same invoice's others replay it; the other invoice's requests are
    a different request under a used key, 422 idempotency_key_reused, and send nothing."""
    assert client.user is not None
    customer = new_customer(client)
    address = sql(stack, "select email from public.clients where id = %s", customer)[0][0]
    pair = [new_invoice(client, customer, ["40.00"], status="draft") for _ in range(2)]
    key = uuid.uuid4().hex
    workers = clients_of(stack, client.user, 6)
    try:
        replies = at_once(6, lambda n: _send(workers[n], pair[n % 2]["id"], key))
    finally:
        closing(workers)
    originals = [
        (n, r)
        for n, r in enumerate(replies)
        if r.status == 200 and r.headers.get("idempotent-replayed") != "true"
    ]
    assert len(originals) == 1, [(r.status, r.content[:200]) for r in replies]
    winner = originals[0][0] % 2
    for n, reply in enumerate(replies):
        if n % 2 == winner:
            assert reply.status in (200, 409), reply.content
            if reply.status == 200:
                assert reply.content == originals[0][1].content
        else:
            assert (reply.status, error_code(reply)) in {
                (422, "idempotency_key_reused"),
                (409, "conflict"),  # still held past the wait
            }, reply.content
    assert len(to_address(address)) == 1
    statuses = [invoice_row(stack, i["id"])["status"] for i in pair]
    assert sorted(statuses) == ["draft", "sent"]
    FIGURES["one_key_two_invoices"] = {
        "requests": 6,
        "statuses": dict(Counter(r.status for r in replies)),
        "emails": 1,
    }


def test_one_email_signed_up_at_once_makes_one_account(stack: LocalStack) -> None:
    """Ten sign-ups of one address at once: one account (one user, one personal
    organization). The others are 409 conflict, or — when they lost the race inside
    Auth, whose insert then hits the email's unique index and answers 500, as Supabase
    Auth does (supabase/auth#2675) — 503 with Retry-After; retried, those are 409.
    Never a 500 from the API, never a second account."""
    email = f"twice-{uuid.uuid4().hex[:8]}@reliability.example"
    body = {
        "email": email,
        "password": "reliability-Pa55!",
        "first_name": "Twice",
        "last_name": "Signed",
    }
    workers = [Client(stack) for _ in range(10)]
    try:
        replies = at_once(
            10, lambda n: workers[n].request("POST", "/api/auth/signup", json_body=body)
        )
        statuses = Counter(r.status for r in replies)
        assert statuses[201] == 1, [(r.status, r.content[:200]) for r in replies]
        assert set(statuses) <= {201, 409, 503}, [(r.status, r.content[:200]) for r in replies]
        for reply in replies:
            if reply.status == 409:
                assert error_code(reply) == "conflict"
            elif reply.status == 503:
                assert error_code(reply) == "service_unavailable"
                assert reply.headers.get("retry-after")
        retried = [
            workers[n].request("POST", "/api/auth/signup", json_body=body)
            for n, r in enumerate(replies)
            if r.status == 503
        ]
    finally:
        closing(workers)
    assert all((r.status, error_code(r)) == (409, "conflict") for r in retried), [
        (r.status, r.content[:200]) for r in retried
    ]
    users = sql(stack, "select id::text from auth.users where email = %s", email)
    assert len(users) == 1
    organizations = sql(
        stack,
        "select count(*) from public.memberships where user_id = %s and role = 'owner'",
        users[0][0],
    )
    assert organizations == [(1,)]
    FIGURES["same_signup"] = {"requests": 10, "statuses": dict(statuses), "retried": len(retried)}


# =============================================================================
# Scheduled jobs run at once
# =============================================================================


def _invoke_http(stack: LocalStack, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Lambda's Invoke API on the emulator (what boto3's lambda client and
    ``python -m devstack.invoke`` call)."""
    import json  # noqa: PLC0415

    reply = httpx.post(
        f"{stack.functions_url}/2015-03-31/functions/{name}/invocations",
        content=json.dumps(event).encode(),
        timeout=300,
    )
    assert reply.status_code == 200, reply.text
    assert "x-amz-function-error" not in reply.headers, reply.text
    result: dict[str, Any] = reply.json()
    return result


def _runs(stack: LocalStack, name: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    """JOB_RUNS runs of ``name`` at once, half in the host (as EventBridge), half over the
    Invoke API."""

    def one(n: int) -> dict[str, Any]:
        if n % 2:
            return _invoke_http(stack, name, event)
        result: dict[str, Any] = stack.host.invoke_by_name(name, event)
        return result

    return at_once(JOB_RUNS, one)


def _tenant(stack: LocalStack, overdue: int, soon: int) -> tuple[Client, list[str], str]:
    """A new person with their organization, a client, ``overdue`` invoices past due
    and ``soon`` due within the reminder window; reminders on, daily."""
    person = Client(stack)
    user = person.sign_up("jobs")
    customer = new_customer(person)
    today = utc_today()
    ids = []
    for n in range(overdue + soon):
        due = today - dt.timedelta(days=1 + n) if n < overdue else today + dt.timedelta(days=3)
        invoice = new_invoice(
            person,
            customer,
            ["150.00"],
            issue_date=(today - dt.timedelta(days=40)).isoformat(),
            due_date=due.isoformat(),
        )
        ids.append(str(invoice["id"]))
    # Sent a month ago (a reminder before the due date is not sent when its window
    # opened before the invoice went out).
    sql(
        stack,
        "update public.invoices set sent_at = now() - interval '30 days'"
        " where id = any(%s::uuid[])",
        ids,
    )
    sql(
        stack,
        "update public.organization_settings set reminder_settings ="
        " private.reminder_settings_from_legacy("
        ' \'{"enabled": true, "daysBeforeDue": 7, "overdueFrequency": "daily"}\')'
        " where organization_id = %s",
        user.organization_id,
    )
    return person, ids, customer


def test_overlapping_job_runs_send_each_email_once(stack: LocalStack) -> None:
    """Mark overdue, the overdue notices, the reminders and the summaries, each run
    JOB_RUNS times at once over JOB_ORGS organizations: each invoice marked once, each
    notice, reminder and summary sent once (counted in SES and in email_deliveries)."""
    stack.host.invoke_by_name("jobsMarkOverdue", {})  # settles what earlier tests made
    tenants = [_tenant(stack, overdue=JOB_OVERDUE, soon=3) for _ in range(JOB_ORGS)]
    orgs = [t[0].user.organization_id for t in tenants if t[0].user]
    overdue_ids = {i for t in tenants for i in t[1][:JOB_OVERDUE]}
    all_ids = {i for t in tenants for i in t[1]}
    scope = {"organization_ids": orgs, "batch_limit": 2}
    timings: dict[str, float] = {}

    started = time.perf_counter()
    marked = _runs(stack, "jobsMarkOverdue", {})
    timings["mark_overdue_s"] = round(time.perf_counter() - started, 2)
    assert sum(r["marked"] for r in marked) == len(overdue_ids), marked
    assert sum(r["notifications_queued"] for r in marked) == len(orgs), marked
    statuses = dict(
        sql(
            stack,
            "select id::text, status from public.invoices where id = any(%s::uuid[])",
            list(all_ids),
        )
    )
    assert {i for i, s in statuses.items() if s == "overdue"} == overdue_ids
    became = sql(
        stack,
        "select metadata ->> 'invoice_id', count(*) from public.client_activities"
        " where type = 'invoice_overdue' and organization_id = any(%s::uuid[]) group by 1",
        orgs,
    )
    assert dict(became) == dict.fromkeys(overdue_ids, 1)

    started = time.perf_counter()
    notices = _runs(stack, "jobsNotifications", scope)
    timings["notifications_s"] = round(time.perf_counter() - started, 2)
    assert sum(r["sent"] for r in notices) == len(orgs), notices  # one owner each
    owners = [t[0].user.email for t in tenants if t[0].user]
    for owner in owners:
        assert len(to_address(owner)) == 1, owner

    started = time.perf_counter()
    reminders = _runs(stack, "jobsReminders", scope)
    timings["reminders_s"] = round(time.perf_counter() - started, 2)
    assert sum(r["sent"] for r in reminders) == len(all_ids), reminders
    rows = sql(
        stack,
        "select invoice_id::text, status, attempts, message_id from public.email_deliveries"
        " where kind = 'payment_reminder' and organization_id = any(%s::uuid[])",
        orgs,
    )
    assert sorted(r[0] for r in rows) == sorted(all_ids), "one reminder per invoice"
    assert {(r[1], r[2]) for r in rows} == {("sent", 1)}
    for _, ids, customer in tenants:
        address = sql(stack, "select email from public.clients where id = %s", customer)[0][0]
        assert sorted(m.id for m in to_address(address)) == sorted(
            r[3] for r in rows if r[0] in ids
        )

    started = time.perf_counter()
    summaries = _runs(stack, "jobsSummaries", {"organization_ids": orgs, "period": "week"})
    timings["summaries_s"] = round(time.perf_counter() - started, 2)
    assert sum(r["sent"] for r in summaries) == len(orgs), summaries
    for owner in owners:
        assert len(to_address(owner)) == 2, owner  # the overdue notice and the summary

    # Once more, all four at once: nothing left to do.
    last: list[tuple[str, dict[str, Any]]] = [
        ("jobsMarkOverdue", {}),
        ("jobsNotifications", scope),
        ("jobsReminders", scope),
        ("jobsSummaries", {"organization_ids": orgs, "period": "week"}),
    ]
    again = at_once(4, lambda n: _invoke_http(stack, *last[n]))
    assert again[0]["marked"] == 0
    assert [again[1]["sent"], again[2]["sent"], again[3]["sent"]] == [0, 0, 0], again
    for person, _, _ in tenants:
        person.close()
    FIGURES["jobs"] = {
        "runs_at_once": JOB_RUNS,
        "organizations": len(orgs),
        "invoices": len(all_ids),
        "marked": len(overdue_ids),
        "reminders": len(all_ids),
        "notices": len(orgs),
        "summaries": len(orgs),
        **timings,
    }


# =============================================================================
# Numbering
# =============================================================================


def test_invoices_created_at_once_get_distinct_gapless_numbers(
    stack: LocalStack, client: Client
) -> None:
    """INVOICES creations at once in one organization: some without a number, half with
    a number given by hand in the range the counter is reaching at that moment, some
    naming a number already used (409), some bound to fail after the number is taken (a
    discount above the subtotal, 422). Distinct numbers; a creation without a number is
    never refused for its number (the counter used to collide with a hand-given number
    not yet committed: migration 20261206100600_invoices.sql); the counter's numbers are exactly the
    first ones not taken by hand (no gaps), and a failure consumes none."""
    assert client.user is not None
    customer = new_customer(client)
    used = "INV-0005"  # taken by hand before: the counter must skip it
    first = new_invoice(client, customer, ["10.00"], invoice_number=used, status="draft")
    assert first["invoice_number"] == used
    bodies: list[dict[str, Any]] = []
    for n in range(INVOICES):
        body: dict[str, Any] = {
            "client_id": customer,
            "items": [{"description": "x", "quantity": "1", "rate": "10.00"}],
        }
        if n % 10 == 3:
            body["discount"] = "20.00"  # refused by the database, after the number is taken
        elif n % 10 == 7:
            body["invoice_number"] = used  # a duplicate: 409
        elif n % 2 == 0:
            body["invoice_number"] = f"INV-{n // 2 + 1:04d}"  # by hand, where the counter is
        bodies.append(body)
    workers = clients_of(stack, client.user, INVOICES)
    try:
        replies = at_once(
            INVOICES, lambda n: workers[n].request("POST", "/api/invoices", json_body=bodies[n])
        )
    finally:
        closing(workers)

    outcomes = Counter(r.status for r in replies)
    by_hand: set[int] = {5}
    automatic: list[int] = []
    for body, reply in zip(bodies, replies, strict=True):
        number = body.get("invoice_number")
        if "discount" in body:
            assert (reply.status, error_code(reply)) == (422, "rule_violation"), reply.content
        elif number == used:
            assert (reply.status, error_code(reply)) == (409, "conflict"), reply.content
        elif number is not None:  # the counter may have given it out first: then a 409
            assert reply.status in (201, 409), reply.content
            if reply.status == 201:
                by_hand.add(int(number[4:]))
            else:
                assert error_code(reply) == "conflict"
        else:
            assert reply.status == 201, reply.content
            automatic.append(int(str(reply.json()["invoice_number"])[4:]))
    assert len(set(automatic)) == len(automatic), "no duplicate numbers"
    assert not set(automatic) & by_hand
    free = (n for n in range(1, 10 * INVOICES) if n not in by_hand)
    assert sorted(automatic) == [next(free) for _ in automatic], "no gaps but numbers by hand"
    stored = sql(
        stack,
        "select count(*), count(distinct invoice_number) from public.invoices"
        " where organization_id = %s",
        client.user.organization_id,
    )
    total = len(automatic) + len(by_hand)
    assert stored == [(total, total)]
    counter = sql(
        stack,
        "select next_invoice_number from public.organization_settings where organization_id = %s",
        client.user.organization_id,
    )[0][0]
    assert counter == max(automatic) + 1
    FIGURES["numbering"] = {
        "requests": INVOICES,
        "outcomes": {str(k): v for k, v in outcomes.items()},
        **milliseconds(replies),
    }


# =============================================================================
# Client credit applied while payments and refunds race for the same money
# =============================================================================

CREDIT_RACE = int(os.environ.get("RELIABILITY_CONC_CREDIT_RACE", "24"))


def test_credit_applications_racing_payments_and_refunds_never_overspend(
    stack: LocalStack, client: Client
) -> None:
    """A client holds 300.00 of credit (a paid invoice credited whole) and owes 1000.00
    on another. At once: payments on that invoice, applications of the credit to it and
    refunds from the credit, each of 20.00 to 80.00 (together more than either bound).
    Every answer is 2xx or a 422 rule refusal; afterwards paid + applied <= 1000, applied +
    refunded <= 300, the credit balance is its ledger's sum, the invoice's balance is
    total - paid - credited and the client's outstanding balance is that balance."""
    assert client.user is not None
    customer = new_customer(client)
    source = new_invoice(client, customer, ["300.00"])
    paid = client.request(
        "POST", "/api/payments", json_body={"invoice_id": source["id"], "amount": "300.00"}
    )
    assert paid.status == 201, paid.content
    note = client.request(
        "POST", "/api/credit-notes", json_body={"invoice_id": source["id"], "kind": "whole"}
    )
    assert note.status == 201, note.content
    assert note.json()["credit_amount"] == "300.00"
    target = new_invoice(client, customer, ["1000.00"])
    rng = draws(11)
    kinds = [("pay", "apply", "refund")[n % 3] for n in range(CREDIT_RACE)]
    rng.shuffle(kinds)
    amounts = [Decimal(rng.randint(2_000, 8_000)) / 100 for _ in kinds]
    work: list[tuple[str, str, Any]] = []
    for kind, amount in zip(kinds, amounts, strict=True):
        if kind == "pay":
            work.append(
                ("POST", "/api/payments", {"invoice_id": target["id"], "amount": str(amount)})
            )
        elif kind == "apply":
            work.append(
                (
                    "POST",
                    f"/api/clients/{customer}/credit/apply",
                    {"invoice_id": target["id"], "amount": str(amount)},
                )
            )
        else:
            work.append(("POST", "/api/refunds", {"client_id": customer, "amount": str(amount)}))
    replies = race(stack, client.user, work)

    refused = [r for r in replies if r.status >= 300]
    assert {(r.status, error_code(r)) for r in refused} <= {(422, "rule_violation")}, [
        (r.status, r.content[:200]) for r in refused
    ]
    won = {
        kind: sum(
            (
                a
                for k, a, r in zip(kinds, amounts, replies, strict=True)
                if k == kind and r.status < 300
            ),
            Decimal(0),
        )
        for kind in ("pay", "apply", "refund")
    }
    assert won["apply"] + won["refund"] <= Decimal("300.00")
    assert won["pay"] + won["apply"] <= Decimal("1000.00")
    (status, total, amount_paid, credit_applied, credited, balance) = sql(
        stack,
        "select status, total_amount, amount_paid, credit_applied, amount_credited, balance_due"
        " from public.invoices where id = %s",
        target["id"],
    )[0]
    assert (amount_paid, credit_applied) == (won["pay"], won["apply"])
    assert balance == total - amount_paid - credited >= 0
    assert status == ("paid" if balance == 0 else "sent")
    (ledger_sum, held, outstanding) = sql(
        stack,
        "select (select coalesce(sum(amount), 0) from public.client_credit_entries"
        "        where client_id = %s),"
        "       (select coalesce(sum(balance), 0) from public.client_credit_balances"
        "        where client_id = %s),"
        "       (select outstanding_balance from public.clients where id = %s)",
        customer,
        customer,
        customer,
    )[0]
    assert ledger_sum == held == Decimal("300.00") - won["apply"] - won["refund"] >= 0
    assert outstanding == balance
    FIGURES["credit_race"] = {
        "requests": CREDIT_RACE,
        "accepted": {
            k: sum(1 for kk, r in zip(kinds, replies, strict=True) if kk == k and r.status < 300)
            for k in won
        },
        "accepted_amounts": {k: str(v) for k, v in won.items()},
        "refused_422": len(refused),
        **milliseconds(replies),
    }
