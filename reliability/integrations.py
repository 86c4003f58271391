"""Integrations, teams and account security in the load (issues 16 and 17;
reliability/load.py runs it beside the invoice mix and the lifecycle).

`setup_integrations` prepares, through the API, before the clock starts:
  - an integrations organization (its owner signed up): a webhook endpoint for every event
    type on a local receiver (devstack/webhook_receiver.py, verifying every signature), a
    read key and a write key, Stripe connected (the devstack stand-in), a client;
  - an organization requiring MFA: its owner at aal2 (TOTP enrolled and verified) turns
    the requirement on after making a read key at aal2 (migration 20261206160100); a
    member at aal2 and a member at aal1.

Then `RELIABILITY_LOAD_INTEGRATIONS_CLIENTS` (3) people, all acting as the integrations
organization's owner, run the mix:
  - it_key_read / it_key_write: the read key lists clients and invoices (every row seen
    kept, for the cross-tenant check), the write key creates clients (201), the read key
    trying to is 403;
  - it_portal: a sent invoice, its client link, the page as HTML and as JSON without login
    (the JSON names that invoice and no other), a made-up token 404;
  - it_stripe: Pay on a page, the stand-in's checkout completed with both events
    (checkout.session.completed, payment_intent.succeeded) delivered twice and in reverse
    order, signed by Stripe's library; the page then says paid, balance 0;
  - it_invite: an invitation (viewer or member) mailed through SES, a new person signing up
    with that address and accepting with the mailed token (sometimes twice: 409), then
    reading the organization (and, as a viewer, refused a write);
  - it_mfa: the aal2 member and the key made at aal2 read the MFA organization (200), the
    aal1 member is refused with 403 mfa_required (expected);
  - it_deliveries / it_dispatch: the endpoint's deliveries listed; the webhook dispatcher
    invoked (as EventBridge does every minute); the stack's queue poller runs the worker.

`check_integrations` drains the outbox (the dispatcher until every delivery succeeded)
and checks, behind RLS's back:
  - every payment recorded once per PaymentIntent; each completed checkout exactly one
    credit_card payment, the invoice paid in full;
  - every committed change's webhook delivered at least once: every event of the
    organization has its delivery succeeded and the receiver accepted its webhook-id with
    a valid signature; none duplicated past its event id: one delivery per (endpoint,
    event), every copy of a webhook-id the same event, a client created by the key one
    client.created event, a Stripe-paid invoice one invoice.paid and one payment.recorded
    event although each Stripe event came twice;
  - no cross-tenant read: every row a key listed is of the key's organization;
  - every accepted invitation a membership with the invited role.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import secrets
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import httpx

from devstack.auth.tokens import totp
from devstack.webhook_receiver import Receiver
from reliability.conftest import Client, User, sql

if TYPE_CHECKING:
    from devstack.local import LocalStack
    from reliability.load import Invariants, LoadResult, _Run

INTEGRATIONS_CLIENTS = int(os.environ.get("RELIABILITY_LOAD_INTEGRATIONS_CLIENTS", "3"))
EVENT_TYPES = [
    "invoice.created",
    "invoice.sent",
    "invoice.paid",
    "invoice.overdue",
    "invoice.cancelled",
    "payment.recorded",
    "payment.refunded",
    "quote.accepted",
    "credit_note.issued",
    "client.created",
    "reconciliation.exception_opened",
    "reconciliation.exception_resolved",
]
INTEGRATIONS_MIX: dict[str, int] = {
    "it_key_read": 4,
    "it_key_write": 3,
    "it_portal": 3,
    "it_stripe": 3,
    "it_invite": 1,
    "it_mfa": 3,
    "it_deliveries": 1,
    "it_dispatch": 1,
}
# The operations (Call.op) a long enough run has.
INTEGRATIONS_OPS = frozenset(
    {
        "it_key_read",
        "it_key_write",
        "it_key_write_refused",
        "it_invoice",
        "it_link",
        "it_page_html",
        "it_page_json",
        "it_page_unknown",
        "it_pay",
        "it_checkout_complete",
        "it_invite",
        "it_invitee_signup",
        "it_accept",
        "it_invitee_read",
        "it_mfa_aal2",
        "it_mfa_aal1_refused",
        "it_mfa_key",
        "it_deliveries",
        "it_dispatch",
    }
)
DISPATCH = "/2015-03-31/functions/jobsWebhookDispatch/invocations"


@dataclass
class IntegrationsLedger:
    """What the integrations people were given and did, as the API answered it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    org: str = ""
    mfa_org: str = ""
    read_key: str = ""
    write_key: str = ""
    mfa_key: str = ""
    mfa_aal2: str = ""  # the member at aal2's token
    mfa_aal1: str = ""  # the member at aal1's token
    endpoint_id: str = ""
    client_id: str = ""
    receiver: Receiver | None = None
    created_by_key: list[str] = field(default_factory=list)  # clients
    seen_by_keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    paid: dict[str, tuple[str, Decimal]] = field(default_factory=dict)  # invoice -> intent, total
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (user id, role)
    counts: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)
    drain: dict[str, Any] = field(default_factory=dict)

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def mismatch(self, message: str) -> None:
        with self.lock:
            self.mismatches.append(message)


