"""The billing lifecycle in the load (reliability/load.py runs it beside the invoice mix):
quotes created, sent, accepted and converted (or declined, or converted twice: 409);
credit notes on paid invoices (an amount, or the whole invoice); refunds from a payment
or from client credit; client credit applied to an open invoice (and once in a while more
than the credit: 422); recurring profiles issued now and paused; the dashboard, overview
and the new lists read.

Its people work in organizations of their own (`LIFECYCLE_ORG_SIZE` each), so the invoice
mix's ledger and invariants stay exact, while they contend on the organization's counters
(invoice, quote and credit note numbers) and on its dashboard. Each person owns one
client, so every outcome is known in advance: the person tracks the client's credit and
what of each payment still counts on its invoice, and says which status each call must
answer.

`check_lifecycle` then reads those organizations with SQL (behind RLS's back) and the
dashboard over HTTP:
  - every invoice: balance_due = total - amount_paid - amount_credited >= 0, amount_credited
    = credit notes + credit applied, amount_paid = the payments' applied amounts;
  - every payment: applied + refunded <= amount;
  - every client: credit balance = the ledger's sum >= 0, = what its person tracked;
    outstanding_balance = the balance due of its sent and overdue invoices;
  - every organization: no number used twice per document type (invoice, quote, credit
    note); a converted quote has exactly its one invoice; a recurring period one invoice;
    the dashboard's outstanding and client credit = the sums of the rows.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reliability.conftest import Client, sql

if TYPE_CHECKING:
    from devstack.local import LocalStack
    from reliability.load import Invariants, LoadResult, _Run

from reliability.conftest import User

LIFECYCLE_CLIENTS = int(os.environ.get("RELIABILITY_LOAD_LIFECYCLE_CLIENTS", "4"))
LIFECYCLE_ORG_SIZE = 2
CENT = Decimal("0.01")

# Relative weights of what a lifecycle person does next.
LIFECYCLE_MIX: dict[str, int] = {
    "lc_quote": 4,
    "lc_credit_note": 4,
    "lc_refund": 3,
    "lc_apply_credit": 3,
    "lc_recurring": 2,
    "lc_read": 4,
}
# The operations (Call.op) the lifecycle records; a long enough run has them all.
LIFECYCLE_OPS = frozenset(
    {
        "lc_client",
        "lc_quote_create",
        "lc_quote_send",
        "lc_quote_accept",
        "lc_quote_decline",
        "lc_quote_convert",
        "lc_invoice",
        "lc_pay",
        "lc_credit_note",
        "lc_refund_payment",
        "lc_refund_credit",
        "lc_apply_credit",
        "lc_recurring_create",
        "lc_recurring_issue",
        "lc_dashboard",
        "lc_overview",
        "lc_list",
    }
)


@dataclass
class LifecycleLedger:
    """What the lifecycle people did, as the API answered it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    orgs: list[str] = field(default_factory=list)
    credit: dict[str, Decimal] = field(default_factory=dict)  # client -> credit tracked
    counts: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1


