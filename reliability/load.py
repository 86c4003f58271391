"""A bounded load driver for the whole local stack, and the invariants that must hold
after it (reliability/test_load.py runs both; the faults tests can drive their traffic
through `run_load` too).

`run_load(stack, clients, seconds, on_tick)` signs up ``clients`` people through the API,
puts them into shared organizations (`ORG_SIZE` people each, by SQL into
``public.memberships``: numbering and payments then contend inside one organization) and
runs one thread per person, each with its own httpx client, for ``seconds``. Each thread
signs in, then repeats a weighted mix (`MIX`) of what the frontend does:

- reads: invoice, client and payment lists with filters, sorts and pages; invoice and
  client details; the dashboard;
- clients (USD, EUR, JPY, KWD) and invoices of 1-6 items (quantities with decimals, rates
  with cents or more, tax rates with up to 3 decimals, discounts in the currency's minor
  unit; sent or draft; now and then a typed number, and a number already used: 409);
- payments: partial, full, over-payments (422), on drafts (422); corrected up or down and
  deleted (a paid invoice reopens);
- invoice changes: new items, tax and discount on drafts and unpaid sent ones; the money
  of an invoice with payments (422); drafts deleted, unpaid sent ones cancelled;
- sends of drafts with an Idempotency-Key (some replayed with the same key: the same
  answer, no second email); bulk actions on 2-4 invoices (marked sent, emailed, paid in
  full, cancelled);
- sessions: signs in again and refreshes at the gateway now and then; the overdue job
  once (the service role's path);
- the billing lifecycle (reliability/lifecycle.py), by ``lifecycle`` more people in
  organizations of their own: quotes sent, accepted and converted, credit notes on paid
  invoices, refunds, client credit applied, recurring profiles issued now;
- with ``probes``, the failing paths (wrong password, unknown email, forged, `alg=none`,
  expired, role-escalating and ended tokens, malformed and over-full bodies, a taken
  email, a too short password, a bad refresh) so error logs are included.

Every call is timed and classified as expected or not (each operation says which
statuses it expects). The `Ledger` is what the driver knows it created: ids, the money it
expects, the payments accepted, the emails sent. A write whose outcome is unknown (a 5xx
or a transport error) is kept aside with its reference so the invariants can tell a row
the driver was never told about from one it may have written.

Every outcome is decided in advance although several threads work on one organization
(and pay one invoice) at once: a partial or full payment reserves its amount out of the
balance the ledger knows (total - accepted - in flight), so it must succeed; an
over-payment is one minor unit above what any payment in flight could leave, so it must
be refused; changing, sending, cancelling or deleting an invoice holds it busy, so no
other thread pays or changes it meanwhile.

`check_invariants(stack, result)` then reads the run's organizations with SQL (behind
RLS's back) and moto's SES outbox, and answers what it checked and what it found wrong.
`LogCapture` records every log line and every write to stdout/stderr in this process
and what PostgreSQL wrote to its server log meanwhile (reliability/test_logs.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, TextIO

import httpx
import jwt
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from devstack.local import LocalStack
from reliability.conftest import PASSWORD, Client, Reply, User, sql
from reliability.integrations import (
    INTEGRATIONS_CLIENTS,
    IntegrationsLedger,
    check_integrations,
    integrations_workers,
    setup_integrations,
)
from reliability.integrations import figures as integrations_figures
from reliability.lifecycle import (
    LIFECYCLE_CLIENTS,
    LIFECYCLE_ORG_SIZE,
    LifecycleLedger,
    check_lifecycle,
    lifecycle_workers,
)
from shared.formatting import minor_unit
from shared.log import _JsonFormatter, get_logger
from shared.settings import get_settings
from tests import tokens

DEFAULT_CLIENTS = int(os.environ.get("RELIABILITY_LOAD_CLIENTS", "20"))
DEFAULT_SECONDS = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "120"))
ORG_SIZE = int(os.environ.get("RELIABILITY_LOAD_ORG_SIZE", "5"))
HTTP_TIMEOUT = 60.0  # reliability.conftest.Client's

CURRENCIES = ("USD", "EUR", "JPY", "KWD")
CURRENCY_WEIGHTS = (6, 2, 1, 1)
TAX_RATES = ("0", "0", "8.875", "20", "7.5", "19", "0.125", "5.5")
QUANTITIES = ("1", "1", "2", "3", "5", "12", "0.5", "2.5", "0.75", "1.3333", "40")
METHODS = ("bank_transfer", "credit_card", "paypal", "check", "cash", "other")
TERMS = ("net7", "net15", "net30", "net30", "net45", "net60", "net90")

# The mix: relative weights of what a thread does next.
MIX: dict[str, int] = {
    "list_invoices": 14,
    "list_clients": 6,
    "list_payments": 6,
    "get_invoice": 10,
    "get_client": 3,
    "dashboard": 5,
    "create_client": 4,
    "create_invoice": 14,
    "duplicate_number": 1,
    "pay_partial": 9,
    "pay_full": 5,
    "overpay": 3,
    "pay_draft": 1,
    "update_invoice": 3,
    "update_paid_items": 1,
    "delete_draft": 1,
    "cancel_invoice": 1,
    "delete_payment": 2,
    "update_payment": 2,
    "send": 5,
    "bulk": 2,
    "sign_in": 1,
    "refresh": 1,
    "probe": 2,
}
PROBES = (
    "wrong_password",
    "unknown_email",
    "forged_token",
    "none_token",
    "expired_token",
    "role_escalation",
    "garbage_token",
    "refresh_token_as_bearer",
    "no_token",
    "malformed_login",
    "login_unknown_field",
    "taken_email",
    "short_password",
    "ended_session",
    "bad_refresh",
    "rest_forged_token",
)


def money(value: Decimal, currency: str) -> Decimal:
    """Rounded half up to the currency's minor unit (the database's rule)."""
    return value.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def invoice_money(
    items: list[tuple[Decimal, Decimal]], tax_rate: Decimal, discount: Decimal, currency: str
) -> tuple[list[Decimal], Decimal, Decimal, Decimal]:
    """Item amounts, subtotal, tax and total as docs/api.md states the money rules."""
    amounts = [money(q * r, currency) for q, r in items]
    subtotal = sum(amounts, Decimal(0))
    tax = money((subtotal - discount) * tax_rate / 100, currency)
    return amounts, subtotal, tax, subtotal - discount + tax


# =============================================================================
# What the driver knows
# =============================================================================


@dataclass
class ClientRecord:
    id: str
    org: str
    currency: str
    email: str
    ref: str


@dataclass
class InvoiceRecord:
    id: str
    org: str
    client_id: str
    currency: str
    number: str
    typed_number: bool
    items: list[tuple[Decimal, Decimal]]
    tax_rate: Decimal
    discount: Decimal
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    ref: str
    status: str  # what the driver expects: draft, sent, paid, cancelled
    accepted: Decimal = Decimal(0)  # payments answered 201
    reserved: Decimal = Decimal(0)  # payments in flight (or of unknown outcome)
    releasing: Decimal = Decimal(0)  # payments being deleted or lowered
    changing: int = 0  # payments of it being changed or deleted right now
    busy: bool = False  # a thread is sending, changing or deleting it
    version: int = 0  # changes made by the driver (reads in between are not compared)
    ses_message_id: str | None = None  # emailed by POST /api/invoices/{id}/send
    bulk_sent: bool = False  # emailed by a bulk send
    marked_sent: bool = False  # marked sent by a bulk action, not emailed

    @property
    def emailed(self) -> bool:
        return self.ses_message_id is not None or self.bulk_sent

    @property
    def open(self) -> Decimal:
        """What a new payment may still take, whatever the payments in flight do."""
        return self.total - self.accepted - self.reserved


@dataclass
class PaymentRecord:
    id: str
    invoice_id: str
    amount: Decimal
    ref: str
    busy: bool = False  # a thread is changing or deleting it


@dataclass
class Unknown:
    """A write whose outcome the driver was not told (5xx, transport error)."""

    # client, invoice, payment, send; invoice_update, invoice_delete, invoice_cancel,
    # payment_update, payment_delete
    kind: str
    # clients: company name; invoices: notes; payments: reference (payment_delete: its id);
    # sends: the invoice id
    ref: str
    invoice_id: str | None = None
    amount: Decimal | None = None


class Ledger:
    """What the driver created, as the API answered it. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.orgs: dict[str, list[str]] = {}  # organization -> member user ids
        self.clients: dict[str, ClientRecord] = {}
        self.invoices: dict[str, InvoiceRecord] = {}
        self.payments: dict[str, PaymentRecord] = {}
        self.deleted_invoices: dict[str, tuple[str, str]] = {}  # id -> organization, number
        self.deleted_payments: set[str] = set()
        self.replays = 0  # sends answered again for the same Idempotency-Key
        self.unknown: list[Unknown] = []
        self.mismatches: list[str] = []  # an answer that disagreed with the ledger

    def mismatch(self, message: str) -> None:
        with self.lock:
            self.mismatches.append(message)

    # Read under the lock as the writes are: a client's thread reading the organization's
    # invoices while another added one raised "dictionary changed size during iteration"
    # (the load's one unexpected answer, a driver's, in a make reliability run).
    def clients_of(self, org: str) -> list[ClientRecord]:
        with self.lock:
            return [c for c in self.clients.values() if c.org == org]

    def invoices_of(self, org: str) -> list[InvoiceRecord]:
        with self.lock:
            return [i for i in self.invoices.values() if i.org == org]

    @property
    def sends(self) -> dict[str, str | None]:
        """invoice id -> the SES message id its send answered (None: a bulk send's)."""
        with self.lock:
            return {i.id: i.ses_message_id for i in self.invoices.values() if i.emailed}


# =============================================================================
# A run's figures
# =============================================================================