def _ok(reply: Any, status: int, what: str) -> Any:
    assert reply.status == status, f"{what}: {reply.status} {reply.content[:300]!r}"
    return reply.json()


def _aal2(c: Client, token: str) -> str:
    """Enrolls a TOTP factor and verifies a code: the aal2 access token."""
    enrolled = _ok(
        c.request("POST", "/api/auth/mfa/enroll", token=token, json_body={"friendly_name": "p"}),
        201,
        "enroll",
    )
    verified = _ok(
        c.request(
            "POST",
            "/api/auth/mfa/verify",
            token=token,
            json_body={"factor_id": enrolled["id"], "code": totp(enrolled["totp"]["secret"])},
        ),
        200,
        "verify",
    )
    aal2: str = verified["session"]["access_token"]
    return aal2


def setup_integrations(stack: LocalStack, result: LoadResult, count: int) -> list[User]:
    """The two organizations (module docstring); answers the people who run the mix."""
    ledger: IntegrationsLedger = result.integrations
    c = Client(stack)
    try:
        owner = c.sign_up("int-owner")
        ledger.org = owner.organization_id
        receiver = Receiver().start()
        ledger.receiver = receiver
        hook = _ok(
            c.request(
                "POST",
                "/api/webhook-endpoints",
                json_body={
                    "url": f"{receiver.url}/reliability",
                    "event_types": EVENT_TYPES,
                    "description": "reliability load",
                },
            ),
            201,
            "webhook endpoint",
        )
        ledger.endpoint_id = str(hook["id"])
        receiver.secrets.append(str(hook["secret"]))
        result.secret("webhook_secret", str(hook["secret"]))
        for scope in ("read", "write"):
            made = _ok(
                c.request(
                    "POST",
                    "/api/api-keys",
                    json_body={"name": f"reliability {scope}", "scopes": [scope]},
                ),
                201,
                "api key",
            )
            setattr(ledger, f"{scope}_key", str(made["key"]))
            result.secret("api_key", str(made["key"]))
        _ok(
            c.request(
                "PUT",
                "/api/stripe/account",
                json_body={"secret_key": "sk_test_" + secrets.token_hex(12)},
            ),
            200,
            "stripe",
        )
        client = _ok(
            c.request(
                "POST",
                "/api/clients",
                json_body={
                    "company_name": "Integrations client",
                    "email": "ap@integrations.example",
                    "currency": "USD",
                },
            ),
            201,
            "client",
        )
        ledger.client_id = str(client["id"])

        # The organization requiring MFA, its members, its key made at aal2.
        mfa = Client(stack)
        try:
            mfa_owner = mfa.sign_up("int-mfa-owner")
            ledger.mfa_org = mfa_owner.organization_id
            owner_aal2 = _aal2(mfa, mfa_owner.access_token)
            people = []
            for tag in ("int-mfa-aal2", "int-mfa-aal1"):
                other = Client(stack)
                try:
                    people.append(other.sign_up(tag))
                finally:
                    other.close()
            for person in people:
                sql(
                    stack,
                    "insert into public.memberships (organization_id, user_id, role)"
                    " values (%s, %s, 'member')",
                    ledger.mfa_org,
                    person.user_id,
                )
            ledger.mfa_aal2 = _aal2(mfa, people[0].access_token)
            ledger.mfa_aal1 = people[1].access_token
            _ok(
                mfa.request(
                    "POST",
                    "/api/clients",
                    token=owner_aal2,
                    json_body={"company_name": "MFA client", "currency": "USD"},
                ),
                201,
                "mfa client",
            )
            made = _ok(
                mfa.request(
                    "POST",
                    "/api/api-keys",
                    token=owner_aal2,
                    json_body={"name": "reliability mfa", "scopes": ["read"]},
                ),
                201,
                "mfa key",
            )
            ledger.mfa_key = str(made["key"])
            _ok(
                mfa.request(
                    "PUT",
                    "/api/settings/business",
                    token=owner_aal2,
                    json_body={"require_mfa": True},
                ),
                200,
                "require mfa",
            )
            for token in (owner_aal2, ledger.mfa_aal2, ledger.mfa_aal1):
                result.secret("access_token", token)
            result.secret("api_key", ledger.mfa_key)
        finally:
            mfa.close()
    finally:
        c.close()
    result.secret("access_token", owner.access_token)
    result.secret("refresh_token", owner.refresh_token)
    return [owner] * count


