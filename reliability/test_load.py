"""Load: a bounded run of realistic traffic against the whole local stack over HTTP
(reliability/load.py), then every invariant checked with SQL behind RLS's back.

Environment (defaults are issue 7's figures):
  RELIABILITY_LOAD_CLIENTS   concurrent clients, one thread and httpx client each (20)
  RELIABILITY_LOAD_SECONDS   how long they run (120)
  RELIABILITY_LOAD_ORG_SIZE  clients sharing one organization (5: 4 organizations of 5)
  RELIABILITY_LOAD_LIFECYCLE_CLIENTS  more clients running the billing lifecycle
                             (reliability/lifecycle.py) in organizations of their own (4)
  RELIABILITY_LOAD_INTEGRATIONS_CLIENTS  more clients running API keys, webhooks, the
                             client's page and Stripe, invitations and MFA
                             (reliability/integrations.py) in organizations of their own (3)
  RELIABILITY_LOAD_BASELINE_SECONDS  the baseline after the run: the same clients on
                             GET /api/auth/me, to which the mix is compared (10; 0: none)

A short run while developing:
  RELIABILITY_LOAD_SECONDS=15 RELIABILITY_LOAD_CLIENTS=6 \
    .venv/bin/python -m pytest reliability/test_load.py -q -x -s

Figures: bench/out/reliability/load.json (throughput, p50/p95/p99 overall and per
operation, errors by status and code, what was created, the invariants checked).
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

from devstack.local import LocalStack
from reliability.conftest import Client, record
from reliability.integrations import INTEGRATIONS_OPS, IntegrationsLedger, check_integrations
from reliability.lifecycle import LIFECYCLE_OPS
from reliability.load import (
    MIX,
    PROBES,
    Call,
    Invariants,
    Ledger,
    LoadResult,
    LogCapture,
    check_invariants,
    check_reports,
)
from shared.formatting import minor_unit


def _result(load_run: tuple[LoadResult, Any]) -> LoadResult:
    return load_run[0]


def _with_logs(calls: list[Call], capture: LogCapture) -> list[str]:
    """Each call, with the log lines of its request id (a 500's traceback)."""
    out = []
    for call in calls[:10]:
        out.append(f"{call.op} {call.method} {call.route} -> {call.status}: {call.detail}")
        for request_id in re.findall(r'"request_id":\s*"([0-9a-f-]{36})"', call.detail):
            out += [f"    {where}: {line}" for where, line in capture.lines() if request_id in line]
    return out


def test_every_answer_was_the_expected_one(load_run: tuple[LoadResult, LogCapture]) -> None:
    result, capture = load_run
    assert result.server_errors == [], "\n".join(_with_logs(result.server_errors, capture))
    assert result.unexpected == [], "\n".join(_with_logs(result.unexpected, capture))
    assert result.ledger.mismatches == [], result.ledger.mismatches[:10]
    assert result.ledger.unknown == []
    # The run did what it is for: every operation ran, and contended.
    long_run = result.seconds >= 60
    wanted = {op for op, weight in MIX.items() if weight >= 2 or long_run} - {"probe", "bulk"}
    wanted |= (
        {"bulk_mark_sent", "bulk_mark_paid", "bulk_cancel", "bulk_send"} if long_run else set()
    )
    wanted |= {"send_replay", "job_mark_overdue"}
    if result.lifecycle_users:
        # The billing lifecycle: every flow ran (the rarer branches on a long run).
        rare = {"lc_quote_decline", "lc_refund_credit", "lc_refund_payment"}
        wanted |= LIFECYCLE_OPS if long_run else LIFECYCLE_OPS - rare
    if result.integrations_users:
        # Integrations, teams and MFA: every flow ran (invitations are rarer).
        rare = {"it_invite", "it_invitee_signup", "it_accept", "it_invitee_read", "it_dispatch"}
        wanted |= INTEGRATIONS_OPS if long_run else INTEGRATIONS_OPS - rare
    ran = {c.op for c in result.calls}
    assert wanted <= ran, f"never ran: {sorted(wanted - ran)}"
    if long_run:
        assert {f"probe_{p}" for p in PROBES} <= ran, sorted({f"probe_{p}" for p in PROBES} - ran)
    assert len(result.ledger.payments) >= 10
    assert sum(1 for c in result.calls if c.op == "overpay" and c.status == 422) >= 1


BASELINE_SECONDS = float(os.environ.get("RELIABILITY_LOAD_BASELINE_SECONDS", "10"))


def baseline(stack: LocalStack, result: LoadResult, seconds: float) -> dict[str, Any]:
    """The same clients, the same way in, on the cheapest authenticated route
    (GET /api/auth/me: the token checked, one call to PostgREST), right after the run:
    the machine's own figure, against which the mix is compared (these machines are
    noisy; a ratio travels, milliseconds do not)."""
    timings: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop(client: Client) -> None:
        try:
            while time.perf_counter() < deadline:
                reply = client.request("GET", "/api/auth/me")
                with lock:
                    timings.append(reply.seconds * 1000)
                    statuses[reply.status] = statuses.get(reply.status, 0) + 1
        finally:
            client.close()

    threads = [
        threading.Thread(target=loop, args=(Client(stack, user),), daemon=True)
        for user in result.users
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    timings.sort()

    def pct(p: float) -> float:
        return round(timings[min(len(timings) - 1, int(p * len(timings)))], 1)

    return {
        "route": "GET /api/auth/me",
        "clients": len(threads),
        "seconds": round(elapsed, 2),
        "requests": len(timings),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "throughput_rps": round(len(timings) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


def test_every_invariant_holds_afterwards(
    stack: LocalStack, load_run: tuple[LoadResult, Any]
) -> None:
    result = _result(load_run)
    invariants = check_invariants(stack, result)
    figures = result.figures()
    figures["invariants"] = {
        "checked": dict(sorted(invariants.checked.items())),
        "checks": sum(invariants.checked.values()),
        "violations": len(invariants.violations),
        "first_violations": invariants.violations[:10],
    }
    figures["first_unexpected"] = [
        f"{c.op} {c.method} {c.route} -> {c.status} {c.code}: {c.detail[:200]}"
        for c in result.unexpected[:10]
    ]
    if BASELINE_SECONDS > 0:
        base = baseline(stack, result, BASELINE_SECONDS)
        latency = figures["latency"]
        base["mix_to_baseline"] = {
            "throughput": round(figures["throughput_rps"] / base["throughput_rps"], 2),
            "p50": round(latency["p50_ms"] / base["p50_ms"], 2),
            "p95": round(latency["p95_ms"] / base["p95_ms"], 2),
            "p99": round(latency["p99_ms"] / base["p99_ms"], 2),
        }
        figures["baseline"] = base
    record("load", figures)
    assert invariants.violations == []
    if BASELINE_SECONDS > 0:
        assert figures["baseline"]["statuses"] == {"200": figures["baseline"]["requests"]}
    # Each family of checks ran on something.
    for name in (
        "amount_paid_is_sum_of_payments",
        "total_rule",
        "numbers_have_no_gaps",
        "one_email_per_send_record",
        "client_totals",
        "invoices_stored_were_told",
        "payments_told_are_stored",
    ):
        assert invariants.checked[name] > 0, name
    if result.lifecycle_users:
        for name in (
            "lc_balance_is_total_minus_paid_minus_credited",
            "lc_amount_paid_is_payments_applied",
            "lc_payment_within_amount",
            "lc_credit_is_ledger_sum",
            "lc_credit_as_tracked",
            "lc_outstanding_is_sum_of_balances",
            "lc_invoices_numbers_unique",
            "lc_quotes_numbers_unique",
            "lc_credit_notes_numbers_unique",
            "lc_dashboard_outstanding_and_credit",
        ):
            assert invariants.checked[name] > 0, name
    if result.integrations_users:
        for name in (
            "it_one_stripe_payment_per_intent",
            "it_checkout_paid_once",
            "it_event_delivered",
            "it_received_is_an_event_once",
            "it_one_delivery_per_event",
            "it_change_emitted_once",
            "it_paid_emitted_once",
            "it_no_cross_tenant_read",
            "it_signatures_valid",
        ):
            assert invariants.checked[name] > 0, name
        assert result.integrations.drain.get("undelivered_events") == 0, result.integrations.drain
        refused = [c for c in result.calls if c.op == "it_mfa_aal1_refused"]
        assert refused, "the aal1 member never tried"
        assert all(c.status == 403 and c.code == "mfa_required" for c in refused)


def test_the_dashboard_agrees_with_the_ledger(
    stack: LocalStack, load_run: tuple[LoadResult, Any]
) -> None:
    """After the run, each organization's metrics (several currencies, payments from
    several people at once) are what the driver's own bookkeeping says."""
    result = _result(load_run)
    assert result.ledger.unknown == []
    reports = check_reports(stack, result)
    assert reports.violations == []
    assert reports.checked["metrics_per_currency"] >= len(result.ledger.orgs)
    assert reports.checked["metrics_invoice_counts"] == len(result.ledger.orgs)


def test_the_checks_catch_a_ledger_that_disagrees(
    stack: LocalStack, load_run: tuple[LoadResult, Any]
) -> None:
    """The invariants can fail: against the same database, a ledger missing one payment,
    with one send never answered and one total a minor unit off is caught three ways."""
    result = _result(load_run)
    ledger = result.ledger
    forged = Ledger()
    forged.orgs = ledger.orgs
    forged.clients = dict(ledger.clients)
    forged.invoices = {k: dataclasses.replace(v) for k, v in ledger.invoices.items()}
    forged.payments = dict(list(ledger.payments.items())[1:])
    sent = next(i for i in forged.invoices.values() if i.ses_message_id)
    sent.ses_message_id = None
    other = next(i for i in forged.invoices.values() if i is not sent)
    other.total += Decimal(1).scaleb(-minor_unit(other.currency))
    fake = LoadResult(clients=result.clients, seconds=result.seconds, ledger=forged)
    caught = {v.split(":")[0] for v in check_invariants(stack, fake).violations}
    assert {"payments_stored_were_told", "one_send_record_per_send", "invoice_as_created"} <= (
        caught
    )


def test_the_integration_checks_catch_what_did_not_happen(
    stack: LocalStack, load_run: tuple[LoadResult, Any]
) -> None:
    """The integrations' invariants can fail: against the same database, a ledger saying a
    checkout was paid by another PaymentIntent, a key-created client the outbox never saw,
    and a receiver that got nothing are caught three ways."""
    result = _result(load_run)
    real = result.integrations
    if not real.paid:
        return
    invoice, (_, total) = next(iter(real.paid.items()))
    forged = IntegrationsLedger(
        org=real.org,
        mfa_org=real.mfa_org,
        endpoint_id=real.endpoint_id,
        paid={invoice: ("pi_never_paid", total)},
        created_by_key=[str(uuid.uuid4())],
        drain={"rounds": 0},
    )
    fake = LoadResult(clients=0, seconds=0, integrations=forged)
    caught = {v.split(":")[0] for v in check_integrations(stack, fake, Invariants()).violations}
    assert {"it_checkout_paid_once", "it_change_emitted_once", "it_event_delivered"} <= caught