@dataclass
class Call:
    op: str
    method: str
    route: str
    status: int  # 0: no HTTP answer (transport error)
    code: str | None
    seconds: float
    at: float  # seconds since the run started
    expected: bool
    detail: str = ""


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def _latency(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
        "max_ms": round(max(values, default=0.0) * 1000, 1),
    }


@dataclass
class LoadResult:
    clients: int
    seconds: float  # asked for
    elapsed: float = 0.0  # from the first thread's start to the last one's end
    started_at: str = ""
    users: list[User] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    calls: list[Call] = field(default_factory=list)
    # Everything a log must never contain, by kind (tokens held, passwords typed, forged
    # tokens sent); reliability/test_logs.py adds the stack's own keys.
    secrets: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # The billing lifecycle's people and what they did (reliability/lifecycle.py).
    lifecycle_users: list[User] = field(default_factory=list)
    lifecycle: LifecycleLedger = field(default_factory=LifecycleLedger)
    # Integrations, teams and MFA (reliability/integrations.py).
    integrations_users: list[User] = field(default_factory=list)
    integrations: IntegrationsLedger = field(default_factory=IntegrationsLedger)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def secret(self, kind: str, value: str | None) -> None:
        if value:
            with self._lock:
                self.secrets[kind].add(value)

    @property
    def unexpected(self) -> list[Call]:
        return [c for c in self.calls if not c.expected]

    @property
    def server_errors(self) -> list[Call]:
        return [c for c in self.calls if c.status >= 500 or c.status == 0]

    def errors(self) -> dict[str, dict[str, int]]:
        """Non-2xx answers by "status code", split into expected and unexpected."""
        out: dict[str, Counter[str]] = {"expected": Counter(), "unexpected": Counter()}
        for c in self.calls:
            if c.status >= 400 or c.status == 0:
                out["expected" if c.expected else "unexpected"][f"{c.status} {c.code}"] += 1
        return {k: dict(sorted(v.items())) for k, v in out.items()}

    def figures(self) -> dict[str, Any]:
        by_op: dict[str, list[float]] = defaultdict(list)
        for c in self.calls:
            by_op[c.op].append(c.seconds)
        everything = [c.seconds for c in self.calls]
        ledger = self.ledger
        return {
            "clients": self.clients,
            "organizations": len(ledger.orgs),
            "seconds": self.seconds,
            "elapsed_s": round(self.elapsed, 2),
            "requests": len(self.calls),
            "throughput_rps": round(len(self.calls) / self.elapsed, 1) if self.elapsed else 0,
            "latency": _latency(everything),
            "per_operation": {op: _latency(v) for op, v in sorted(by_op.items())},
            "errors": self.errors(),
            "server_errors": len(self.server_errors),
            "unexpected": len(self.unexpected),
            "created": {
                "clients": len(ledger.clients),
                "invoices": len(ledger.invoices),
                "items": sum(len(i.items) for i in ledger.invoices.values()),
                "payments": len(ledger.payments),
                "paid_invoices": sum(1 for i in ledger.invoices.values() if i.status == "paid"),
                "sends": len(ledger.sends),
                "send_replays": ledger.replays,
                "unknown_outcome": len(ledger.unknown),
            },
            "answer_mismatches": len(ledger.mismatches),
            "lifecycle": {
                "clients": len(self.lifecycle_users),
                "organizations": len(self.lifecycle.orgs),
                "created": dict(sorted(self.lifecycle.counts.items())),
                "answer_mismatches": len(self.lifecycle.mismatches),
            },
            "integrations": integrations_figures(self),
        }


# =============================================================================
# Tokens for the failing paths
# =============================================================================


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def forge(claims: dict[str, Any], secret: str, alg: str = "HS256") -> str:
    """An HS256 token signed with ``secret``, or with ``alg="none"`` an unsigned one."""
    return tokens.unsigned(claims) if alg == "none" else tokens.hs256(claims, secret)


def _is_draft(invoice: InvoiceRecord) -> bool:
    return invoice.status == "draft"


# =============================================================================
# The driver
# =============================================================================


class _Run:
    def __init__(
        self,
        stack: LocalStack,
        result: LoadResult,
        seconds: float,
        probes: bool,
        tolerated: Collection[int] = (),
    ) -> None:
        self.stack = stack
        self.tolerated = frozenset(tolerated)
        self.result = result
        self.ledger = result.ledger
        self.seconds = seconds
        self.probes = probes
        self.tag = uuid.uuid4().hex[:8]
        self.t0 = 0.0
        self.deadline = 0.0
        self.today = str(sql(stack, "select current_date")[0][0])