def _worker_class() -> type:
    from reliability.load import Worker  # noqa: PLC0415 - load.py imports this module

    class LifecycleWorker(Worker):
        """One lifecycle person: a thread with its own httpx client and its own client."""

        def __init__(self, run: _Run, index: int, user: User, ledger: LifecycleLedger) -> None:
            super().__init__(run, index, user)
            self.ledger = ledger
            self.ops = list(LIFECYCLE_MIX)
            self.weights = list(LIFECYCLE_MIX.values())
            self.client_id: str | None = None
            self.credit = Decimal(0)
            self.payments: dict[str, Decimal] = {}  # payment -> what still counts on its invoice

        # -- helpers ---------------------------------------------------------------------

        def amount(self, low: int = 100, high: int = 50_000) -> Decimal:
            return Decimal(self.rng.randint(low, high)) * CENT

        def ensure_client(self) -> bool:
            if self.client_id is not None:
                return True
            ref = self.next_ref("lc")
            reply = self.call(
                "lc_client",
                "POST",
                "/api/clients",
                "/api/clients",
                {201},
                json_body={
                    "company_name": f"Lifecycle {ref}",
                    "email": f"{ref}@lifecycle.example",
                    "currency": "USD",
                    "billing_frequency": "monthly",
                },
            )
            if reply is None or reply.status != 201:
                return False
            self.client_id = reply.json()["id"]
            with self.ledger.lock:
                self.ledger.credit[self.client_id] = Decimal(0)
            return True

        def track_credit(self, delta: Decimal) -> None:
            self.credit += delta
            with self.ledger.lock:
                self.ledger.credit[str(self.client_id)] = self.credit

        def mismatch(self, message: str) -> None:
            with self.ledger.lock:
                self.ledger.mismatches.append(message)

        def invoice(self, total: Decimal) -> str | None:
            """A sent invoice of ``total`` (one item, no tax) for this person's client."""
            reply = self.call(
                "lc_invoice",
                "POST",
                "/api/invoices",
                "/api/invoices",
                {201},
                json_body={
                    "client_id": self.client_id,
                    "status": "sent",
                    "payment_terms": "net30",
                    "items": [{"description": "lifecycle", "quantity": "1", "rate": str(total)}],
                },
            )
            if reply is None or reply.status != 201:
                return None
            self.ledger.count("invoices")
            invoice_id: str = reply.json()["id"]
            return invoice_id

        # -- quotes ----------------------------------------------------------------------

        def lc_quote(self) -> None:
            if not self.ensure_client():
                return
            reply = self.call(
                "lc_quote_create",
                "POST",
                "/api/quotes",
                "/api/quotes",
                {201},
                json_body={
                    "client_id": self.client_id,
                    "items": [
                        {"description": f"offer {n}", "quantity": "1", "rate": str(self.amount())}
                        for n in range(self.rng.randint(1, 3))
                    ],
                },
            )
            if reply is None or reply.status != 201:
                return
            quote_id = reply.json()["id"]
            self.ledger.count("quotes")
            path = f"/api/quotes/{quote_id}"
            reply = self.call(
                "lc_quote_send",
                "POST",
                f"{path}/send",
                "/api/quotes/{id}/send",
                {200},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            if reply is None or reply.status != 200:
                return
            if self.rng.random() < 0.3:
                self.call(
                    "lc_quote_decline", "POST", f"{path}/decline", "/api/quotes/{id}/decline", {200}
                )
                return
            reply = self.call(
                "lc_quote_accept", "POST", f"{path}/accept", "/api/quotes/{id}/accept", {200}
            )
            if reply is None or reply.status != 200:
                return
            reply = self.call(
                "lc_quote_convert", "POST", f"{path}/convert", "/api/quotes/{id}/convert", {201}
            )
            if reply is not None and reply.status == 201:
                self.ledger.count("conversions")
                if self.rng.random() < 0.2:
                    self.call(
                        "lc_quote_convert",
                        "POST",
                        f"{path}/convert",
                        "/api/quotes/{id}/convert",
                        {409},
                    )

        # -- credit notes, refunds, credit ---------------------------------------------------

        def lc_credit_note(self) -> None:
            """A paid invoice credited: an amount (that much to the client's credit, the
            payment counting the rest) or the whole (cancelled; all of it to credit)."""
            if not self.ensure_client():
                return
            total = self.amount(1_000, 50_000)
            invoice_id = self.invoice(total)
            if invoice_id is None:
                return
            reply = self.call(
                "lc_pay",
                "POST",
                "/api/payments",
                "/api/payments",
                {201},
                json_body={"invoice_id": invoice_id, "amount": str(total)},
            )
            if reply is None or reply.status != 201:
                return
            payment_id = reply.json()["id"]
            whole = self.rng.random() < 0.25
            credited = total if whole else self.amount(100, int(total / CENT) - 1)
            body: dict[str, Any] = {
                "invoice_id": invoice_id,
                "kind": "whole" if whole else "amount",
            }
            if not whole:
                body["amount"] = str(credited)
            reply = self.call(
                "lc_credit_note",
                "POST",
                "/api/credit-notes",
                "/api/credit-notes",
                {201},
                json_body=body,
            )
            if reply is None or reply.status != 201:
                self.payments[payment_id] = total
                return
            note = reply.json()
            self.ledger.count("credit_notes")
            if Decimal(note["credit_amount"]) != credited:
                self.mismatch(
                    f"credit note {note['id']}: {note['credit_amount']} to credit, not {credited}"
                )
            self.track_credit(credited)
            self.payments[payment_id] = total - credited

        def lc_refund(self) -> None:
            if not self.ensure_client():
                return
            if self.credit > 0 and (self.rng.random() < 0.5 or not any(self.payments.values())):
                amount = min(self.credit, self.amount(100, 5_000))
                reply = self.call(
                    "lc_refund_credit",
                    "POST",
                    "/api/refunds",
                    "/api/refunds",
                    {201},
                    json_body={"client_id": self.client_id, "amount": str(amount)},
                )
                if reply is not None and reply.status == 201:
                    self.ledger.count("refunds")
                    self.track_credit(-amount)
                return
            open_payments = [p for p, left in self.payments.items() if left > 0]
            if not open_payments:
                return self.lc_credit_note()
            payment_id = self.rng.choice(open_payments)
            amount = min(self.payments[payment_id], self.amount(100, 5_000))
            reply = self.call(
                "lc_refund_payment",
                "POST",
                "/api/refunds",
                "/api/refunds",
                {201},
                json_body={"payment_id": payment_id, "amount": str(amount)},
            )
            if reply is not None and reply.status == 201:
                self.ledger.count("refunds")
                self.payments[payment_id] -= amount
            return None

        def lc_apply_credit(self) -> None:
            if not self.ensure_client():
                return
            if self.credit <= 0:
                return self.lc_credit_note()
            total = self.amount(100, 20_000)
            invoice_id = self.invoice(total)
            if invoice_id is None:
                return None
            if self.credit < total and self.rng.random() < 0.15:
                # More than the client holds: refused, nothing applied.
                self.call(
                    "lc_apply_credit",
                    "POST",
                    f"/api/clients/{self.client_id}/credit/apply",
                    "/api/clients/{id}/credit/apply",
                    {422},
                    json_body={"invoice_id": invoice_id, "amount": str(self.credit + CENT)},
                )
                return None
            amount = min(self.credit, total)
            reply = self.call(
                "lc_apply_credit",
                "POST",
                f"/api/clients/{self.client_id}/credit/apply",
                "/api/clients/{id}/credit/apply",
                {200},
                json_body={"invoice_id": invoice_id, "amount": str(amount)},
            )
            if reply is not None and reply.status == 200:
                self.ledger.count("credit_applications")
                self.track_credit(-amount)
            return None

        # -- recurring -------------------------------------------------------------------

        def lc_recurring(self) -> None:
            if not self.ensure_client():
                return
            reply = self.call(
                "lc_recurring_create",
                "POST",
                "/api/recurring-profiles",
                "/api/recurring-profiles",
                {201},
                json_body={
                    "client_id": self.client_id,
                    "frequency": self.rng.choice(["monthly", "quarterly", "annually"]),
                    "items": [{"description": "plan", "quantity": "1", "rate": str(self.amount())}],
                },
            )
            if reply is None or reply.status != 201:
                return
            profile_id = reply.json()["id"]
            self.ledger.count("recurring_profiles")
            reply = self.call(
                "lc_recurring_issue",
                "POST",
                f"/api/recurring-profiles/{profile_id}/issue",
                "/api/recurring-profiles/{id}/issue",
                {201},
            )
            if reply is not None and reply.status == 201:
                self.ledger.count("recurring_invoices")
            if self.rng.random() < 0.3:
                self.call(
                    "lc_recurring_pause",
                    "POST",
                    f"/api/recurring-profiles/{profile_id}/pause",
                    "/api/recurring-profiles/{id}/pause",
                    {200},
                )

        # -- reads -----------------------------------------------------------------------

        def lc_read(self) -> None:
            self.call(
                "lc_dashboard", "GET", "/api/dashboard/metrics", "/api/dashboard/metrics", {200}
            )
            self.call("lc_overview", "GET", "/api/reports/overview", "/api/reports/overview", {200})
            path = self.rng.choice(
                ["/api/quotes", "/api/credit-notes", "/api/refunds", "/api/recurring-profiles"]
            )
            self.call("lc_list", "GET", path, path, {200})

    return LifecycleWorker


def lifecycle_workers(
    run: _Run, users: list[User], ledger: LifecycleLedger, first_index: int
) -> list[Any]:
    """One lifecycle worker per person (indexes after the invoice mix's)."""
    cls = _worker_class()
    return [cls(run, first_index + n, user, ledger) for n, user in enumerate(users)]


# =============================================================================
# The invariants
# =============================================================================


def check_lifecycle(stack: LocalStack, result: LoadResult, out: Invariants) -> Invariants:
    """The lifecycle's invariants on its organizations (module docstring)."""
    ledger: LifecycleLedger = result.lifecycle
    orgs = ledger.orgs
    if not orgs:
        return out

    def rows(query: str) -> list[tuple[Any, ...]]:
        return sql(stack, query, orgs)

    paid_by_invoice: dict[str, Decimal] = defaultdict(Decimal)
    for payment_id, invoice_id, amount, applied, refunded in rows(
        "select id::text, invoice_id::text, amount, applied_amount, refunded_amount"
        " from public.payments where organization_id = any(%s::uuid[])"
    ):
        paid_by_invoice[invoice_id] += applied
        out.check(
            "lc_payment_within_amount",
            applied >= 0 and refunded >= 0 and applied + refunded <= amount,
            f"payment {payment_id}: applied {applied} + refunded {refunded} of {amount}",
        )
    outstanding: dict[str, Decimal] = defaultdict(Decimal)
    for invoice_id, client_id, status, total, paid, credited, notes_total, applied, balance in rows(
        "select id::text, client_id::text, status, total_amount, amount_paid, amount_credited,"
        " credit_notes_total, credit_applied, balance_due"
        " from public.invoices where organization_id = any(%s::uuid[])"
    ):
        out.check(
            "lc_balance_is_total_minus_paid_minus_credited",
            balance == total - paid - credited and balance >= 0,
            f"{invoice_id}: balance {balance} = {total} - {paid} - {credited}?",
        )
        out.check(
            "lc_credited_is_notes_plus_applied",
            credited == notes_total + applied,
            f"{invoice_id}: credited {credited}, notes {notes_total} + applied {applied}",
        )
        out.check(
            "lc_amount_paid_is_payments_applied",
            paid == paid_by_invoice[invoice_id],
            f"{invoice_id}: amount_paid {paid}, applied {paid_by_invoice[invoice_id]}",
        )
        if status in ("sent", "overdue"):
            outstanding[client_id] += balance
    for client_id, stored in rows(
        "select id::text, outstanding_balance from public.clients"
        " where organization_id = any(%s::uuid[])"
    ):
        out.check(
            "lc_outstanding_is_sum_of_balances",
            stored == outstanding[client_id],
            f"{client_id}: outstanding_balance {stored}, balances {outstanding[client_id]}",
        )
    sums = {
        (c, cur): s
        for c, cur, s in rows(
            "select client_id::text, currency, sum(amount) from public.client_credit_entries"
            " where organization_id = any(%s::uuid[]) group by 1, 2"
        )
    }
    balances = {
        (c, cur): b
        for c, cur, b in rows(
            "select client_id::text, currency, balance from public.client_credit_balances"
            " where organization_id = any(%s::uuid[])"
        )
    }
    for key in set(sums) | set(balances):
        got, want = balances.get(key, Decimal(0)), sums.get(key, Decimal(0))
        out.check(
            "lc_credit_is_ledger_sum",
            got == want and got >= 0,
            f"{key}: balance {got}, ledger sum {want}",
        )
    for client_id, tracked in ledger.credit.items():
        got = balances.get((client_id, "USD"), Decimal(0))
        out.check(
            "lc_credit_as_tracked", got == tracked, f"{client_id}: credit {got}, tracked {tracked}"
        )
    for table, column in (
        ("invoices", "invoice_number"),
        ("quotes", "quote_number"),
        ("credit_notes", "credit_note_number"),
    ):
        dupes = rows(
            f"select organization_id::text, {column}, count(*) from public.{table}"
            " where organization_id = any(%s::uuid[]) group by 1, 2 having count(*) > 1"
        )
        out.check(f"lc_{table}_numbers_unique", not dupes, f"{dupes[:5]}")
    for quote_id, invoice_id, linked in rows(
        "select q.id::text, q.invoice_id::text,"
        " (select count(*) from public.invoices i where i.quote_id = q.id)"
        " from public.quotes q where q.organization_id = any(%s::uuid[]) and q.status = 'converted'"
    ):
        out.check(
            "lc_converted_once",
            invoice_id is not None and linked == 1,
            f"{quote_id}: {linked} invoices",
        )
    doubled = rows(
        "select recurring_profile_id::text, recurring_period_start, count(*) from public.invoices"
        " where organization_id = any(%s::uuid[]) and recurring_profile_id is not null"
        " group by 1, 2 having count(*) > 1"
    )
    out.check("lc_recurring_period_once", not doubled, f"{doubled[:5]}")
    _check_dashboard(stack, result, out)
    for message in ledger.mismatches[:20]:
        out.check("lc_answers_as_expected", False, message)
    return out


def _check_dashboard(stack: LocalStack, result: LoadResult, out: Invariants) -> None:
    """Each lifecycle organization's dashboard against the rows: outstanding (net of
    credits) and client credit (beside it), in USD."""
    by_org: dict[str, User] = {}
    for user in result.lifecycle_users:
        by_org.setdefault(user.organization_id, user)
    for org, user in by_org.items():
        client = Client(stack, user)
        try:
            reply = client.request("GET", "/api/dashboard/metrics")
        finally:
            client.close()
        out.check("lc_dashboard_answer", reply.status == 200, f"{org}: {reply.status}")
        if reply.status != 200:
            continue
        (outstanding, credit) = sql(
            stack,
            "select (select coalesce(sum(balance_due), 0) from public.invoices"
            "        where organization_id = %s and status in ('sent', 'overdue')"
            "          and currency = 'USD'),"
            "       (select coalesce(sum(balance), 0) from public.client_credit_balances"
            "        where organization_id = %s and currency = 'USD')",
            org,
            org,
        )[0]
        block = next((b for b in reply.json()["by_currency"] if b["currency"] == "USD"), None)
        got = (
            (Decimal(block["outstanding_amount"]), Decimal(block["client_credit"]))
            if block
            else (Decimal(0), Decimal(0))
        )
        out.check(
            "lc_dashboard_outstanding_and_credit",
            got == (outstanding, credit),
            f"{org}: dashboard {got}, rows {(outstanding, credit)}",
        )
