"""Faults on the whole local stack, over HTTP: PostgreSQL restarted mid-load, AWS (SES, S3)
away, and the bulk send worker cut off mid-batch like a Lambda timeout.

What each scenario holds to, and how a request cut mid-commit is treated:

* **PostgreSQL restarted** (`test_postgres_restart_mid_load`): a few threads create
  invoices with items (each with a known item count and total, marked by a unique note) and
  record payments (marked by a unique reference) while the database is stopped for
  ``FAULTS_PG_DOWN_SECONDS`` and started again. Every answer is a 2xx, or a clean
  ``503 service_unavailable`` with ``Retry-After`` (never a 500/502, never slower than
  ``FAULTS_REQUEST_BOUND_SECONDS``). Every stored invoice has exactly the items and totals
  its request asked for; every stored payment is in its invoice's ``amount_paid``. A request
  answered 2xx is stored. A request answered 503 is, as a rule, not stored — except a
  request that was *in flight when the database stopped*: its COMMIT may have reached the
  database while the answer did not come back (the one "outcome unknown" window), so it may
  be stored, but then whole. Those are counted (``unknown_outcome_stored``) and bounded by
  the number of writes in flight at the stop. Sign-in during the outage is 503 too. The
  service resumes by itself; the time to the first success of each kind after PostgreSQL is
  back is measured.
* **SES and S3 away** (`test_ses_*`, `test_s3_*`): sends are 503 (AWS unreachable) or 503
  non-retryable (an unverified sender), the invoice is not marked and nothing is recorded;
  with AWS back the same Idempotency-Key sends once (the failed request gave its key back),
  a new key after success sends again (a new key is a new request, by design), and moto
  holds exactly that many emails. Report export and bulk download are 503 while S3 is away,
  leave no job or object behind, and work again once it is back.
* **Lambda timeout mid bulk send** (`test_bulk_send_*`): a queued bulk send whose worker
  runs out of time (a Lambda context whose remaining time runs out: the worker stops claiming
  before its deadline and reports the rest as ``batchItemFailures``), and one whose worker
  process is SIGKILLed right after SES accepted an email and before the database recorded it
  (the outcome-unknown item). The queue redelivers the rest; every invoice is emailed at most
  once (moto's SES mailbox counted per recipient), all but the unknown one exactly once, the
  unknown one is reported ``interrupted`` and never resent, and the job finishes with the
  right counts.
* **Lambda cut off mid inline bulk send** (`test_inline_bulk_send_*`): a send of
  ``INLINE_SEND_LIMIT`` invoices (made during the request) whose function process is
  SIGKILLed right after SES accepted its third email. The request had queued one delayed
  message for its items first; the stack's poller delivers it to the worker, which sends
  the rest and reports the one in doubt ``interrupted`` (once its claim is stale): nothing
  is emailed twice and the job finishes.

Environment (defaults in brackets): ``FAULTS_THREADS`` [6], ``FAULTS_PG_DOWN_SECONDS`` [3],
``FAULTS_LOAD_BEFORE_SECONDS`` [3], ``FAULTS_LOAD_AFTER_SECONDS`` [5],
``FAULTS_REQUEST_BOUND_SECONDS`` [2: no answer, success or error, may take longer; shorter
than the outage, so a request waiting the outage out fails it],
``FAULTS_RECOVERY_BOUND_SECONDS`` [2: the first success of each kind after PostgreSQL is
back], ``FAULTS_BULK_INVOICES`` [40], ``FAULTS_INLINE_SAFETY_DELAY_SECONDS`` [6: the inline
send's delayed message, in production its Lambda's remaining time + 30 s].
Figures go to bench/out/reliability/faults.json (one key per scenario).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from devstack.local import LocalStack
from reliability.conftest import Client, Reply, record, sql

THREADS = int(os.environ.get("FAULTS_THREADS", "6"))
PG_DOWN_SECONDS = float(os.environ.get("FAULTS_PG_DOWN_SECONDS", "3"))
LOAD_BEFORE_SECONDS = float(os.environ.get("FAULTS_LOAD_BEFORE_SECONDS", "3"))
LOAD_AFTER_SECONDS = float(os.environ.get("FAULTS_LOAD_AFTER_SECONDS", "5"))
REQUEST_BOUND_SECONDS = float(os.environ.get("FAULTS_REQUEST_BOUND_SECONDS", "2"))
RECOVERY_BOUND_SECONDS = float(os.environ.get("FAULTS_RECOVERY_BOUND_SECONDS", "2"))
BULK_INVOICES = int(os.environ.get("FAULTS_BULK_INVOICES", "40"))
INLINE_SAFETY_DELAY_SECONDS = int(os.environ.get("FAULTS_INLINE_SAFETY_DELAY_SECONDS", "6"))

CENT = Decimal("0.01")
FIGURES: dict[str, Any] = {}


def _record(scenario: str, figures: dict[str, Any]) -> None:
    """Every scenario's figures in one file, faults.json (each test adds its own)."""
    FIGURES[scenario] = figures
    record("faults", FIGURES)