class Worker:
    """One simulated person: a thread with its own httpx client."""

    def __init__(self, run: _Run, index: int, user: User) -> None:
        self.run = run
        self.index = index
        self.user = user
        self.org = user.organization_id
        self.client = Client(run.stack, user)
        self.rng = random.Random(f"{run.tag}-{index}")  # noqa: S311 - test traffic
        self.counter = 0
        mix = dict(MIX) if run.probes else {k: v for k, v in MIX.items() if k != "probe"}
        self.ops = list(mix)
        self.weights = list(mix.values())

    # -- calls ----------------------------------------------------------------------

    def next_ref(self, kind: str) -> str:
        self.counter += 1
        return f"load-{self.run.tag}-{kind}{self.index}-{self.counter}"

    def call(
        self,
        op: str,
        method: str,
        path: str,
        route: str,
        expect: Collection[int],
        *,
        code: str | None = None,
        public: bool = False,
        **kwargs: Any,
    ) -> Reply | None:
        """One timed request; expected when its status is in ``expect`` (and, for an
        error, its code is ``code`` when given). None when no HTTP answer came."""
        started = time.perf_counter()
        at = started - self.run.t0
        saved = self.client.user
        if public:
            self.client.user = None
        try:
            reply = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.run.result.record(
                Call(
                    op,
                    method,
                    route,
                    0,
                    type(exc).__name__,
                    time.perf_counter() - started,
                    at,
                    False,
                    str(exc)[:200],
                )
            )
            return None
        finally:
            self.client.user = saved
        error_code = None
        if reply.status >= 400:
            with contextlib.suppress(Exception):
                error_code = reply.json()["error"]["code"]
        ok = reply.status in expect and (reply.status < 400 or code is None or error_code == code)
        ok = ok or reply.status in self.run.tolerated
        detail = "" if ok else reply.content[:300].decode("utf-8", "replace")
        self.run.result.record(
            Call(op, method, route, reply.status, error_code, reply.seconds, at, ok, detail)
        )
        return reply

    def gateway(
        self, op: str, path: str, expect: Collection[int], *, body: Any, token: str | None = None
    ) -> httpx.Response | None:
        """A call straight to the gateway (as supabase-js refreshes its session)."""
        headers = {"apikey": self.run.stack.config.keys.anon_key}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        url = self.run.stack.config.public_url + path
        started = time.perf_counter()
        try:
            if body is None:
                reply = self.client.http.get(url, headers=headers)
            else:
                reply = self.client.http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self.run.result.record(
                Call(
                    op,
                    "POST",
                    path,
                    0,
                    type(exc).__name__,
                    time.perf_counter() - started,
                    started - self.run.t0,
                    False,
                    str(exc)[:200],
                )
            )
            return None
        seconds = time.perf_counter() - started
        ok = reply.status_code in expect or reply.status_code in self.run.tolerated
        detail = "" if ok else reply.text[:300]
        route = path.split("?", maxsplit=1)[0]
        method = "GET" if body is None else "POST"
        code = None
        if reply.status_code >= 400:
            with contextlib.suppress(Exception):
                answer = reply.json()
                code = str(answer.get("error_code") or answer.get("code") or answer.get("error"))
        self.run.result.record(
            Call(
                op,
                method,
                route,
                reply.status_code,
                code,
                seconds,
                started - self.run.t0,
                ok,
                detail,
            )
        )
        return reply

    # -- the loop ---------------------------------------------------------------------

    def run_until_deadline(self) -> None:
        job_at = self.run.t0 + self.run.seconds / 2 if self.index == 0 and self.run.probes else None
        try:
            self.sign_in()
            while time.perf_counter() < self.run.deadline:
                op = self.rng.choices(self.ops, self.weights)[0]
                getattr(self, op)()
                if job_at is not None and time.perf_counter() >= job_at:
                    job_at = None
                    self.job()
        except Exception as exc:  # a driver bug must not pass as a quiet run
            self.run.result.record(
                Call(
                    "driver",
                    "-",
                    "-",
                    0,
                    type(exc).__name__,
                    0.0,
                    time.perf_counter() - self.run.t0,
                    False,
                    repr(exc)[:300],
                )
            )
        finally:
            self.client.close()

    def job(self) -> None:
        """The daily overdue job once (as EventBridge runs it; the service role's path).
        Every due date of the run is in the future: it must change nothing of ours."""
        reply = self.call(
            "job_mark_overdue",
            "POST",
            "/2015-03-31/functions/jobsMarkOverdue/invocations",
            "/2015-03-31/functions/{name}/invocations",
            {200},
            public=True,
        )
        if reply is not None and reply.headers.get("x-amz-function-error"):
            self.run.ledger.mismatch(f"jobsMarkOverdue failed: {reply.content[:300]!r}")

    # -- sessions ---------------------------------------------------------------------

    def sign_in(self) -> None:
        reply = self.call(
            "sign_in",
            "POST",
            "/api/auth/login",
            "/api/auth/login",
            {200},
            public=True,
            json_body={"email": self.user.email, "password": PASSWORD},
        )
        if reply is not None and reply.status == 200:
            session = reply.json()["session"]
            self.user.access_token = session["access_token"]
            self.user.refresh_token = session["refresh_token"]
            self.run.result.secret("access_token", session["access_token"])
            self.run.result.secret("refresh_token", session["refresh_token"])

    def refresh(self) -> None:
        reply = self.gateway(
            "refresh",
            "/auth/v1/token?grant_type=refresh_token",
            {200},
            body={"refresh_token": self.user.refresh_token},
        )
        if reply is not None and reply.status_code == 200:
            body = reply.json()
            self.user.access_token = body["access_token"]
            self.user.refresh_token = body["refresh_token"]
            self.run.result.secret("access_token", body["access_token"])
            self.run.result.secret("refresh_token", body["refresh_token"])

    # -- reads ------------------------------------------------------------------------

    def _some_invoice(self) -> InvoiceRecord | None:
        invoices = self.run.ledger.invoices_of(self.org)
        return self.rng.choice(invoices) if invoices else None

    def _some_client(self) -> ClientRecord | None:
        clients = self.run.ledger.clients_of(self.org)
        return self.rng.choice(clients) if clients else None

    def list_invoices(self) -> None:
        choices: list[dict[str, Any]] = [
            {"status": "sent,overdue", "sort": "-issue_date"},
            {"q": "INV-0", "page": 2, "page_size": 10},
            {"sort": "-total_amount,invoice_number", "page_size": 50},
            {"total_from": "100", "total_to": "50000", "sort": "due_date"},
            {"status": "paid", "sort": "-balance_due"},
            {"overdue": "false", "page": 3, "page_size": 5},
            {"issue_date_from": self.run.today, "sort": "client"},
        ]
        params = dict(self.rng.choice(choices))
        if (c := self._some_client()) is not None and self.rng.random() < 0.3:
            params = {"client_id": c.id, "sort": "-issue_date"}
        reply = self.call(
            "list_invoices", "GET", "/api/invoices", "/api/invoices", {200}, params=params
        )
        if reply is not None and reply.status == 200:
            self._check_page(reply, "list_invoices")

    def list_clients(self) -> None:
        choices: list[dict[str, Any]] = [
            {"q": "Load", "sort": "-created_at", "page_size": 50},
            {"status": "active", "page": 2, "page_size": 5},
            {"sort": "-outstanding_balance", "page_size": 10},
            {"sort": "-total_billed,company_name"},
        ]
        reply = self.call(
            "list_clients",
            "GET",
            "/api/clients",
            "/api/clients",
            {200},
            params=self.rng.choice(choices),
        )
        if reply is not None and reply.status == 200:
            self._check_page(reply, "list_clients")

    def list_payments(self) -> None:
        params: dict[str, Any] = self.rng.choice(
            [
                {"sort": "-payment_date,-created_at"},
                {"payment_method": "bank_transfer,cash", "amount_from": "1", "sort": "-amount"},
                {"page": 2, "page_size": 10},
                {"currency": "USD", "amount_to": "500"},
            ]
        )
        if (i := self._some_invoice()) is not None and self.rng.random() < 0.4:
            params = {"invoice_id": i.id}
        reply = self.call(
            "list_payments", "GET", "/api/payments", "/api/payments", {200}, params=params
        )
        if reply is not None and reply.status == 200:
            self._check_page(reply, "list_payments")

    def _check_page(self, reply: Reply, op: str) -> None:
        body = reply.json()
        page = body.get("pagination") or {}
        if not isinstance(body.get("data"), list) or len(body["data"]) > int(
            page.get("page_size", 0)
        ):
            self.run.ledger.mismatch(f"{op}: a page that is not a page: {reply.content[:200]!r}")

    def get_invoice(self) -> None:
        invoice = self._some_invoice()
        if invoice is None:
            return self.list_invoices()
        with self.run.ledger.lock:
            before = (invoice.version, invoice.busy)
        reply = self.call(
            "get_invoice", "GET", f"/api/invoices/{invoice.id}", "/api/invoices/{id}", {200, 404}
        )
        if reply is None or reply.status not in (200, 404):
            return None
        with self.run.ledger.lock:
            settled = not before[1] and before == (invoice.version, invoice.busy)
            deleted = invoice.id in self.run.ledger.deleted_invoices
            most = invoice.accepted + invoice.reserved
        if reply.status == 404:
            if not deleted:
                self.run.ledger.mismatch(f"GET invoice {invoice.id}: 404, never deleted")
            return None
        body = reply.json()
        paid = Decimal(body["amount_paid"])
        in_payments = sum((Decimal(p["amount"]) for p in body["payments"]), Decimal(0))
        problems = []
        if settled and Decimal(body["total_amount"]) != invoice.total:
            problems.append(f"total {body['total_amount']} != {invoice.total}")
        if in_payments != paid:
            problems.append(f"payments sum to {in_payments} but amount_paid is {paid}")
        if settled and paid > most:
            problems.append(f"amount_paid {paid} above the {most} accepted or in flight")
        if Decimal(body["balance_due"]) != Decimal(body["total_amount"]) - paid:
            problems.append(f"balance {body['balance_due']} != total - paid")
        if problems:
            self.run.ledger.mismatch(f"GET invoice {invoice.id}: " + "; ".join(problems))
        return None

    def get_client(self) -> None:
        client = self._some_client()
        if client is None:
            return self.list_clients()
        self.call("get_client", "GET", f"/api/clients/{client.id}", "/api/clients/{id}", {200})
        return None

    def dashboard(self) -> None:
        if self.rng.random() < 0.6:
            self.call("dashboard", "GET", "/api/dashboard/metrics", "/api/dashboard/metrics", {200})
        else:
            self.call(
                "dashboard_recent",
                "GET",
                "/api/dashboard/recent-invoices",
                "/api/dashboard/recent-invoices",
                {200},
                params={"limit": 10},
            )

    # -- clients ----------------------------------------------------------------------

    def create_client(self) -> None:
        ref = self.next_ref("c")
        currency = self.rng.choices(CURRENCIES, CURRENCY_WEIGHTS)[0]
        body = {
            "company_name": f"Load {ref}",
            "contact_person": f"Person {self.index}",
            "email": f"{ref}@load.example",
            "currency": currency,
            "billing_frequency": self.rng.choice(["monthly", "quarterly", "one-time"]),
        }
        reply = self.call(
            "create_client", "POST", "/api/clients", "/api/clients", {201}, json_body=body
        )
        if reply is not None and reply.status == 201:
            answer = reply.json()
            with self.run.ledger.lock:
                self.run.ledger.clients[answer["id"]] = ClientRecord(
                    answer["id"], self.org, currency, body["email"], body["company_name"]
                )
        elif reply is None or reply.status >= 500:
            with self.run.ledger.lock:
                self.run.ledger.unknown.append(Unknown("client", body["company_name"]))

    # -- invoices ---------------------------------------------------------------------

    def _items(self, currency: str) -> list[tuple[Decimal, Decimal]]:
        places = minor_unit(currency)
        items = []
        for _ in range(self.rng.randint(1, 6)):
            quantity = Decimal(self.rng.choice(QUANTITIES))
            if self.rng.random() < 0.2:  # a rate with more decimals than the currency
                rate = Decimal(self.rng.randint(1, 9_999_999)).scaleb(-min(4, places + 2))
            else:
                rate = Decimal(self.rng.randint(1, 5_000_000 if places else 50_000)).scaleb(-places)
            items.append((quantity, rate))
        return items

    def create_invoice(self, typed: str | None = None, expect_conflict: bool = False) -> None:
        client = self._some_client()
        if client is None:
            return self.create_client()
        ref = self.next_ref("i")
        items = self._items(client.currency)
        tax_rate = Decimal(self.rng.choice(TAX_RATES))
        _, subtotal, _, _ = invoice_money(items, tax_rate, Decimal(0), client.currency)
        discount = Decimal(0)
        if self.rng.random() < 0.3:
            discount = money(subtotal * Decimal(self.rng.randint(1, 30)) / 100, client.currency)
        amounts, subtotal, tax, total = invoice_money(items, tax_rate, discount, client.currency)
        status = "sent" if self.rng.random() < 0.6 else "draft"
        if typed is None and not expect_conflict and self.rng.random() < 0.08:
            typed = f"H-{self.run.tag}-{self.index}-{self.counter}"
        body: dict[str, Any] = {
            "client_id": client.id,
            "status": status,
            "tax_rate": str(tax_rate),
            "discount": str(discount),
            "notes": ref,
            "items": [
                {"description": f"Line {n} of {ref}", "quantity": str(q), "rate": str(r)}
                for n, (q, r) in enumerate(items)
            ],
        }
        if self.rng.random() < 0.2:
            body["due_date"] = f"2099-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)}"
        else:
            body["payment_terms"] = self.rng.choice(TERMS)
        if typed is not None:
            body["invoice_number"] = typed
        op = "duplicate_number" if expect_conflict else "create_invoice"
        reply = self.call(
            op,
            "POST",
            "/api/invoices",
            "/api/invoices",
            {409} if expect_conflict else {201},
            code="conflict" if expect_conflict else None,
            json_body=body,
        )
        if reply is None or reply.status >= 500:
            with self.run.ledger.lock:
                self.run.ledger.unknown.append(Unknown("invoice", ref))
            return None
        if reply.status != 201:
            return None
        answer = reply.json()
        got = (
            [Decimal(i["amount"]) for i in answer["items"]],
            Decimal(answer["subtotal"]),
            Decimal(answer["tax_amount"]),
            Decimal(answer["total_amount"]),
        )
        if got != (amounts, subtotal, tax, total) or (typed and answer["invoice_number"] != typed):
            self.run.ledger.mismatch(
                f"created invoice {answer['id']}: {got} != {(amounts, subtotal, tax, total)}"
            )
        record = InvoiceRecord(
            id=answer["id"],
            org=self.org,
            client_id=client.id,
            currency=client.currency,
            number=answer["invoice_number"],
            typed_number=typed is not None,
            items=items,
            tax_rate=tax_rate,
            discount=discount,
            subtotal=subtotal,
            tax=tax,
            total=total,
            ref=ref,
            status=answer["status"],
        )
        if answer["status"] != status:
            self.run.ledger.mismatch(f"created invoice {record.id} is {answer['status']}")
        with self.run.ledger.lock:
            self.run.ledger.invoices[record.id] = record
        return None

    def duplicate_number(self) -> None:
        live = [i for i in self.run.ledger.invoices_of(self.org) if not i.busy]
        typed = [i.number for i in live if i.typed_number]
        taken = self.rng.choice(typed) if typed else None
        if taken is None:  # every auto number is taken too
            numbers = [i.number for i in live]
            taken = self.rng.choice(numbers) if numbers else None
        if taken is None:
            return self.create_invoice()
        return self.create_invoice(typed=taken, expect_conflict=True)

    # -- payments ---------------------------------------------------------------------

    def _choose_payment(self, kind: str) -> tuple[InvoiceRecord, Decimal] | None:
        """An invoice of the organization and an amount; a payment's amount is reserved."""
        ledger = self.run.ledger
        with ledger.lock:
            if kind == "overpay":
                candidates = [
                    i
                    for i in ledger.invoices.values()
                    if i.org == self.org
                    and i.status in ("sent", "paid")
                    and not i.busy
                    and i.changing == 0
                ]
            else:
                candidates = [
                    i
                    for i in ledger.invoices.values()
                    if i.org == self.org and i.status == "sent" and i.open > 0 and not i.busy
                ]
            if not candidates:
                return None
            # Half the time one of the organization's three newest: payments from
            # several threads then meet on one invoice.
            hot = candidates[-3:] if self.rng.random() < 0.5 else candidates
            invoice = self.rng.choice(hot)
            unit = Decimal(1).scaleb(-minor_unit(invoice.currency))
            if kind == "overpay":
                # Above the balance even if every delete or lowering in flight succeeds.
                return invoice, invoice.total - invoice.accepted + invoice.releasing + unit
            if kind == "full" or invoice.open <= unit:
                amount = invoice.open
            else:
                share = Decimal(self.rng.randint(5, 60)) / 100
                amount = max(unit, money(invoice.open * share, invoice.currency))
                amount = min(amount, invoice.open - unit)
            invoice.reserved += amount
            return invoice, amount

    def _pay(self, kind: str) -> None:
        ledger = self.run.ledger
        chosen = self._choose_payment(kind)
        if chosen is None:
            return self.create_invoice()
        invoice, amount = chosen
        ref = self.next_ref("p")
        body = {
            "invoice_id": invoice.id,
            "amount": str(amount),
            "payment_method": self.rng.choice(METHODS),
            "reference_number": ref,
        }
        if self.rng.random() < 0.3:
            body["notes"] = f"part of {invoice.number}"
        over = kind == "overpay"
        reply = self.call(
            "overpay" if over else f"pay_{kind}",
            "POST",
            "/api/payments",
            "/api/payments",
            {422} if over else {201},
            code="rule_violation" if over else None,
            json_body=body,
        )
        if over:
            return None
        if reply is None or reply.status >= 500:
            with ledger.lock:  # stays reserved: it may have been written
                ledger.unknown.append(Unknown("payment", ref, invoice.id, amount))
            return None
        with ledger.lock:
            invoice.reserved -= amount
            if reply.status != 201:
                return None
            answer = reply.json()
            most = invoice.accepted + invoice.reserved + amount
            invoice.accepted += amount
            ledger.payments[answer["id"]] = PaymentRecord(answer["id"], invoice.id, amount, ref)
            if invoice.accepted == invoice.total:
                invoice.status = "paid"
        state = answer["invoice"]
        paid = Decimal(state["amount_paid"])
        problems = []
        if Decimal(answer["amount"]) != amount:
            problems.append(f"amount {answer['amount']} != {amount}")
        if not amount <= paid <= most:
            problems.append(f"amount_paid {paid} outside [{amount}, {most}]")
        if (state["status"] == "paid") != (Decimal(state["balance_due"]) == 0):
            problems.append(f"status {state['status']} with balance {state['balance_due']}")
        if problems:
            ledger.mismatch(f"payment {answer['id']} on {invoice.id}: " + "; ".join(problems))
        return None

    def pay_partial(self) -> None:
        self._pay("partial")

    def pay_full(self) -> None:
        self._pay("full")

    def overpay(self) -> None:
        self._pay("overpay")

    def pay_draft(self) -> None:
        ledger = self.run.ledger
        invoice = self._claim(_is_draft)  # held busy: no thread sends it meanwhile
        if invoice is None:
            return self.create_invoice()
        try:
            self.call(
                "pay_draft",
                "POST",
                "/api/payments",
                "/api/payments",
                {422},
                code="rule_violation",
                json_body={"invoice_id": invoice.id, "amount": str(invoice.total)},
            )
        finally:
            with ledger.lock:
                invoice.busy = False
        return None

    # -- changing what exists ---------------------------------------------------------

    def _claim(self, ok: Callable[[InvoiceRecord], bool]) -> InvoiceRecord | None:
        """An invoice of the organization that ``ok`` accepts, held busy (no other thread
        pays, sends, changes or deletes it meanwhile)."""
        ledger = self.run.ledger
        with ledger.lock:
            found = [
                i for i in ledger.invoices.values() if i.org == self.org and not i.busy and ok(i)
            ]
            invoice = self.rng.choice(found) if found else None
            if invoice is not None:
                invoice.busy = True
        return invoice

    def _release(self, invoice: InvoiceRecord) -> None:
        with self.run.ledger.lock:
            invoice.busy = False
            invoice.version += 1

    def update_invoice(self) -> None:
        """New items, or a new tax rate and discount, on a draft or an unpaid sent one."""
        invoice = self._claim(
            lambda i: i.status in ("draft", "sent") and i.accepted == 0 and i.reserved == 0
        )
        if invoice is None:
            return self.create_invoice()
        try:
            items = invoice.items
            body: dict[str, Any] = {}
            if self.rng.random() < 0.5:
                items = self._items(invoice.currency)
                body["items"] = [
                    {"description": f"Changed line {n}", "quantity": str(q), "rate": str(r)}
                    for n, (q, r) in enumerate(items)
                ]
            tax_rate = Decimal(self.rng.choice(TAX_RATES))
            _, subtotal, _, _ = invoice_money(items, tax_rate, Decimal(0), invoice.currency)
            discount = money(subtotal * Decimal(self.rng.randint(0, 20)) / 100, invoice.currency)
            body |= {"tax_rate": str(tax_rate), "discount": str(discount)}
            _, subtotal, tax, total = invoice_money(items, tax_rate, discount, invoice.currency)
            reply = self.call(
                "update_invoice",
                "PUT",
                f"/api/invoices/{invoice.id}",
                "/api/invoices/{id}",
                {200},
                json_body=body,
            )
            if reply is None or reply.status >= 500:
                with self.run.ledger.lock:
                    self.run.ledger.unknown.append(
                        Unknown("invoice_update", invoice.ref, invoice.id)
                    )
                return None
            if reply.status != 200:
                return None
            answer = reply.json()
            got = tuple(Decimal(answer[k]) for k in ("subtotal", "tax_amount", "total_amount"))
            if got != (subtotal, tax, total):
                self.run.ledger.mismatch(
                    f"updated invoice {invoice.id}: {answer['total_amount']} != {total}"
                )
            with self.run.ledger.lock:
                invoice.items, invoice.tax_rate, invoice.discount = items, tax_rate, discount
                invoice.subtotal, invoice.tax, invoice.total = subtotal, tax, total
        finally:
            self._release(invoice)
        return None

    def update_paid_items(self) -> None:
        """Changing the money of an invoice with payments is refused."""
        # With a payment that no delete in flight can take away.
        invoice = self._claim(
            lambda i: i.status in ("sent", "paid") and i.accepted > 0 and i.changing == 0
        )
        if invoice is None:
            return self.pay_partial()
        try:
            other = next(t for t in TAX_RATES if Decimal(t) != invoice.tax_rate)
            self.call(
                "update_paid_items",
                "PUT",
                f"/api/invoices/{invoice.id}",
                "/api/invoices/{id}",
                {422},
                code="rule_violation",
                json_body={"tax_rate": other},
            )
        finally:
            self._release(invoice)
        return None

    def delete_draft(self) -> None:
        invoice = self._claim(lambda i: i.status == "draft")
        if invoice is None:
            return self.create_invoice()
        ledger = self.run.ledger
        try:
            reply = self.call(
                "delete_draft",
                "DELETE",
                f"/api/invoices/{invoice.id}",
                "/api/invoices/{id}",
                {204},
            )
            with ledger.lock:
                if reply is None or reply.status >= 500:
                    ledger.unknown.append(Unknown("invoice_delete", invoice.ref, invoice.id))
                elif reply.status == 204:
                    del ledger.invoices[invoice.id]
                    ledger.deleted_invoices[invoice.id] = (invoice.org, invoice.number)
        finally:
            self._release(invoice)
        return None

    def cancel_invoice(self) -> None:
        """DELETE of a sent invoice without payments cancels it (200, kept on record)."""
        invoice = self._claim(lambda i: i.status == "sent" and i.accepted == 0 and i.reserved == 0)
        if invoice is None:
            return self.create_invoice()
        try:
            reply = self.call(
                "cancel_invoice",
                "DELETE",
                f"/api/invoices/{invoice.id}",
                "/api/invoices/{id}",
                {200},
            )
            if reply is None or reply.status >= 500:
                with self.run.ledger.lock:
                    self.run.ledger.unknown.append(
                        Unknown("invoice_cancel", invoice.ref, invoice.id)
                    )
            elif reply.status == 200:
                if reply.json()["status"] != "cancelled":
                    self.run.ledger.mismatch(f"cancelled {invoice.id}: {reply.json()['status']}")
                with self.run.ledger.lock:
                    invoice.status = "cancelled"
        finally:
            self._release(invoice)
        return None

    def _claim_payment(self) -> tuple[PaymentRecord, InvoiceRecord] | None:
        ledger = self.run.ledger
        with ledger.lock:
            found = [
                (p, ledger.invoices[p.invoice_id])
                for p in ledger.payments.values()
                if not p.busy
                and ledger.invoices[p.invoice_id].org == self.org
                and not ledger.invoices[p.invoice_id].busy
            ]
            if not found:
                return None
            payment, invoice = self.rng.choice(found[-20:])  # recent ones: contention
            payment.busy = True
            invoice.changing += 1
            invoice.version += 1  # a read of the invoice meanwhile may see either amount
            return payment, invoice

    def delete_payment(self) -> None:
        """A payment removed: the invoice's balance grows back (a paid one reopens)."""
        claimed = self._claim_payment()
        if claimed is None:
            return self.pay_partial()
        payment, invoice = claimed
        ledger = self.run.ledger
        with ledger.lock:
            invoice.releasing += payment.amount
        reply = self.call(
            "delete_payment",
            "DELETE",
            f"/api/payments/{payment.id}",
            "/api/payments/{id}",
            {204},
        )
        with ledger.lock:
            if reply is None or reply.status >= 500:  # stays releasing, busy and accepted
                ledger.unknown.append(Unknown("payment_delete", payment.id, invoice.id))
                return None
            invoice.releasing -= payment.amount
            invoice.changing -= 1
            invoice.version += 1
            payment.busy = False
            if reply.status != 204:
                return None
            invoice.accepted -= payment.amount
            del ledger.payments[payment.id]
            ledger.deleted_payments.add(payment.id)
            if invoice.status == "paid":
                invoice.status = "sent"
        return None

    def update_payment(self) -> None:
        """A payment's amount corrected, down or up (within what the invoice still owes)."""
        claimed = self._claim_payment()
        if claimed is None:
            return self.pay_partial()
        payment, invoice = claimed
        ledger = self.run.ledger
        unit = Decimal(1).scaleb(-minor_unit(invoice.currency))
        with ledger.lock:
            if self.rng.random() < 0.5 and payment.amount > unit:
                share = Decimal(self.rng.randint(10, 90)) / 100
                new = min(
                    payment.amount - unit,
                    max(unit, money(payment.amount * share, invoice.currency)),
                )
            else:
                room = invoice.open if invoice.status == "sent" else Decimal(0)
                new = payment.amount + money(
                    room * Decimal(self.rng.randint(0, 100)) / 100, invoice.currency
                )
            delta = new - payment.amount
            if delta > 0:
                invoice.reserved += delta
            else:
                invoice.releasing -= delta
        reply = self.call(
            "update_payment",
            "PUT",
            f"/api/payments/{payment.id}",
            "/api/payments/{id}",
            {200},
            json_body={"amount": str(new), "notes": f"corrected to {new}"},
        )
        with ledger.lock:
            if reply is None or reply.status >= 500:  # stays reserved/releasing and busy
                ledger.unknown.append(Unknown("payment_update", payment.ref, invoice.id))
                return None
            if delta > 0:
                invoice.reserved -= delta
            else:
                invoice.releasing += delta
            invoice.changing -= 1
            invoice.version += 1
            payment.busy = False
            if reply.status != 200:
                return None
            payment.amount = new
            invoice.accepted += delta
            invoice.status = "paid" if invoice.accepted == invoice.total else "sent"
        if Decimal(reply.json()["amount"]) != new:
            ledger.mismatch(f"updated payment {payment.id}: {reply.json()['amount']} != {new}")
        return None

    # -- bulk actions -----------------------------------------------------------------

    BULK: ClassVar[dict[str, Callable[[InvoiceRecord], bool]]] = {
        "mark_sent": lambda i: i.status == "draft",
        "send": lambda i: i.status == "draft",
        "mark_paid": lambda i: i.status == "sent" and i.reserved == 0 and i.changing == 0,
        "cancel": lambda i: i.status in ("draft", "sent") and i.accepted == 0 and i.reserved == 0,
    }

    def bulk(self) -> None:
        """POST /api/invoices/bulk-actions on 2-4 invoices that qualify (held busy): marked
        sent, emailed (inline), paid in full by one payment each, or cancelled."""
        action = self.rng.choice(list(self.BULK))
        ledger = self.run.ledger
        with ledger.lock:
            found = [
                i
                for i in ledger.invoices.values()
                if i.org == self.org and not i.busy and self.BULK[action](i)
            ]
            chosen = self.rng.sample(found, min(len(found), self.rng.randint(2, 4)))
            for invoice in chosen:
                invoice.busy = True
        if not chosen:
            return self.create_invoice()
        ref = self.next_ref("b")
        body: dict[str, Any] = {"action": action, "ids": [i.id for i in chosen]}
        if action == "mark_paid":
            body |= {"reference_number": ref, "payment_method": "cash"}
        try:
            reply = self.call(
                f"bulk_{action}",
                "POST",
                "/api/invoices/bulk-actions",
                "/api/invoices/bulk-actions",
                {200},
                json_body=body,
            )
            if reply is None or reply.status >= 500:
                with ledger.lock:  # the invoices stay busy: their state is not known
                    for invoice in chosen:
                        ledger.unknown.append(Unknown(f"bulk_{action}", ref, invoice.id))
                chosen = []
                return None
            if reply.status != 200:
                return None
            results = {r["id"]: r["status"] for r in reply.json()["results"]}
            if any(results.get(i.id) != "ok" for i in chosen):
                ledger.mismatch(f"bulk {action}: {results} (each qualified)")
            for invoice in chosen:
                if results.get(invoice.id) == "ok":
                    self._bulk_done(action, invoice, ref)
        finally:
            for invoice in chosen:
                self._release(invoice)
        return None

    def _bulk_done(self, action: str, invoice: InvoiceRecord, ref: str) -> None:
        ledger = self.run.ledger
        if action == "mark_paid":  # the payment's id: from the invoice's payments
            reply = self.call(
                "list_payments",
                "GET",
                "/api/payments",
                "/api/payments",
                {200},
                params={"invoice_id": invoice.id, "page_size": 100},
            )
            if reply is None or reply.status != 200:
                return
            with ledger.lock:
                new = [p for p in reply.json()["data"] if p["id"] not in ledger.payments]
                amount = invoice.total - invoice.accepted
                if len(new) != 1 or Decimal(new[0]["amount"]) != amount:
                    ledger.mismatch(f"bulk mark_paid of {invoice.id}: new payments {new}")
                for p in new:
                    ledger.payments[p["id"]] = PaymentRecord(
                        p["id"], invoice.id, Decimal(p["amount"]), ref
                    )
                    invoice.accepted += Decimal(p["amount"])
                invoice.status = "paid" if invoice.accepted == invoice.total else "sent"
            return
        with ledger.lock:
            if action == "cancel":
                invoice.status = "cancelled"
            else:
                invoice.status = "sent"
                invoice.marked_sent = action == "mark_sent"
                invoice.bulk_sent = action == "send"

    # -- sending ----------------------------------------------------------------------

    def send(self) -> None:
        ledger = self.run.ledger
        invoice = self._claim(_is_draft)
        if invoice is None:
            return self.create_invoice()
        key = uuid.uuid4().hex
        path = f"/api/invoices/{invoice.id}/send"
        body = {"message": f"Invoice {invoice.number}, thank you."}
        reply = self.call(
            "send",
            "POST",
            path,
            "/api/invoices/{id}/send",
            {200},
            json_body=body,
            headers={"Idempotency-Key": key},
        )
        if reply is None or reply.status >= 500:
            with ledger.lock:
                ledger.unknown.append(Unknown("send", invoice.id, invoice.id))
            return None  # stays "sending": never paid nor sent again by the driver
        if reply.status != 200:
            with ledger.lock:
                invoice.busy = False
            return None
        answer = reply.json()
        message_id = answer["send"]["ses_message_id"]
        with ledger.lock:
            invoice.ses_message_id = message_id
            invoice.status = "sent"
            invoice.busy = False
        if answer["invoice"]["status"] != "sent":
            ledger.mismatch(f"sent invoice {invoice.id} is {answer['invoice']['status']}")
        if self.rng.random() < 0.3:  # the client retries with the same key
            again = self.call(
                "send_replay",
                "POST",
                path,
                "/api/invoices/{id}/send",
                {200},
                json_body=body,
                headers={"Idempotency-Key": key},
            )
            if again is not None and again.status == 200:
                with ledger.lock:
                    ledger.replays += 1
                if (
                    again.headers.get("idempotent-replayed") != "true"
                    or again.json()["send"]["ses_message_id"] != message_id
                ):
                    ledger.mismatch(f"replayed send of {invoice.id} was not the first answer")
        return None

    # -- the failing paths --------------------------------------------------------------

    def probe(self) -> None:
        name = self.rng.choice(PROBES)
        getattr(self, f"probe_{name}")()

    def _bad_token(self, op: str, token: str, code: str = "invalid_token") -> None:
        self.call(op, "GET", "/api/invoices", "/api/invoices", {401}, code=code, token=token)

    def _words(self) -> str:
        # No hex digits and a "!": cannot turn up by chance inside an id or a token.
        return "Q!" + "".join(self.rng.choice("ghijklmnopqrstuvwxyz") for _ in range(10))

    def probe_wrong_password(self) -> None:
        wrong = f"Wrong-{self._words()}"
        self.run.result.secret("password", wrong)
        self.call(
            "probe_wrong_password",
            "POST",
            "/api/auth/login",
            "/api/auth/login",
            {401},
            code="invalid_credentials",
            public=True,
            json_body={"email": self.user.email, "password": wrong},
        )

    def probe_unknown_email(self) -> None:
        self.call(
            "probe_unknown_email",
            "POST",
            "/api/auth/login",
            "/api/auth/login",
            {401},
            code="invalid_credentials",
            public=True,
            json_body={
                "email": f"nobody-{uuid.uuid4().hex[:8]}@load.example",
                "password": PASSWORD,
            },
        )

    def _forged(self, secret: str, alg: str = "HS256", **changes: Any) -> str:
        claims = _claims(self.user.access_token) | changes
        token = forge(claims, secret, alg)
        self.run.result.secret("forged_token", token)
        return token

    def probe_forged_token(self) -> None:
        self._bad_token("probe_forged_token", self._forged("not-the-secret-" + "x" * 32))

    def probe_none_token(self) -> None:
        self._bad_token("probe_none_token", self._forged("", alg="none"))

    def probe_expired_token(self) -> None:
        secret = self.run.stack.config.keys.jwt_secret
        now = int(time.time())
        token = self._forged(secret, exp=now - 120, iat=now - 3720)
        self._bad_token("probe_expired_token", token, code="token_expired")

    def probe_role_escalation(self) -> None:
        token = self._forged("wrong-key-" + "y" * 32, role="service_role")
        self._bad_token("probe_role_escalation", token)

    def probe_garbage_token(self) -> None:
        token = f"eyJ{self._words()}.{uuid.uuid4().hex}"
        self.run.result.secret("forged_token", token)
        self._bad_token("probe_garbage_token", token)

    def probe_refresh_token_as_bearer(self) -> None:
        self._bad_token("probe_refresh_token_as_bearer", self.user.refresh_token)

    def probe_no_token(self) -> None:
        self.call(
            "probe_no_token",
            "GET",
            "/api/payments",
            "/api/payments",
            {401},
            code="missing_token",
            public=True,
        )

    def probe_malformed_login(self) -> None:
        raw = f'{{"email": "{self.user.email}", "password": "{PASSWORD}"'.encode()
        self.call(
            "probe_malformed_login",
            "POST",
            "/api/auth/login",
            "/api/auth/login",
            {400},
            code="malformed_json",
            public=True,
            content=raw,
            headers={"content-type": "application/json"},
        )

    def probe_login_unknown_field(self) -> None:
        self.call(
            "probe_login_unknown_field",
            "POST",
            "/api/auth/login",
            "/api/auth/login",
            {422},
            code="validation_failed",
            public=True,
            json_body={"email": self.user.email, "password": PASSWORD, "token": "x"},
        )

    def probe_taken_email(self) -> None:
        self.call(
            "probe_taken_email",
            "POST",
            "/api/auth/signup",
            "/api/auth/signup",
            {409},
            code="conflict",
            public=True,
            json_body={
                "email": self.user.email,
                "password": PASSWORD,
                "first_name": "Again",
                "last_name": "Taken",
            },
        )

    def probe_short_password(self) -> None:
        short = self._words()[:7]
        self.run.result.secret("password", short)
        self.call(
            "probe_short_password",
            "POST",
            "/api/auth/signup",
            "/api/auth/signup",
            {422},
            code="validation_failed",
            public=True,
            json_body={
                "email": f"short-{uuid.uuid4().hex[:8]}@load.example",
                "password": short,
                "first_name": "Short",
                "last_name": "Password",
            },
        )

    def probe_ended_session(self) -> None:
        """A second session, logged out, then its (unexpired) token used."""
        login = self.call(
            "probe_ended_session",
            "POST",
            "/api/auth/login",
            "/api/auth/login",
            {200},
            public=True,
            json_body={"email": self.user.email, "password": PASSWORD},
        )
        if login is None or login.status != 200:
            return
        session = login.json()["session"]
        token = session["access_token"]
        self.run.result.secret("access_token", token)
        self.run.result.secret("refresh_token", session["refresh_token"])
        self.call(
            "probe_ended_session",
            "POST",
            "/api/auth/logout",
            "/api/auth/logout",
            {204},
            token=token,
        )
        self._bad_token("probe_ended_session", token, code="session_ended")

    def probe_bad_refresh(self) -> None:
        wrong = "".join(self.rng.choice("ghijklmnopqrstuvwxyz") for _ in range(12))
        self.run.result.secret("refresh_token", wrong)
        self.gateway(
            "probe_bad_refresh",
            "/auth/v1/token?grant_type=refresh_token",
            {400, 401},
            body={"refresh_token": wrong},
        )

    def probe_rest_forged_token(self) -> None:
        token = self._forged("not-the-secret-" + "z" * 32)
        self.gateway(
            "probe_rest_forged_token",
            "/rest/v1/invoices?select=id&limit=1",
            {401},
            body=None,
            token=token,
        )