def _mail_token(address: str) -> str | None:
    """The invitation token mailed to ``address`` (moto's SES outbox)."""
    from reliability.load import sent_messages  # noqa: PLC0415 - load.py imports this module

    for raw in reversed(sent_messages()):
        if address not in getattr(raw, "destinations", []):
            continue
        data = raw.raw_data
        message = email.message_from_bytes(
            data.encode() if isinstance(data, str) else data, policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        if body is None:
            continue
        found = re.search(r"/invitations/accept\?token=([A-Za-z0-9_\-]+)", body.get_content())
        if found:
            return found.group(1)
    return None


def _worker_class() -> type:
    from reliability.load import Call, Worker  # noqa: PLC0415 - load.py imports this module

    class IntegrationsWorker(Worker):
        """One integrations person (the integrations organization's owner)."""

        def __init__(self, run: _Run, index: int, user: User, ledger: IntegrationsLedger):
            super().__init__(run, index, user)
            self.ledger = ledger
            self.ops = list(INTEGRATIONS_MIX)
            self.weights = list(INTEGRATIONS_MIX.values())
            self.pages: list[tuple[str, str, Decimal]] = []  # (invoice, page path, total)

        # -- API keys ----------------------------------------------------------------

        def it_key_read(self) -> None:
            path = self.rng.choice(["/api/clients", "/api/invoices"])
            reply = self.call("it_key_read", "GET", path, path, {200}, token=self.ledger.read_key)
            if reply is not None and reply.status == 200:
                with self.ledger.lock:
                    seen = self.ledger.seen_by_keys[path.rsplit("/", 1)[1]]
                    seen.update(str(row["id"]) for row in reply.json()["data"])

        def it_key_write(self) -> None:
            ref = self.next_ref("key")
            body = {"company_name": f"Key {ref}", "email": f"{ref}@keys.example"}
            if self.rng.random() < 0.2:
                self.call(
                    "it_key_write_refused",
                    "POST",
                    "/api/clients",
                    "/api/clients",
                    {403},
                    code="forbidden",
                    token=self.ledger.read_key,
                    json_body=body,
                )
                return
            reply = self.call(
                "it_key_write",
                "POST",
                "/api/clients",
                "/api/clients",
                {201},
                token=self.ledger.write_key,
                json_body=body,
            )
            if reply is not None and reply.status == 201:
                with self.ledger.lock:
                    self.ledger.created_by_key.append(str(reply.json()["id"]))

        # -- the client's page and Stripe ----------------------------------------------

        def it_portal(self) -> None:
            total = Decimal(self.rng.randint(100, 90_000)) / 100
            reply = self.call(
                "it_invoice",
                "POST",
                "/api/invoices",
                "/api/invoices",
                {201},
                json_body={
                    "client_id": self.ledger.client_id,
                    "status": "sent",
                    "payment_terms": "net30",
                    "items": [{"description": "integration", "quantity": "1", "rate": str(total)}],
                },
            )
            if reply is None or reply.status != 201:
                return
            invoice = str(reply.json()["id"])
            number = str(reply.json()["invoice_number"])
            reply = self.call(
                "it_link",
                "POST",
                "/api/client-links",
                "/api/client-links",
                {201},
                json_body={"document_type": "invoice", "document_id": invoice},
            )
            if reply is None or reply.status != 201:
                return
            url = str(reply.json()["url"])
            path = url[url.index("/p/") :]
            self.call(
                "it_page_html",
                "GET",
                path,
                "/p/{token}",
                {200},
                public=True,
                headers={"accept": "text/html"},
            )
            reply = self.call(
                "it_page_json",
                "GET",
                path,
                "/p/{token}",
                {200},
                public=True,
                headers={"accept": "application/json"},
            )
            if reply is not None and reply.status == 200:
                shown = reply.json()
                if shown.get("number") != number:
                    self.ledger.mismatch(f"page of {number} shows {shown.get('number')!r}")
            self.pages.append((invoice, path, total))
            self.ledger.count("pages")
            if self.rng.random() < 0.3:
                self.call(
                    "it_page_unknown",
                    "GET",
                    "/p/" + secrets.token_urlsafe(32),
                    "/p/{token}",
                    {404},
                    public=True,
                    headers={"accept": "application/json"},
                )

        def it_stripe(self) -> None:
            if not self.pages:
                return self.it_portal()
            invoice, path, total = self.pages.pop(self.rng.randrange(len(self.pages)))
            reply = self.call(
                "it_pay",
                "POST",
                f"{path}/pay",
                "/p/{token}/pay",
                {200},
                public=True,
                headers={"accept": "application/json"},
                json_body={},
            )
            if reply is None or reply.status != 200:
                return None
            checkout = str(reply.json()["checkout_url"])
            started = time.perf_counter()
            try:
                done = self.client.http.post(
                    checkout + "/complete",
                    params={"deliver": "twice", "order": "reversed"},
                    headers={"accept": "application/json"},
                )
            except httpx.HTTPError as exc:
                self.run.result.record(
                    Call(
                        "it_checkout_complete",
                        "POST",
                        "/checkout/{id}/complete",
                        0,
                        type(exc).__name__,
                        time.perf_counter() - started,
                        started - self.run.t0,
                        False,
                        str(exc)[:200],
                    )
                )
                return None
            ok = done.status_code == 200 and done.json().get("payment_status") == "paid"
            self.run.result.record(
                Call(
                    "it_checkout_complete",
                    "POST",
                    "/checkout/{id}/complete",
                    done.status_code,
                    None,
                    time.perf_counter() - started,
                    started - self.run.t0,
                    ok,
                    "" if ok else done.text[:300],
                )
            )
            if not ok:
                return None
            with self.ledger.lock:
                self.ledger.paid[invoice] = (str(done.json()["payment_intent"]), total)
            reply = self.call(
                "it_page_json",
                "GET",
                path,
                "/p/{token}",
                {200},
                public=True,
                headers={"accept": "application/json"},
            )
            if reply is not None and reply.status == 200:
                shown = reply.json()
                if shown.get("status") != "paid" or Decimal(str(shown.get("balance_due"))) != 0:
                    said = f"{shown.get('status')} {shown.get('balance_due')}"
                    self.ledger.mismatch(f"{invoice} after checkout: {said}")
            return None

        # -- invitations ---------------------------------------------------------------

        def it_invite(self) -> None:
            address = f"invitee-{uuid.uuid4().hex[:10]}@reliability.example"
            role = self.rng.choice(["viewer", "member"])
            reply = self.call(
                "it_invite",
                "POST",
                f"/api/organizations/{self.ledger.org}/invitations",
                "/api/organizations/{id}/invitations",
                {201},
                json_body={"email": address, "role": role},
            )
            if reply is None or reply.status != 201:
                return
            token = _mail_token(address)
            if token is None:
                self.ledger.mismatch(f"no invitation mail to {address}")
                return
            reply = self.call(
                "it_invitee_signup",
                "POST",
                "/api/auth/signup",
                "/api/auth/signup",
                {201},
                public=True,
                json_body={
                    "email": address,
                    "password": "reliability-Pa55!",
                    "first_name": "Invited",
                    "last_name": role,
                },
            )
            if reply is None or reply.status != 201:
                return
            signed = reply.json()
            access = str(signed["session"]["access_token"])
            self.run.result.secret("access_token", access)
            self.run.result.secret("refresh_token", str(signed["session"]["refresh_token"]))
            accept: dict[str, Any] = {
                "token": access,
                "organization": str(signed["organization"]["id"]),
                "json_body": {"token": token},
            }
            reply = self.call(
                "it_accept",
                "POST",
                "/api/invitations/accept",
                "/api/invitations/accept",
                {200},
                **accept,
            )
            if reply is None or reply.status != 200:
                return
            with self.ledger.lock:
                self.ledger.accepted.append((str(signed["user"]["id"]), role))
            if self.rng.random() < 0.3:
                # Accepting twice: a clear refusal, nothing changed.
                self.call(
                    "it_accept",
                    "POST",
                    "/api/invitations/accept",
                    "/api/invitations/accept",
                    {409},
                    **accept,
                )
            self.call(
                "it_invitee_read",
                "GET",
                "/api/invoices",
                "/api/invoices",
                {200},
                token=access,
                organization=self.ledger.org,
            )
            if role == "viewer":
                self.call(
                    "it_invitee_read",
                    "POST",
                    "/api/clients",
                    "/api/clients",
                    {403},
                    token=access,
                    organization=self.ledger.org,
                    json_body={"company_name": "A viewer's"},
                )

        # -- MFA -----------------------------------------------------------------------

        def it_mfa(self) -> None:
            org = self.ledger.mfa_org
            self.call(
                "it_mfa_aal2",
                "GET",
                "/api/clients",
                "/api/clients",
                {200},
                token=self.ledger.mfa_aal2,
                organization=org,
            )
            self.call(
                "it_mfa_aal1_refused",
                "GET",
                "/api/invoices",
                "/api/invoices",
                {403},
                code="mfa_required",
                token=self.ledger.mfa_aal1,
                organization=org,
            )
            reply = self.call(
                "it_mfa_key",
                "GET",
                "/api/clients",
                "/api/clients",
                {200},
                token=self.ledger.mfa_key,
                organization=org,
            )
            if reply is not None and reply.status == 200:
                with self.ledger.lock:
                    seen = self.ledger.seen_by_keys["mfa_clients"]
                    seen.update(str(row["id"]) for row in reply.json()["data"])

        # -- webhooks ------------------------------------------------------------------

        def it_deliveries(self) -> None:
            path = f"/api/webhook-endpoints/{self.ledger.endpoint_id}/deliveries"
            self.call("it_deliveries", "GET", path, "/api/webhook-endpoints/{id}/deliveries", {200})

        def it_dispatch(self) -> None:
            self.call(
                "it_dispatch",
                "POST",
                DISPATCH,
                "/2015-03-31/functions/{name}/invocations",
                {200},
                public=True,
            )

    return IntegrationsWorker


def integrations_workers(
    run: _Run, users: list[User], ledger: IntegrationsLedger, first_index: int
) -> list[Any]:
    cls = _worker_class()
    return [cls(run, first_index + n, user, ledger) for n, user in enumerate(users)]


# =============================================================================
# The invariants
# =============================================================================


def drain_webhooks(stack: LocalStack, ledger: IntegrationsLedger, timeout: float = 120) -> None:
    """The dispatcher invoked until every event of the organization has its delivery and
    every delivery succeeded (the stack's poller runs the worker), or the timeout."""
    started = time.perf_counter()
    rounds = 0
    left: tuple[Any, ...] = ()
    with httpx.Client(base_url=stack.functions_url, timeout=60) as http:
        while time.perf_counter() - started < timeout:
            rounds += 1
            http.post(DISPATCH, json={})
            left = sql(
                stack,
                "select (select count(*) from public.webhook_events e where e.organization_id = %s"
                "        and not exists (select 1 from public.webhook_deliveries d"
                "                        where d.event_id = e.id)),"
                "       (select count(*) from public.webhook_deliveries d"
                "        where d.organization_id = %s and d.status <> 'succeeded')",
                ledger.org,
                ledger.org,
            )[0]
            if left == (0, 0):
                break
            time.sleep(1)
    ledger.drain = {
        "rounds": rounds,
        "seconds": round(time.perf_counter() - started, 1),
        "undelivered_events": left[0] if left else None,
        "unfinished_deliveries": left[1] if left else None,
    }


def check_integrations(stack: LocalStack, result: LoadResult, out: Invariants) -> Invariants:
    """The integrations' invariants (module docstring)."""
    ledger: IntegrationsLedger = result.integrations
    if not ledger.org:
        return out
    if not ledger.drain:
        drain_webhooks(stack, ledger)
    _check_stripe(stack, ledger, out)
    _check_webhooks(stack, ledger, out)
    _check_reads(stack, ledger, out)
    for message in ledger.mismatches[:20]:
        out.check("it_answers_as_expected", False, message)
    return out


def _check_stripe(stack: LocalStack, ledger: IntegrationsLedger, out: Invariants) -> None:
    """One payment per PaymentIntent, each completed checkout paid once."""
    org = ledger.org
    doubled = sql(
        stack,
        "select payment_intent_id, count(*) from public.stripe_payments"
        " where organization_id = %s group by 1 having count(*) > 1",
        org,
    )
    out.check("it_one_stripe_payment_per_intent", not doubled, f"{doubled[:5]}")
    doubled = sql(
        stack,
        "select reference_number, count(*) from public.payments where organization_id = %s"
        " and payment_method = 'credit_card' group by 1 having count(*) > 1",
        org,
    )
    out.check("it_one_payment_per_intent", not doubled, f"{doubled[:5]}")
    for invoice, (intent, total) in ledger.paid.items():
        rows = sql(
            stack,
            "select i.status, i.amount_paid, (select count(*) from public.payments p"
            "  where p.invoice_id = i.id and p.reference_number = %s),"
            " (select count(*) from public.payments p where p.invoice_id = i.id)"
            " from public.invoices i where i.id = %s",
            intent,
            invoice,
        )
        out.check(
            "it_checkout_paid_once",
            rows == [("paid", total, 1, 1)],
            f"{invoice} ({intent}, {total}): {rows}",
        )


def _check_webhooks(stack: LocalStack, ledger: IntegrationsLedger, out: Invariants) -> None:
    """Every event delivered, none duplicated past its event id."""
    org, receiver = ledger.org, ledger.receiver
    events = {
        str(e): (t, str(p))
        for e, t, p in sql(
            stack,
            "select id, type, payload->>'id' from public.webhook_events where organization_id = %s",
            org,
        )
    }
    deliveries = dict(
        sql(
            stack,
            "select event_id::text, status from public.webhook_deliveries"
            " where organization_id = %s and endpoint_id = %s",
            org,
            ledger.endpoint_id,
        )
    )
    per_event = sql(
        stack,
        "select event_id, count(*) from public.webhook_deliveries where organization_id = %s"
        " group by endpoint_id, event_id having count(*) > 1",
        org,
    )
    out.check("it_one_delivery_per_event", not per_event, f"{per_event[:5]}")
    accepted: dict[str, set[str]] = defaultdict(set)  # webhook-id -> bodies
    unverified = 0
    copies: Counter[str] = Counter()
    if receiver is not None:
        with receiver.lock:
            received = list(receiver.received)
        receiver.stop()
        for item in received:
            if not item.verified:
                unverified += 1
                continue
            copies[item.webhook_id] += 1
            accepted[item.webhook_id].add(repr(sorted(item.body.items())))
    out.check("it_signatures_valid", unverified == 0, f"{unverified} unverified deliveries")
    for event_id, (kind, _) in events.items():
        out.check(
            "it_event_delivered",
            deliveries.get(event_id) == "succeeded" and event_id in accepted,
            f"{kind} {event_id}: delivery {deliveries.get(event_id)}, received"
            f" {event_id in accepted}",
        )
    for webhook_id, bodies in accepted.items():
        out.check(
            "it_received_is_an_event_once",
            webhook_id in events and len(bodies) == 1,
            f"{webhook_id}: known {webhook_id in events}, {len(bodies)} different bodies",
        )
    by_subject = Counter((kind, subject) for kind, subject in events.values())
    for client in ledger.created_by_key:
        n = by_subject[("client.created", client)]
        out.check("it_change_emitted_once", n == 1, f"client.created {client}: {n} events")
    for invoice in ledger.paid:
        n = by_subject[("invoice.paid", invoice)]
        out.check("it_paid_emitted_once", n == 1, f"invoice.paid {invoice}: {n} events")
    payments = dict(
        sql(
            stack,
            "select id::text, invoice_id::text from public.payments"
            " where organization_id = %s and invoice_id = any(%s::uuid[])",
            org,
            list(ledger.paid),
        )
    )
    for payment, invoice in payments.items():
        n = by_subject[("payment.recorded", payment)]
        out.check("it_paid_emitted_once", n == 1, f"payment.recorded {payment} ({invoice}): {n}")
    ledger.counts["events"] = len(events)
    ledger.counts["webhook_ids_received"] = len(accepted)
    ledger.counts["redelivered_copies"] = sum(n - 1 for n in copies.values())


def _check_reads(stack: LocalStack, ledger: IntegrationsLedger, out: Invariants) -> None:
    """No cross-tenant read (what each key listed is its organization's); each accepted
    invitation a membership with its role."""
    org = ledger.org
    for kind, table, where in (
        ("clients", "clients", org),
        ("invoices", "invoices", org),
        ("mfa_clients", "clients", ledger.mfa_org),
    ):
        ids = sorted(ledger.seen_by_keys.get(kind, set()))
        if not ids:
            continue
        foreign = sql(
            stack,
            f"select count(*) from unnest(%s::uuid[]) s(id) where not exists"
            f" (select 1 from public.{table} t where t.id = s.id and t.organization_id = %s)",
            ids,
            where,
        )[0][0]
        out.check("it_no_cross_tenant_read", foreign == 0, f"{kind}: {foreign} of {len(ids)}")

    for user_id, role in ledger.accepted:
        got = sql(
            stack,
            "select role::text from public.memberships where organization_id = %s and user_id = %s",
            org,
            user_id,
        )
        out.check("it_invitation_membership", got == [(role,)], f"{user_id}: {got}, not {role}")


def figures(result: LoadResult) -> dict[str, Any]:
    ledger: IntegrationsLedger = result.integrations
    return {
        "clients": len(result.integrations_users),
        "created": dict(sorted(ledger.counts.items())),
        "clients_by_key": len(ledger.created_by_key),
        "checkouts_paid": len(ledger.paid),
        "invitations_accepted": len(ledger.accepted),
        "drain": ledger.drain,
        "answer_mismatches": len(ledger.mismatches),
    }