# =============================================================================
# Traffic
# =============================================================================


@dataclass
class Sent:
    """One request the load made, with what it asked for and what it got."""

    kind: str  # invoice | payment | sign_in
    started: float
    ended: float
    status: int  # 0: no answer within the client's timeout (a hang)
    code: str | None
    retry_after: str | None
    marker: str = ""
    items: int = 0
    total: Decimal = Decimal(0)
    invoice_id: str | None = None
    amount: Decimal = Decimal(0)


@dataclass
class Load:
    """Threads of a small invoicing workload (create an invoice with items, record a part
    payment on one of the thread's invoices) until ``stop`` is set."""

    stack: LocalStack
    threads: int
    stop: threading.Event = field(default_factory=threading.Event)
    sent: list[Sent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> list[threading.Thread]:
        workers = [
            threading.Thread(target=self._worker, args=(n,), name=f"load-{n}", daemon=True)
            for n in range(self.threads)
        ]
        for worker in workers:
            worker.start()
        return workers

    def _add(self, sent: Sent) -> None:
        with self.lock:
            self.sent.append(sent)

    def _worker(self, n: int) -> None:
        rng = random.Random(n)  # noqa: S311 - test data
        client = Client(self.stack, timeout=REQUEST_BOUND_SECONDS + 10)
        client.sign_up(f"faults-load{n}")
        made = client.request(
            "POST",
            "/api/clients",
            json_body={"company_name": f"Load client {n} {uuid.uuid4().hex[:6]}"},
        )
        assert made.status == 201, made.content
        client_id = made.json()["id"]
        invoices: list[tuple[str, Decimal]] = []  # (id, what is left to pay)
        try:
            while not self.stop.is_set():
                if invoices and rng.random() < 0.4:
                    self._pay(client, rng, invoices)
                else:
                    self._create(client, rng, client_id, invoices)
        finally:
            client.close()

    def _create(
        self,
        client: Client,
        rng: random.Random,
        client_id: str,
        invoices: list[tuple[str, Decimal]],
    ) -> None:
        items = [
            {
                "description": f"Line {k}",
                "quantity": str(Decimal(rng.randint(1, 400)) / 4),
                "rate": str(Decimal(rng.randint(100, 99_999)) / 100),
            }
            for k in range(rng.randint(1, 6))
        ]
        total = sum(
            (
                (Decimal(i["quantity"]) * Decimal(i["rate"])).quantize(CENT, ROUND_HALF_UP)
                for i in items
            ),
            Decimal(0),
        )
        marker = f"faults-{uuid.uuid4().hex}"
        body = {
            "client_id": client_id,
            "status": "sent",
            "tax_rate": "0",
            "notes": marker,
            "items": items,
        }
        reply = self._timed(client, "POST", "/api/invoices", body)
        sent = self._sent("invoice", reply, marker=marker, items=len(items), total=total)
        if reply is not None and reply.status == 201:
            stored = reply.json()
            assert Decimal(stored["total_amount"]) == total, stored
            invoices.append((stored["id"], total))
            sent.invoice_id = stored["id"]
        self._add(sent)
        self._back_off(reply)

    def _pay(self, client: Client, rng: random.Random, invoices: list[tuple[str, Decimal]]) -> None:
        index = rng.randrange(len(invoices))
        invoice_id, left = invoices[index]
        amount = min(left, Decimal(rng.randint(1, 5_000)) / 100)
        marker = f"faults-{uuid.uuid4().hex[:20]}"
        body = {"invoice_id": invoice_id, "amount": str(amount), "reference_number": marker}
        reply = self._timed(client, "POST", "/api/payments", body)
        sent = self._sent("payment", reply, marker=marker, invoice_id=invoice_id, amount=amount)
        if sent.status == 201:
            left -= amount
        self._back_off(reply)
        # A 503 payment may or may not have been stored: the thread stops paying that
        # invoice rather than guess what is left (the check reads what was stored).
        if sent.status != 201 or left <= 0:
            invoices.pop(index)
        else:
            invoices[index] = (invoice_id, left)
        self._add(sent)

    def _back_off(self, reply: Reply | None) -> None:
        """A client honouring Retry-After, capped so that recovery is seen within 0.25 s."""
        if reply is not None and reply.status == 503:
            self.stop.wait(min(float(reply.headers.get("retry-after") or 1), 0.25))

    @staticmethod
    def _timed(client: Client, method: str, path: str, body: Any) -> Reply | None:
        try:
            return client.request(method, path, json_body=body)
        except Exception:  # no answer within the client's timeout: a hang
            return None

    @staticmethod
    def _sent(kind: str, reply: Reply | None, **what: Any) -> Sent:
        ended = time.monotonic()
        if reply is None:
            return Sent(kind, ended - REQUEST_BOUND_SECONDS - 10, ended, 0, None, None, **what)
        code = None
        if reply.status >= 400:
            try:
                code = reply.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "not-the-error-shape"
        return Sent(
            kind,
            ended - reply.seconds,
            ended,
            reply.status,
            code,
            reply.headers.get("retry-after"),
            **what,
        )


def _errors_by(sent: list[Sent]) -> dict[str, int]:
    return dict(
        Counter(f"{s.kind} {s.status} {s.code}" for s in sent if s.status >= 300 or not s.status)
    )


def _first_success_after(sent: list[Sent], kind: str, moment: float) -> float | None:
    times = [
        s.ended - moment for s in sent if s.kind == kind and s.status < 300 and s.started >= moment
    ]
    return round(min(times), 3) if times else None


# =============================================================================
# 1. PostgreSQL restarted mid-load
# =============================================================================


def test_postgres_restart_mid_load(stack: LocalStack) -> None:
    load = Load(stack, THREADS)
    workers = load.run()
    prober = Client(stack, timeout=REQUEST_BOUND_SECONDS + 10)
    probe_user = prober.sign_up("faults-signin")
    time.sleep(LOAD_BEFORE_SECONDS)

    sign_ins: list[Sent] = []
    probing = threading.Event()

    def probe_sign_in() -> None:
        while not probing.is_set():
            try:
                reply = prober.sign_in(probe_user.email)
            except Exception:
                reply = None
            sign_ins.append(Load._sent("sign_in", reply))
            time.sleep(0.1)

    signing = threading.Thread(target=probe_sign_in, daemon=True)
    down_at = time.monotonic()
    signing.start()
    stack.restart_postgres(down_for=PG_DOWN_SECONDS)
    up_at = time.monotonic()
    time.sleep(LOAD_AFTER_SECONDS)
    load.stop.set()
    probing.set()
    for worker in [*workers, signing]:
        worker.join(timeout=REQUEST_BOUND_SECONDS + 15)
        assert not worker.is_alive(), f"{worker.name} still running"
    prober.close()

    everything = [*load.sent, *sign_ins]
    figures: dict[str, Any] = {
        "threads": THREADS,
        "requests": len(load.sent),
        "sign_in_probes": len(sign_ins),
        "by_status": dict(Counter(f"{s.kind} {s.status}" for s in everything)),
        "errors": _errors_by(everything),
        "outage_seconds": round(up_at - down_at, 3),
        "recovery_seconds": {
            kind: _first_success_after(everything, kind, up_at)
            for kind in ("invoice", "payment", "sign_in")
        },
        "slowest_seconds": round(max((s.ended - s.started for s in everything), default=0), 3),
        "slowest_error_seconds": round(
            max((s.ended - s.started for s in everything if s.status >= 500), default=0), 3
        ),
    }
    _record("postgres_restart", figures)

    # Every answer is a success or a clean, retryable 503 -- within the bound.
    bad = [
        s
        for s in everything
        if s.status >= 300 and (s.status, s.code) != (503, "service_unavailable")
    ]
    assert not bad, f"answers other than 2xx or 503 service_unavailable: {_errors_by(bad)}"
    assert all(s.status for s in everything), "a request got no answer within the bound"
    assert all(s.retry_after for s in everything if s.status == 503), "503 without Retry-After"
    assert all(s.ended - s.started <= REQUEST_BOUND_SECONDS for s in everything)
    outage_errors = [s for s in load.sent if s.status == 503]
    assert outage_errors, "the outage was not seen by the load (nothing failed)"
    assert any(s.status == 503 for s in sign_ins), "sign-in during the outage was not a 503"

    # It came back by itself: every kind succeeded again after PostgreSQL was up.
    for kind, seconds in figures["recovery_seconds"].items():
        assert seconds is not None, f"no {kind} succeeded after PostgreSQL came back"
        assert seconds <= RECOVERY_BOUND_SECONDS, f"{kind} took {seconds} s to recover"

    # No partial writes: what is stored is what was asked, whole.
    unknown_window = [s for s in load.sent if s.started <= down_at <= s.ended]
    stored_invoices = {
        row[0]: row[1:]
        for row in sql(
            stack,
            "select i.notes, i.id::text, i.total_amount, i.amount_paid, i.balance_due,"
            " (select count(*) from public.invoice_items it where it.invoice_id = i.id),"
            " (select coalesce(sum(it.amount), 0) from public.invoice_items it"
            "   where it.invoice_id = i.id),"
            " (select coalesce(sum(p.amount), 0) from public.payments p where p.invoice_id = i.id)"
            " from public.invoices i where i.notes like 'faults-%%'",
        )
    }
    stored_payments = {
        row[0]: row[1:]
        for row in sql(
            stack,
            "select reference_number, invoice_id::text, amount from public.payments"
            " where reference_number like 'faults-%%'",
        )
    }
    unknown_stored = 0
    for s in load.sent:
        if s.kind == "invoice":
            found = stored_invoices.get(s.marker)
            if found is None:
                assert s.status != 201, f"invoice answered 201 but not stored: {s}"
                continue
            _, total, paid, balance, item_count, item_sum, payments = found
            assert (item_count, item_sum, total) == (s.items, s.total, s.total), (s, found)
            assert paid == payments, (s, found)
            assert balance == total - paid, (s, found)
        else:
            found = stored_payments.get(s.marker)
            if found is None:
                assert s.status != 201, f"payment answered 201 but not stored: {s}"
                continue
            assert found == (s.invoice_id, s.amount), (s, found)
        if s.status != 201:
            assert s in unknown_window, f"a request answered {s.status} was stored: {s}"
            unknown_stored += 1
    # The functions that speak as the service role (scheduled jobs) recovered too.
    from devstack.functions import scheduled_event  # noqa: PLC0415

    job = stack.host.invoke_by_name(
        "jobsMarkOverdue", scheduled_event(stack.host.by_name["jobsMarkOverdue"])
    )
    assert isinstance(job, dict), job
    figures["scheduled_job_after"] = "ok"
    figures["unknown_outcome_window"] = len(unknown_window)
    figures["unknown_outcome_stored"] = unknown_stored
    figures["invoices_stored"] = len(stored_invoices)
    figures["payments_stored"] = len(stored_payments)
    figures["held"] = [
        "every answer 2xx or 503 service_unavailable with Retry-After, within the bound",
        "sign-in during the outage 503",
        "every stored invoice whole (items, totals); every stored payment in amount_paid",
        "errors stored only when in flight at the stop (outcome unknown)",
        "invoices, payments and sign-in succeed again without a restart of the stack",
    ]
    _record("postgres_restart", figures)


# =============================================================================
# 2. SES and S3 failing
# =============================================================================


def _mailbox() -> list[Any]:
    """Every email moto's SES accepted (its state lives in this process)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
    from moto.ses.models import ses_backends  # noqa: PLC0415

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def _mails_to(address: str) -> int:
    return sum(1 for m in _mailbox() if address in (m.destinations or []))


def _mailable_invoice(client: Client, *, status: str = "draft") -> tuple[str, str]:
    """A client with an email and an invoice for it; (invoice id, client email)."""
    address = f"{uuid.uuid4().hex[:12]}@client.example"
    made = client.request(
        "POST",
        "/api/clients",
        json_body={"company_name": f"Mail {uuid.uuid4().hex[:6]}", "email": address},
    )
    assert made.status == 201, made.content
    invoice = client.request(
        "POST",
        "/api/invoices",
        json_body={
            "client_id": made.json()["id"],
            "status": status,
            "items": [{"description": "Work", "quantity": "2", "rate": "150.00"}],
        },
    )
    assert invoice.status == 201, invoice.content
    return invoice.json()["id"], address


def _error(reply: Reply) -> dict[str, Any]:
    body = reply.json()
    assert isinstance(body, dict), reply.content
    error = body["error"]
    assert isinstance(error, dict)
    return error


def _sends_of(stack: LocalStack, invoice_id: str) -> tuple[str, int, int]:
    """The invoice's status, its recorded sends and its invoice_sent activities."""
    ((status, sends, activities),) = sql(
        stack,
        "select i.status,"
        " (select count(*) from public.invoice_sends s where s.invoice_id = i.id),"
        " (select count(*) from public.client_activities a where a.type = 'invoice_sent'"
        "   and a.metadata ->> 'invoice_id' = i.id::text)"
        " from public.invoices i where i.id = %s",
        invoice_id,
    )
    return status, sends, activities


def test_ses_unreachable_then_back_sends_exactly_once(stack: LocalStack, client: Client) -> None:
    invoice_id, address = _mailable_invoice(client)
    path = f"/api/invoices/{invoice_id}/send"
    key = {"Idempotency-Key": uuid.uuid4().hex}
    stack.stop_aws()
    try:
        started = time.monotonic()
        failed = client.request("POST", path, headers=key)
        outage = time.monotonic() - started
        again = client.request("POST", path, headers=key)  # the key was given back
    finally:
        stack.start_aws()
    for reply in (failed, again):
        assert reply.status == 503, reply.content
        error = _error(reply)
        assert error["code"] == "service_unavailable"
        assert error["details"] == {"reason": "unavailable", "retryable": True}
        assert reply.headers.get("retry-after")
    assert reply.seconds <= REQUEST_BOUND_SECONDS
    assert _sends_of(stack, invoice_id) == ("draft", 0, 0), "nothing marked while SES is away"
    assert _mails_to(address) == 0

    # AWS back: the same key sends (its failed requests gave it back), once.
    started = time.monotonic()
    sent = client.request("POST", path, headers=key)
    recovery = time.monotonic() - started
    assert sent.status == 200, sent.content
    assert "idempotent-replayed" not in sent.headers
    replay = client.request("POST", path, headers=key)
    assert replay.status == 200, replay.content
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["send"]["id"] == sent.json()["send"]["id"]
    assert _mails_to(address) == 1
    assert _sends_of(stack, invoice_id) == ("sent", 1, 1)
    # A new key is a new request: the invoice is sent again (a sent invoice may be resent),
    # and the old key still replays its own answer.
    resend = client.request("POST", path, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert resend.status == 200, resend.content
    assert resend.json()["send"]["id"] != sent.json()["send"]["id"]
    assert client.request("POST", path, headers=key).headers.get("idempotent-replayed") == "true"
    assert _mails_to(address) == 2
    assert _sends_of(stack, invoice_id) == ("sent", 2, 2)
    _record(
        "ses_unreachable",
        {
            "requests": 6,
            "errors": {"503 service_unavailable (retryable)": 2},
            "outage_answer_seconds": round(outage, 3),
            "first_send_after_back_seconds": round(recovery, 3),
            "mails": {"during_outage": 0, "same_key_after": 1, "new_key_after": 1},
            "held": [
                "503 retryable with Retry-After; invoice stays draft, nothing recorded",
                "same key after the outage sends once, then replays",
                "a new key sends again (a new request); moto holds exactly 2 emails",
            ],
        },
    )


def test_ses_refusing_the_sender_is_503_not_retryable_and_marks_nothing(
    stack: LocalStack, client: Client
) -> None:
    from shared.settings import get_settings  # noqa: PLC0415

    invoice_id, address = _mailable_invoice(client)
    path = f"/api/invoices/{invoice_id}/send"
    key = {"Idempotency-Key": uuid.uuid4().hex}
    good = os.environ["EMAIL_FROM"]
    os.environ["EMAIL_FROM"] = "Nobody <nobody@unverified.example>"
    get_settings.cache_clear()
    try:
        refused = client.request("POST", path, headers=key)
    finally:
        os.environ["EMAIL_FROM"] = good
        get_settings.cache_clear()
    assert refused.status == 503, refused.content
    error = _error(refused)
    assert error["code"] == "service_unavailable"
    assert error["details"] == {"reason": "sender_not_verified", "retryable": False}
    assert _sends_of(stack, invoice_id) == ("draft", 0, 0)
    assert _mails_to(address) == 0
    fixed = client.request("POST", path, headers=key)
    assert fixed.status == 200, fixed.content
    assert _mails_to(address) == 1
    assert _sends_of(stack, invoice_id) == ("sent", 1, 1)
    _record(
        "ses_sender_refused",
        {
            "requests": 2,
            "errors": {"503 service_unavailable (sender_not_verified, not retryable)": 1},
            "held": ["nothing marked or mailed; the same key sends once the sender is fixed"],
        },
    )


def _objects(stack: LocalStack, prefix: str) -> tuple[list[str], list[str]]:
    """The exports bucket's objects and unfinished multipart uploads under ``prefix``."""
    import boto3  # noqa: PLC0415

    s3 = boto3.client(
        "s3",
        endpoint_url=stack.aws_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = stack.env["EXPORTS_BUCKET"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    uploads = [
        u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
    ]
    return keys, uploads


def test_s3_unreachable_export_and_download_are_503_and_leave_nothing(
    stack: LocalStack, client: Client
) -> None:
    assert client.user is not None
    org = client.user.organization_id
    ids = [_mailable_invoice(client, status="sent")[0] for _ in range(3)]
    export = ("GET", "/api/reports/export")
    export_params = {"report": "invoices", "format": "csv"}
    download = {"action": "download", "ids": ids}
    assert _objects(stack, f"{org}/") == ([], [])

    stack.stop_aws()
    try:
        failed_export = client.request(*export, params=export_params)
        failed_pdf_export = client.request(*export, params={"report": "revenue", "format": "pdf"})
        failed_download = client.request("POST", "/api/invoices/bulk-actions", json_body=download)
    finally:
        stack.start_aws()
    for reply in (failed_export, failed_pdf_export, failed_download):
        assert reply.status == 503, reply.content
        assert _error(reply)["code"] == "service_unavailable"
        assert reply.headers.get("retry-after")
        assert reply.seconds <= REQUEST_BOUND_SECONDS
    assert _objects(stack, f"{org}/") == ([], []), "nothing stored, no upload left open"
    assert sql(stack, "select count(*) from public.bulk_jobs where organization_id = %s", org) == [
        (0,)
    ], "a download makes no job"

    ok_export = client.request(*export, params=export_params)
    assert ok_export.status == 200, ok_export.content
    ok_download = client.request("POST", "/api/invoices/bulk-actions", json_body=download)
    assert ok_download.status == 200, ok_download.content
    assert ok_download.json()["summary"] == {"requested": 3, "ok": 3}
    keys, uploads = _objects(stack, f"{org}/")
    assert len(keys) == 2
    assert uploads == []
    _record(
        "s3_unreachable",
        {
            "requests": 5,
            "errors": {"503 service_unavailable": 3},
            "answer_seconds": [
                round(r.seconds, 3) for r in (failed_export, failed_pdf_export, failed_download)
            ],
            "held": [
                "export (csv, pdf) and bulk download 503 with Retry-After while S3 is away",
                "no object, no open multipart upload, no job left behind",
                "both work once S3 is back (2 objects)",
            ],
        },
    )


# =============================================================================
# 3. A Lambda timeout mid bulk send
# =============================================================================

BULK_WORKER = "jobsBulkWorker"
# The worker process the test kills: the real handler on the real queue, in its own
# process, SIGKILLed right after SES accepted its Nth email and before the database
# recorded it (the outcome-unknown window; Lambda's timeout kills the process as bluntly).
_KILLED_WORKER = """
import os, signal, sys
import boto3
from devstack.functions import LambdaContext, load_functions
from devstack.queues import sqs_event
from functions.jobs import bulk_worker
from shared import sending

kill_after, queue_url = int(sys.argv[1]), sys.argv[2]
accepted = 0
real_send = sending.send

def send_then_die(*args, **kwargs):
    global accepted
    message_id = real_send(*args, **kwargs)
    accepted += 1
    if kill_after and accepted >= kill_after:
        print(f"accepted {message_id}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return message_id

sending.send = send_then_die
sqs = boto3.client("sqs", region_name="us-east-1")
arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
messages = sqs.receive_message(
    QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=10, AttributeNames=["All"]
).get("Messages", [])
print(f"received {len(messages)}", flush=True)
spec = next(s for s in load_functions() if s.name == "jobsBulkWorker")
bulk_worker.handler(sqs_event(messages, arn["Attributes"]["QueueArn"]), LambdaContext(spec))
print("finished without being killed", flush=True)
"""


def _sqs(stack: LocalStack) -> Any:
    import boto3  # noqa: PLC0415

    return boto3.client(
        "sqs",
        endpoint_url=stack.aws_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _job_items(stack: LocalStack, job_id: str) -> dict[str, tuple[str, str | None]]:
    return {
        row[0]: (row[1], row[2])
        for row in sql(
            stack,
            "select invoice_id::text, status, reason from public.bulk_job_items where job_id = %s",
            job_id,
        )
    }


def test_bulk_send_cut_off_mid_batch_resumes_and_sends_each_once(
    stack: LocalStack, client: Client
) -> None:
    import dataclasses  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from devstack.functions import LambdaContext  # noqa: PLC0415
    from devstack.queues import sqs_event  # noqa: PLC0415
    from functions.jobs import bulk_worker  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    invoices = [_mailable_invoice(client) for _ in range(BULK_INVOICES)]
    address_of = dict(invoices)
    ids = [i for i, _ in invoices]
    sqs = _sqs(stack)
    queue = stack.provisioned.bulk_queue_url
    poller = stack.poller(BULK_WORKER)
    spec = stack.host.by_name[BULK_WORKER]
    saved_visibility = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    visibility, stale = 4, 2  # seconds: as 720 and 600 in production, stale < visibility
    poller.stop()  # the test plays Lambda for the first deliveries
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": str(visibility)})
    os.environ["BULK_CLAIM_STALE_SECONDS"] = str(stale)
    get_settings.cache_clear()
    started = time.monotonic()
    try:
        queued = client.request(
            "POST", "/api/invoices/bulk-actions", json_body={"action": "send", "ids": ids}
        )
        assert queued.status == 202, queued.content
        job_id = queued.json()["job_id"]

        # (a) A Lambda whose time runs out: it stops claiming SAFETY_MARGIN_SECONDS before
        # its deadline and names the messages with items left in batchItemFailures.
        first = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2, AttributeNames=["All"]
        )["Messages"]
        margin = bulk_worker.SAFETY_MARGIN_SECONDS
        short = dataclasses.replace(spec, timeout=int(margin) + 1)
        context = LambdaContext(short)
        # An invocation that has used most of its time: 0.3 s left before the margin.
        time.sleep(max(0.0, context.get_remaining_time_in_millis() / 1000 - margin - 0.3))
        result = bulk_worker.handler(sqs_event(first, poller.queue_arn), context)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        items = _job_items(stack, job_id)
        sent_in_time = sum(1 for status, _ in items.values() if status == "ok")
        assert sent_in_time < BULK_INVOICES, "the deadline stopped the worker"
        assert failed, "items left are reported as batch item failures"
        assert all(status != "sending" for status, _ in items.values()), "nothing left claimed"
        done = [m for m in first if m["MessageId"] not in failed]
        for message in done:  # what Lambda does with the messages not named
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

        # (b) A Lambda killed mid-batch: the process dies after SES accepted an email and
        # before the database recorded it.
        killed = subprocess.run(
            [sys.executable, "-c", _KILLED_WORKER, "3", queue],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=dict(os.environ),
        )
        assert killed.returncode == -9, (killed.returncode, killed.stdout, killed.stderr[-2000:])
        accepted = killed.stdout.split("accepted ")[-1].strip()
        items = _job_items(stack, job_id)
        in_doubt = [i for i, (status, _) in items.items() if status == "sending"]
        assert len(in_doubt) == 1, f"only the item being sent is in doubt: {items}"
        assert sum(1 for status, _ in items.values() if status == "pending") > 0

        # (b2) Killed from outside at whatever point it is at (before SES, between SES and
        # the database, between items) once two more emails went out: at most one more in
        # doubt, whether or not its email went.
        mailed = len(_mailbox())
        worker = subprocess.Popen(
            [sys.executable, "-c", _KILLED_WORKER, "0", queue],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        try:
            until = time.monotonic() + 60
            while len(_mailbox()) < mailed + 2 and worker.poll() is None:
                assert time.monotonic() < until, "the second worker sent nothing"
                time.sleep(0.005)
            worker.kill()
            out, err = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert worker.returncode == -9, (worker.returncode, out, err[-2000:])
        items = _job_items(stack, job_id)
        in_doubt_too = [i for i, (st, _) in items.items() if st == "sending" and i not in in_doubt]
        assert len(in_doubt_too) <= 1, f"at most the item being sent is in doubt: {items}"
        in_doubt += in_doubt_too

        # (c) The queue redelivers after the visibility timeout; the stack's poller (Lambda's
        # event source mapping) runs the worker until the job is done.
        poller.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = client.request("GET", f"/api/invoices/bulk-actions/{job_id}").json()
            if job["state"] in ("completed", "failed"):
                break
            time.sleep(0.5)
    finally:
        poller.start() if poller._thread is None else None
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": saved_visibility})
        os.environ.pop("BULK_CLAIM_STALE_SECONDS", None)
        get_settings.cache_clear()
    elapsed = time.monotonic() - started

    assert job["state"] == "completed", job
    doubt = len(in_doubt)
    assert job["summary"] == {
        "requested": BULK_INVOICES,
        "ok": BULK_INVOICES - doubt,
        "interrupted": doubt,
    }
    assert job["done"] == BULK_INVOICES
    items = _job_items(stack, job_id)
    mails = {i: _mails_to(address_of[i]) for i in ids}
    assert max(mails.values()) == 1, "an invoice was emailed twice"
    unknown = in_doubt[0]  # killed right after SES accepted it
    assert mails[unknown] == 1, "the item in doubt had been accepted by SES, and only once"
    for invoice_id in in_doubt:
        assert items[invoice_id] == ("failed", "interrupted"), "reported, never resent"
    for invoice_id in ids:
        expected = ("draft", 0, 0) if invoice_id in in_doubt else ("sent", 1, 1)
        assert _sends_of(stack, invoice_id) == expected, invoice_id
    assert sum(mails.values()) == BULK_INVOICES - doubt + sum(mails[i] for i in in_doubt)
    assert accepted, killed.stdout
    _record(
        "bulk_send_lambda_timeout",
        {
            "invoices": BULK_INVOICES,
            "messages": -(-BULK_INVOICES // 10),
            "sent_before_deadline": sent_in_time,
            "deferred_messages": len(failed),
            "killed_after_ses_accepted": 3,
            "killed_from_outside_after_two_more_emails": 1,
            "in_doubt": doubt,
            "in_doubt_emailed": sum(mails[i] for i in in_doubt),
            "emails_in_moto": sum(mails.values()),
            "recorded_sends": BULK_INVOICES - doubt,
            "summary": job["summary"],
            "seconds_to_complete": round(elapsed, 3),
            "visibility_timeout_seconds": visibility,
            "claim_stale_seconds": stale,
            "held": [
                "the worker out of time claims nothing more and reports its messages",
                "a SIGKILL mid-batch (self-inflicted after SES accepted, or from outside at"
                " any point) leaves at most the item being sent in doubt, the rest pending",
                "redelivery sends the rest; every invoice emailed at most once",
                "the item in doubt is reported interrupted, never resent; job completed",
            ],
        },
    )


# =============================================================================
# 4. A Lambda cut off mid inline bulk send
# =============================================================================

# The bulk-actions function in its own process, SIGKILLed right after SES accepted its Nth
# email and before the database recorded it (as a Lambda timeout or crash would end it).
_KILLED_INLINE_SEND = """
import asyncio, json, os, signal, sys
asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum takes the thread's loop
from devstack.functions import LambdaContext, http_event, http_route
from functions.invoices import bulk_actions
from shared import sending
from shared.settings import function_environment

kill_after, ids = int(sys.argv[1]), sys.argv[2].split(",")
accepted = 0
real_send = sending.send

def send_then_die(*args, **kwargs):
    global accepted
    message_id = real_send(*args, **kwargs)
    accepted += 1
    if accepted >= kill_after:
        print(f"accepted {message_id}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return message_id

sending.send = send_then_die
spec = http_route("POST", "/api/invoices/bulk-actions")
function_environment.set(spec.environment)
body = json.dumps({"action": "send", "ids": ids}).encode()
headers = {
    "authorization": "Bearer " + os.environ["INLINE_SEND_TOKEN"],
    "x-organization-id": os.environ["INLINE_SEND_ORGANIZATION"],
    "content-type": "application/json",
    "content-length": str(len(body)),
}
event = http_event(spec, "POST", "/api/invoices/bulk-actions", "", headers, body)
result = bulk_actions.handler(event, LambdaContext(spec))
print("finished without being killed", result.get("statusCode"), flush=True)
"""


def test_inline_bulk_send_cut_off_mid_way_resumes_from_the_queue(
    stack: LocalStack, client: Client
) -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from shared.bulk_send import INLINE_SEND_LIMIT  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    assert client.user is not None
    invoices = [_mailable_invoice(client) for _ in range(INLINE_SEND_LIMIT)]
    address_of = dict(invoices)
    ids = [i for i, _ in invoices]
    sqs = _sqs(stack)
    queue = stack.provisioned.bulk_queue_url
    saved_visibility = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    # As 720 and 600 in production against a delay of about a minute: the first delivery
    # finds the item in doubt freshly claimed and comes back; the next one settles it.
    delay, visibility = INLINE_SAFETY_DELAY_SECONDS, 4
    stale = delay + 2
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": str(visibility)})
    os.environ["BULK_CLAIM_STALE_SECONDS"] = str(stale)  # the stack's worker reads it
    get_settings.cache_clear()
    started = time.monotonic()
    try:
        killed = subprocess.run(
            [sys.executable, "-c", _KILLED_INLINE_SEND, "3", ",".join(ids)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={
                **os.environ,
                "BULK_INLINE_SAFETY_DELAY_SECONDS": str(delay),
                "INLINE_SEND_TOKEN": client.user.access_token,
                "INLINE_SEND_ORGANIZATION": client.user.organization_id,
            },
        )
        killed_at = time.monotonic()
        assert killed.returncode == -9, (killed.returncode, killed.stdout, killed.stderr[-2000:])
        accepted = killed.stdout.split("accepted ")[-1].strip()
        ((job_id,),) = sql(
            stack,
            "select distinct job_id::text from public.bulk_job_items where invoice_id = %s",
            ids[0],
        )
        items = _job_items(stack, job_id)
        in_doubt = [i for i, (status, _) in items.items() if status == "sending"]
        after_kill = Counter(status for status, _ in items.values())
        assert after_kill == {"ok": 2, "sending": 1, "pending": INLINE_SEND_LIMIT - 3}, items

        # The delayed message comes; the stack's poller (Lambda's event source mapping)
        # runs the worker until the job is done.
        deadline = time.monotonic() + delay + 4 * visibility + 60
        while time.monotonic() < deadline:
            job = client.request("GET", f"/api/invoices/bulk-actions/{job_id}").json()
            if job["state"] == "completed":
                break
            time.sleep(0.5)
        completed_at = time.monotonic()
        # Nothing left on the queue: the message was deleted once the job was settled.
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])
        left = sum(
            int(attributes["Attributes"].get(name, 0))
            for name in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )
    finally:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": saved_visibility})
        os.environ.pop("BULK_CLAIM_STALE_SECONDS", None)
        get_settings.cache_clear()

    assert job["state"] == "completed", job
    assert job["summary"] == {
        "requested": INLINE_SEND_LIMIT,
        "ok": INLINE_SEND_LIMIT - 1,
        "interrupted": 1,
    }
    items = _job_items(stack, job_id)
    assert items[in_doubt[0]] == ("failed", "interrupted"), "reported, never resent"
    mails = {i: _mails_to(address_of[i]) for i in ids}
    assert set(mails.values()) == {1}, f"each invoice emailed once, the one in doubt too: {mails}"
    for invoice_id in ids:
        expected = ("draft", 0, 0) if invoice_id in in_doubt else ("sent", 1, 1)
        assert _sends_of(stack, invoice_id) == expected, invoice_id
    assert accepted, killed.stdout
    _record(
        "inline_bulk_send_cut_off",
        {
            "invoices": INLINE_SEND_LIMIT,
            "killed_after_ses_accepted": 3,
            "after_kill": dict(sorted(after_kill.items())),
            "safety_delay_seconds": delay,
            "claim_stale_seconds": stale,
            "visibility_timeout_seconds": visibility,
            "seconds_kill_to_completed": round(completed_at - killed_at, 3),
            "seconds_total": round(completed_at - started, 3),
            "emails_in_moto": sum(mails.values()),
            "messages_left_on_queue": left,
            "summary": job["summary"],
            "held": [
                "the request cut off after SES accepted its third email leaves 2 ok, 1 in"
                " doubt, the rest pending",
                "its delayed message sends the rest; every invoice emailed exactly once",
                "the item in doubt is reported interrupted, never resent; job completed",
            ],
        },
    )