# =============================================================================
# Setting up and running
# =============================================================================


def sign_up_people(stack: LocalStack, count: int, org_size: int = ORG_SIZE) -> list[User]:
    """``count`` people signed up through the API; each group of ``org_size`` shares the
    personal organization of its first person (the others join it as members, by SQL),
    and every person acts in that shared organization."""
    users = []
    for n in range(count):
        c = Client(stack)
        try:
            users.append(c.sign_up(f"load{n}"))
        finally:
            c.close()
    for start in range(0, count, org_size):
        group = users[start : start + org_size]
        org = group[0].organization_id
        for user in group[1:]:
            sql(
                stack,
                "insert into public.memberships (organization_id, user_id, role)"
                " values (%s, %s, 'member')",
                org,
                user.user_id,
            )
            user.organization_id = org
    return users


def run_load(
    stack: LocalStack,
    clients: int | None = None,
    seconds: float | None = None,
    on_tick: Callable[[float, LoadResult], None] | None = None,
    *,
    probes: bool = True,
    users: list[User] | None = None,
    tolerated: Collection[int] = (),
    lifecycle: int | None = None,
    integrations: int | None = None,
) -> LoadResult:
    """Runs the traffic for ``seconds`` with ``clients`` threads (defaults from
    RELIABILITY_LOAD_CLIENTS / RELIABILITY_LOAD_SECONDS) and answers what happened.
    ``on_tick(elapsed, result)`` is called about once a second from the calling thread
    while the clients run (e.g. to restart PostgreSQL at some point). ``users`` (from
    `sign_up_people`) reuses people already signed up. A status in ``tolerated`` (e.g.
    503 while a fault is on) counts as expected; a write answered with a 5xx or not at
    all is still kept in the ledger as of unknown outcome, which `check_invariants`
    allows for. ``lifecycle`` people more (default RELIABILITY_LOAD_LIFECYCLE_CLIENTS, none
    with ``users``) run the billing lifecycle in organizations of their own, and
    ``integrations`` people (RELIABILITY_LOAD_INTEGRATIONS_CLIENTS, none with ``users``)
    API keys, webhooks, the client's page and Stripe, invitations and MFA."""
    if lifecycle is None:
        lifecycle = LIFECYCLE_CLIENTS if users is None else 0
    if integrations is None:
        integrations = INTEGRATIONS_CLIENTS if users is None else 0
    if users is not None:
        clients = len(users)
    clients = clients or DEFAULT_CLIENTS
    seconds = seconds if seconds is not None else DEFAULT_SECONDS
    result = LoadResult(clients=clients, seconds=seconds)
    run = _Run(stack, result, seconds, probes, tolerated)
    result.users = users if users is not None else sign_up_people(stack, clients)
    for user in result.users:
        result.ledger.orgs.setdefault(user.organization_id, []).append(user.user_id)
        result.secret("access_token", user.access_token)
        result.secret("refresh_token", user.refresh_token)
    result.secret("password", PASSWORD)
    workers = [Worker(run, n, user) for n, user in enumerate(result.users)]
    if lifecycle:
        result.lifecycle_users = sign_up_people(stack, lifecycle, LIFECYCLE_ORG_SIZE)
        for user in result.lifecycle_users:
            if user.organization_id not in result.lifecycle.orgs:
                result.lifecycle.orgs.append(user.organization_id)
            result.secret("access_token", user.access_token)
            result.secret("refresh_token", user.refresh_token)
        workers += lifecycle_workers(run, result.lifecycle_users, result.lifecycle, len(workers))
    if integrations:
        result.integrations_users = setup_integrations(stack, result, integrations)
        workers += integrations_workers(
            run, result.integrations_users, result.integrations, len(workers)
        )
    threads = [
        threading.Thread(target=w.run_until_deadline, name=f"load-{n}", daemon=True)
        for n, w in enumerate(workers)
    ]
    result.started_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    run.t0 = time.perf_counter()
    run.deadline = run.t0 + seconds
    for thread in threads:
        thread.start()
    next_tick = run.t0 + 1
    # A thread still busy a whole HTTP timeout after the end is stuck: reported, not awaited.
    give_up = run.deadline + 2 * HTTP_TIMEOUT
    while any(t.is_alive() for t in threads):
        now = time.perf_counter()
        if now > give_up:
            stuck = [t.name for t in threads if t.is_alive()]
            result.record(
                Call("driver", "-", "-", 0, "stuck", 0.0, now - run.t0, False, f"{stuck}")
            )
            break
        if on_tick is not None and now >= next_tick:
            on_tick(now - run.t0, result)
            next_tick = now + 1
        time.sleep(0.2)
    result.elapsed = time.perf_counter() - run.t0
    return result


# =============================================================================
# The invariants
# =============================================================================


@dataclass
class Invariants:
    checked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    violations: list[str] = field(default_factory=list)

    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def check(self, name: str, ok: bool, message: str) -> None:
        """Up to 200 messages of each family kept: one family failing everywhere (every
        event undelivered) must not crowd out another's first message."""
        self.checked[name] += 1
        if not ok:
            self.failed[name] += 1
            if self.failed[name] <= 200:
                self.violations.append(f"{name}: {message}")


def sent_messages() -> list[Any]:
    """Every raw email moto's SES accepted (the stack's moto runs in this process)."""
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


@dataclass
class _Stored:
    """The run's organizations as the database has them (read as the superuser)."""

    clients: dict[str, tuple[Any, ...]]
    invoices: dict[str, tuple[Any, ...]]
    items: dict[str, list[tuple[Any, ...]]]
    payments: dict[str, tuple[Any, ...]]
    sends: dict[str, list[tuple[Any, ...]]]
    sent_activities: Counter[str]
    counters: dict[str, tuple[Any, ...]]

    @classmethod
    def read(cls, stack: LocalStack, orgs: list[str]) -> _Stored:
        def rows(query: str) -> list[tuple[Any, ...]]:
            return sql(stack, query, orgs)

        items: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for r in rows(
            "select invoice_id::text, quantity, rate, amount, currency from public.invoice_items"
            " where organization_id = any(%s::uuid[]) order by invoice_id, position"
        ):
            items[r[0]].append(r)
        sends: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for r in rows(
            "select invoice_id::text, ses_message_id, recipients, idempotency_key,"
            " bulk_job_id from public.invoice_sends where organization_id = any(%s::uuid[])"
        ):
            sends[r[0]].append(r)
        return cls(
            clients={
                r[0]: r
                for r in rows(
                    "select id::text, organization_id::text, currency, email, company_name,"
                    " total_billed, outstanding_balance, last_invoice_date"
                    " from public.clients where organization_id = any(%s::uuid[])"
                )
            },
            invoices={
                r[0]: r
                for r in rows(
                    "select id::text, organization_id::text, client_id::text, invoice_number,"
                    " status, currency, subtotal, tax_rate, tax_amount, discount, total_amount,"
                    " amount_paid, balance_due, notes, sent_at, issue_date"
                    " from public.invoices where organization_id = any(%s::uuid[])"
                )
            },
            items=items,
            payments={
                r[0]: r
                for r in rows(
                    "select id::text, invoice_id::text, amount, reference_number, currency"
                    " from public.payments where organization_id = any(%s::uuid[])"
                )
            },
            sends=sends,
            sent_activities=Counter(
                r[0]
                for r in rows(
                    "select metadata ->> 'invoice_id' from public.client_activities"
                    " where organization_id = any(%s::uuid[]) and type = 'invoice_sent'"
                )
            ),
            counters={
                r[0]: r
                for r in rows(
                    "select organization_id::text, invoice_prefix, next_invoice_number"
                    " from public.organization_settings"
                    " where organization_id = any(%s::uuid[])"
                )
            },
        )


def check_invariants(stack: LocalStack, result: LoadResult) -> Invariants:
    """Every invariant of the run's organizations, read with SQL as the superuser and
    from moto's SES outbox, against the money rules and the driver's ledger."""
    ledger = result.ledger
    stored = _Stored.read(stack, list(ledger.orgs))
    out = Invariants()
    _check_told_and_stored(out, stored, ledger)
    _check_money(out, stored, ledger)
    _check_numbers(out, stored, ledger)
    _check_client_totals(out, stored)
    _check_emails(out, stored, ledger)
    check_lifecycle(stack, result, out)
    check_integrations(stack, result, out)
    return out


def _check_told_and_stored(out: Invariants, stored: _Stored, ledger: Ledger) -> None:
    """Nothing stored the driver was not told about; nothing told that is not stored."""
    unknown_refs = {u.ref for u in ledger.unknown}
    for id_ in ledger.deleted_invoices:
        out.check("deleted_drafts_are_gone", id_ not in stored.invoices, f"{id_} still stored")
        out.check("deleted_drafts_items_gone", id_ not in stored.items, f"{id_} has items")
    for id_ in ledger.deleted_payments:
        out.check("deleted_payments_are_gone", id_ not in stored.payments, f"{id_} still stored")
    kinds: list[tuple[str, dict[str, tuple[Any, ...]], Collection[str], int]] = [
        ("clients", stored.clients, ledger.clients, 4),  # the column holding the ref
        ("invoices", stored.invoices, ledger.invoices, 13),
        ("payments", stored.payments, ledger.payments, 3),
    ]
    for kind, rows, told, ref_column in kinds:
        for id_ in told:
            out.check(
                f"{kind}_told_are_stored",
                id_ in rows or id_ in unknown_refs,  # a delete of unknown outcome
                f"{id_} answered 2xx, not stored",
            )
        for id_, row in rows.items():
            out.check(
                f"{kind}_stored_were_told",
                id_ in told or row[ref_column] in unknown_refs,
                f"{id_} stored but never answered 2xx ({row[ref_column]})",
            )
    stored_counts = (len(stored.clients), len(stored.invoices), len(stored.payments))
    told_counts = (len(ledger.clients), len(ledger.invoices), len(ledger.payments))
    out.check(
        "counts_created_equal_stored",
        stored_counts == told_counts or bool(ledger.unknown),
        f"stored {stored_counts} clients/invoices/payments, created {told_counts}",
    )
    items = sum(len(v) for k, v in stored.items.items() if k in ledger.invoices)
    told_items = sum(len(i.items) for i in ledger.invoices.values())
    out.check("item_counts_equal", items == told_items, f"stored {items}, created {told_items}")


def _check_money(out: Invariants, stored: _Stored, ledger: Ledger) -> None:
    """The money rules on every invoice, and the ledger's figures."""
    unknown_refs = {u.ref for u in ledger.unknown}
    paid_by_invoice: dict[str, Decimal] = defaultdict(Decimal)
    for p in stored.payments.values():
        paid_by_invoice[p[1]] += p[2]
        payment = ledger.payments.get(p[0])
        if payment is not None and payment.ref not in unknown_refs:
            out.check(
                "payment_as_answered",
                (p[1], p[2]) == (payment.invoice_id, payment.amount),
                f"{p[0]}: stored {p[2]} on {p[1]}, answered {payment.amount}"
                f" on {payment.invoice_id}",
            )
    unknown_invoices = {u.invoice_id for u in ledger.unknown}
    for id_, inv in stored.invoices.items():
        (_, _org, client_id, number, status, currency, subtotal, tax_rate, tax, discount) = inv[:10]
        total, paid, balance = inv[10:13]
        its = stored.items[id_]
        out.check(
            "item_amount_is_quantity_times_rate",
            all(a == money(q * r, currency) and c == currency for _, q, r, a, c in its),
            f"{id_}: {its}",
        )
        out.check(
            "subtotal_is_sum_of_items",
            subtotal == sum((r[3] for r in its), Decimal(0)),
            f"{id_}: subtotal {subtotal}",
        )
        out.check(
            "tax_rule",
            tax == money((subtotal - discount) * tax_rate / 100, currency),
            f"{id_}: tax {tax} on ({subtotal} - {discount}) at {tax_rate} %",
        )
        out.check(
            "total_rule",
            total == subtotal - discount + tax,
            f"{id_}: total {total} != {subtotal} - {discount} + {tax}",
        )
        out.check(
            "amount_paid_is_sum_of_payments",
            paid == paid_by_invoice[id_],
            f"{id_}: amount_paid {paid}, payments sum {paid_by_invoice[id_]}",
        )
        out.check(
            "balance_is_total_minus_paid",
            balance == total - paid,
            f"{id_}: balance {balance} != {total} - {paid}",
        )
        out.check("never_over_paid", paid <= total, f"{id_}: paid {paid} of {total}")
        out.check(
            "status_follows_payments",
            status in ("draft", "sent", "paid", "cancelled")
            and (status == "paid") == (status in ("sent", "paid") and balance == 0)
            and (status != "cancelled" or paid == 0),
            f"{id_}: {status} with balance {balance}",
        )
        told = ledger.invoices.get(id_)
        if told is None or id_ in unknown_invoices:
            continue
        out.check(
            "invoice_as_created",
            (client_id, number, currency, subtotal, tax_rate, discount, tax, total)
            == (
                told.client_id,
                told.number,
                told.currency,
                told.subtotal,
                told.tax_rate,
                told.discount,
                told.tax,
                told.total,
            )
            and [(r[1], r[2]) for r in its] == told.items,
            f"{id_}: stored {number} {subtotal}/{discount}/{tax}/{total}, expected"
            f" {told.number} {told.subtotal}/{told.discount}/{told.tax}/{told.total}",
        )
        out.check(
            "paid_as_accepted",
            paid == told.accepted,
            f"{id_}: paid {paid}, accepted {told.accepted}",
        )
        out.check(
            "status_as_expected",
            status == told.status,
            f"{id_}: {status}, expected {told.status}",
        )


def _check_numbers(out: Invariants, stored: _Stored, ledger: Ledger) -> None:
    """Unique per organization, and the counter's numbers without gaps but for the
    drafts the driver deleted."""
    by_org: dict[str, list[str]] = defaultdict(list)
    for inv in stored.invoices.values():
        by_org[inv[1]].append(inv[3])
    for org in ledger.orgs:
        deleted = {n for o, n in ledger.deleted_invoices.values() if o == org}
        numbers = by_org.get(org, [])
        dupes = [n for n, k in Counter(numbers).items() if k > 1]
        out.check("no_duplicate_numbers", not dupes, f"{org}: {dupes}")
        prefix, next_number = stored.counters[org][1], stored.counters[org][2]
        auto = {
            int(n[len(prefix) :])
            for n in numbers
            if n.startswith(prefix) and n[len(prefix) :].isdigit()
        }
        gone = {
            int(n[len(prefix) :])
            for n in deleted
            if n.startswith(prefix) and n[len(prefix) :].isdigit()
        }
        issued = set(range(1, next_number))
        out.check(
            "numbers_have_no_gaps",
            auto | (gone & issued) == issued and not (auto & gone),
            f"{org}: {len(auto)} numbers, next {next_number},"
            f" missing {sorted(issued - auto - gone)[:10]}",
        )


def _check_client_totals(out: Invariants, stored: _Stored) -> None:
    """total_billed, outstanding_balance, last_invoice_date from the client's invoices."""
    billed: dict[str, Decimal] = defaultdict(Decimal)
    outstanding: dict[str, Decimal] = defaultdict(Decimal)
    last: dict[str, Any] = {}
    for inv in stored.invoices.values():
        client_id, status, total, balance, issued = inv[2], inv[4], inv[10], inv[12], inv[15]
        if status in ("sent", "paid", "overdue"):
            billed[client_id] += total
            last[client_id] = max(last.get(client_id, issued), issued)
        if status in ("sent", "overdue"):
            outstanding[client_id] += balance
    for id_, c in stored.clients.items():
        expected = (billed[id_], outstanding[id_], last.get(id_))
        out.check(
            "client_totals",
            (c[5], c[6], c[7]) == expected,
            f"{id_}: billed/outstanding/last {c[5]} {c[6]} {c[7]}, from its invoices {expected}",
        )


def _check_emails(out: Invariants, stored: _Stored, ledger: Ledger) -> None:
    """One send record, one activity and one email (to the client) per send answered;
    replays with the same Idempotency-Key send nothing."""
    messages = sent_messages()
    by_id = Counter(m.id for m in messages)
    destinations = {m.id: set(m.destinations) for m in messages}
    emails = {c[3] for c in stored.clients.values()}
    to_run = [m for m in messages if emails & set(m.destinations)]
    unknown_sends = {u.invoice_id for u in ledger.unknown if u.kind == "send"}
    told = ledger.sends
    for id_, inv in stored.invoices.items():
        rows = stored.sends[id_]
        if id_ in unknown_sends:
            out.check("unknown_send_at_most_once", len(rows) <= 1, f"{id_}: {len(rows)} sends")
            continue
        expected = 1 if id_ in told else 0
        record = ledger.invoices.get(id_)
        marked = 1 if record is not None and record.marked_sent else 0
        out.check(
            "one_send_record_per_send",
            len(rows) == expected,
            f"{id_}: {len(rows)} send records, {expected} sends answered",
        )
        out.check(
            "one_activity_per_send",
            stored.sent_activities[id_] == expected + marked,
            f"{id_}: {stored.sent_activities[id_]} invoice_sent activities,"
            f" {expected} sent and {marked} marked sent",
        )
        client_email = stored.clients[inv[2]][3]
        for row in rows:
            message_id = row[1]
            out.check(
                "send_as_answered",
                message_id == told.get(id_) or (told.get(id_) is None and row[4] is not None),
                f"{id_}: recorded {message_id}, answered {told.get(id_)}",
            )
            out.check(
                "one_email_per_send_record",
                by_id[message_id] == 1,
                f"{id_}: moto has {by_id[message_id]} emails with id {message_id}",
            )
            out.check(
                "email_to_the_client",
                client_email in destinations.get(message_id, set()),
                f"{id_}: email {message_id} not to {client_email}",
            )
            out.check(
                "sent_invoice_marked",
                inv[14] is not None and inv[4] != "draft",
                f"{id_}: {inv[4]} sent_at {inv[14]}",
            )
    records = sum(len(v) for v in stored.sends.values())
    out.check(
        "emails_equal_send_records",
        records <= len(to_run) <= records + len(unknown_sends),
        f"{len(to_run)} emails to the run's clients, {records} send records",
    )


def check_reports(stack: LocalStack, result: LoadResult) -> Invariants:
    """GET /api/dashboard/metrics of each organization against the ledger: per currency
    the revenue collected this month (every payment of the run is dated today), the
    outstanding balances, the invoices paid this month, and the counts by status."""
    out = Invariants()
    ledger = result.ledger
    if ledger.unknown:
        return out
    by_org: dict[str, User] = {}
    for user in result.users:
        by_org.setdefault(user.organization_id, user)
    for org, user in by_org.items():
        client = Client(stack, user)
        try:
            reply = client.request("GET", "/api/dashboard/metrics")
        finally:
            client.close()
        out.check("metrics_answer", reply.status == 200, f"{org}: {reply.status}")
        if reply.status != 200:
            continue
        body = reply.json()
        invoices = ledger.invoices_of(org)
        expected: dict[str, dict[str, Any]] = defaultdict(
            lambda: {
                "revenue_this_month": Decimal(0),
                "payments_this_month": 0,
                "outstanding_amount": Decimal(0),
                "outstanding_count": 0,
                "overdue_amount": Decimal(0),
                "overdue_count": 0,
                "paid_this_month_amount": Decimal(0),
                "paid_this_month_count": 0,
            }
        )
        for payment in ledger.payments.values():
            invoice = ledger.invoices[payment.invoice_id]
            if invoice.org == org:
                figures = expected[invoice.currency]
                figures["revenue_this_month"] += payment.amount
                figures["payments_this_month"] += 1
        for invoice in invoices:
            figures = expected[invoice.currency]
            if invoice.status == "sent":
                figures["outstanding_amount"] += invoice.total - invoice.accepted
                figures["outstanding_count"] += 1
            elif invoice.status == "paid":
                figures["paid_this_month_amount"] += invoice.total
                figures["paid_this_month_count"] += 1
        blocks = {b["currency"]: b for b in body["by_currency"]}
        for currency, figures in expected.items():
            # A currency with only drafts and cancelled invoices has no block: all zero.
            block = blocks.get(currency) or dict.fromkeys(figures, 0)
            got = {
                k: (Decimal(block[k]) if isinstance(v, Decimal) else block[k])
                for k, v in figures.items()
            }
            out.check(
                "metrics_per_currency",
                got == figures,
                f"{org} {currency}: answered {blocks.get(currency)}, the ledger says"
                f" {dict(figures)}",
            )
        counts = Counter(i.status for i in invoices)
        want = {s: counts.get(s, 0) for s in ("draft", "sent", "overdue", "paid", "cancelled")}
        want["total"] = len(invoices)
        out.check(
            "metrics_invoice_counts",
            body["invoice_counts"] == want,
            f"{org}: answered {body['invoice_counts']}, the ledger says {want}",
        )
    return out


# =============================================================================
# Capturing every log line
# =============================================================================


class _Collect(logging.Handler):
    def __init__(self, sink: list[str], lock: threading.Lock) -> None:
        super().__init__(logging.NOTSET)
        self.sink = sink
        self.sink_lock = lock
        self.setFormatter(_JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception as exc:  # a record that cannot be formatted is kept raw
            line = f"{record.__dict__!r} ({exc!r})"
        with self.sink_lock:
            self.sink.append(line)


class _Tee:
    """sys.stdout/sys.stderr while capturing: every write kept and passed on."""

    def __init__(self, inner: TextIO, sink: list[str], lock: threading.Lock) -> None:
        self.inner = inner
        self.sink = sink
        self.sink_lock = lock

    def write(self, text: str) -> int:
        with self.sink_lock:
            self.sink.append(text)
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LogCapture:
    """While active: every log record of every logger at the levels in force (the
    functions' ``invoiceflow`` logger at LOG_LEVEL; the root logger and so the gateway's,
    uvicorn's, moto's and the libraries' at INFO or what is set below it), every write to
    sys.stdout and sys.stderr from any thread (the functions log to stdout, as Lambda
    ships it to CloudWatch), and afterwards what PostgreSQL appended to its server log."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.records: list[str] = []
        self.streams: list[str] = []
        self.postgres: str = ""
        self._lock = threading.Lock()
        self._handler = _Collect(self.records, self._lock)
        self._attached: list[logging.Logger] = []
        self._saved_root_level = logging.root.level
        self._saved_streams: tuple[TextIO, TextIO] | None = None
        self._pg_offset = 0

    def rescan(self) -> None:
        """Attaches to loggers made since (every logger that does not propagate)."""
        loggers: list[logging.Logger] = [logging.root]
        for candidate in list(logging.root.manager.loggerDict.values()):
            if isinstance(candidate, logging.Logger) and not candidate.propagate:
                loggers.append(candidate)
        for logger in loggers:
            if logger not in self._attached:
                logger.addHandler(self._handler)
                self._attached.append(logger)

    def __enter__(self) -> LogCapture:
        get_logger(get_settings().log_level)  # its handler first: it replaces foreign ones
        self._saved_root_level = logging.root.level
        if logging.root.level > logging.INFO:
            logging.root.setLevel(logging.INFO)
        self.rescan()
        self._saved_streams = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, self.streams, self._lock)
        sys.stderr = _Tee(sys.stderr, self.streams, self._lock)
        logfile = self.stack.cluster.logfile
        self._pg_offset = logfile.stat().st_size if logfile.exists() else 0
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved_streams is not None:
            sys.stdout, sys.stderr = self._saved_streams
        for logger in self._attached:
            logger.removeHandler(self._handler)
        logging.root.setLevel(self._saved_root_level)
        logfile = self.stack.cluster.logfile
        if logfile.exists():
            with logfile.open("rb") as f:
                f.seek(self._pg_offset)
                self.postgres = f.read().decode("utf-8", "replace")

    def lines(self) -> Iterator[tuple[str, str]]:
        """(where, line) for everything captured."""
        for line in self.records:
            yield "log record", line
        for line in "".join(self.streams).splitlines():
            yield "stdout/stderr", line
        for line in self.postgres.splitlines():
            yield "postgresql log", line


# The shapes a credential has in a line, whatever its value.
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
AUTH_HEADER = re.compile(
    r"(?i)(authorization|apikey)['\"]?\s*[:=]\s*['\"]?\s*\S{8,}|bearer\s+\S{8,}"
)


def run_captured(
    stack: LocalStack, clients: int | None = None, seconds: float | None = None
) -> tuple[LoadResult, LogCapture]:
    """A load run with every log line captured (test_load and test_logs share one)."""
    capture = LogCapture(stack)
    with capture:
        result = run_load(stack, clients, seconds, on_tick=lambda _t, _r: capture.rescan())
    return result, capture
