"""Security on the whole stack, over HTTP, for every route of serverless.yml (the
delivery and reconciliation ones included): the requests a browser, a script or an
attacker would send to the API Gateway emulator, answered by the real functions,
PostgREST and PostgreSQL.

tests/api/test_security.py runs the same matrix in process (and three token kinds over
HTTP) against the default suite's database; this runs it on the session's stack with
organization A's data made through the API itself, more token kinds (tests/tokens.py:
22, among them a forged ES256 token, the real service-role key, a correctly signed user
token claiming ``role: service_role``, a logged-out session), and measures what a
refusal costs: oversized bodies and deeply nested JSON are refused before any database
call (shown by refusing them while PostgreSQL is down) and within a time bound.

Public routes: POST /api/auth/signup and /api/auth/login take no token (docs/api.md);
a bad Authorization header there changes nothing. Refresh, recovery and an invitation's
preview take their own credential, and the client page and Stripe's webhook have their
own matrices (tests/api/portal, tests/api/stripe; fuzzed anonymously by test_fuzz.py), as
tests/api/test_security.py has them. The routes of issues 13 to 20 get organization A's
rows from their migrations' functions (`_later_rows`).

Bounds (environment variables; defaults in brackets):
  RELIABILITY_SECURITY_REFUSAL_MS     median time of one oversized/nested refusal [50]
  RELIABILITY_SECURITY_BIG_MB         size of the multi-megabyte body [5]
  RELIABILITY_SECURITY_BIG_MS         median time of refusing it [250]
  RELIABILITY_SECURITY_NESTING        levels of the nested JSON [10000]
Figures go to bench/out/reliability/security.json (record("security", ...)).
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from devstack.functions import ROOT, FunctionSpec, http_routes
from devstack.local import LocalStack
from reliability.conftest import Client, Reply, User, record, sql
from tests.tokens import Refused, refused_tokens

REFUSAL_MS = float(os.environ.get("RELIABILITY_SECURITY_REFUSAL_MS", "50"))
BIG_MB = float(os.environ.get("RELIABILITY_SECURITY_BIG_MB", "5"))
BIG_MS = float(os.environ.get("RELIABILITY_SECURITY_BIG_MS", "250"))
NESTING = int(os.environ.get("RELIABILITY_SECURITY_NESTING", "10000"))

HTTP = http_routes()  # every route, each as its function reached by it
# Sign-up and login take credentials, not a token (a bad Authorization header changes
# nothing: test_public_routes_ignore_a_bad_authorization_header).
CREDENTIALS = {("POST", "/api/auth/signup"), ("POST", "/api/auth/login")}
# Routes without a token, as tests/api/test_security.py has them: the refresh token and
# the reset code are the credentials, an invitation's preview its token; the client's page
# and Stripe's webhook have matrices of their own (tests/api/portal, tests/api/stripe) and
# are fuzzed anonymously (test_fuzz.py: only 4xx, nothing of the organization).
PUBLIC = CREDENTIALS | {
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/recover"),
    ("POST", "/api/auth/recover/complete"),
    ("GET", "/api/invitations/{token}"),
}
NO_LOGIN = ("/p/", "/api/webhooks/stripe/")
PROTECTED = [
    s for s in HTTP if (s.method, s.path) not in PUBLIC and not (s.path or "").startswith(NO_LOGIN)
]
PER_USER = ("/api/auth/", "/api/settings/profile", "/api/settings/notifications")
# Routes naming their organization in the path (a stranger's is 404, not 403), and the
# invitations a user accepts for themselves.
ORGANIZATION_IN_PATH = ("/api/organizations", "/api/invitations/")
IN_AN_ORGANIZATION = [
    s for s in PROTECTED if not (s.path or "").startswith((*PER_USER, *ORGANIZATION_IN_PATH))
]
# Writes anyone signed in makes for themselves: create an organization, leave one, accept.
OWN_WRITES = {
    ("POST", "/api/organizations"),
    ("POST", "/api/organizations/{id}/leave"),
    ("POST", "/api/invitations/accept"),
}
WRITES = [
    s
    for s in PROTECTED
    if s.method in ("POST", "PUT", "PATCH", "DELETE")
    and (s.method, s.path) not in OWN_WRITES
    and not (s.path or "").startswith(PER_USER)
]
WITH_ID = [s for s in PROTECTED if "{id}" in (s.path or "")]
WITH_BODY = [s for s in HTTP if s.method in ("POST", "PUT")]
# The JSON import routes have a limit of their own in serverless.yml (MAX_BODY_BYTES).
OWN_LIMIT = [s for s in WITH_BODY if "MAX_BODY_BYTES" in dict(s.environment)]
DEFAULT_LIMIT = [s for s in WITH_BODY if s not in OWN_LIMIT]
# The routes that read a JSON body (POST /api/auth/logout takes none and ignores one). A
# route of serverless.yml the document does not have yet (docs/openapi.json is regenerated
# after a route's commit; tests/api keeps them in step) is left out until it has it: its
# absence made the whole suite stop at collection (KeyError).
_OPENAPI = json.loads((ROOT / "docs" / "openapi.json").read_text())
JSON_BODY = [
    s
    for s in WITH_BODY
    if "requestBody" in _OPENAPI["paths"].get(s.path or "", {}).get((s.method or "").lower(), {})
]

FIGURES: dict[str, Any] = {"refusals": Counter(), "token_refusal_seconds": []}


def _ids(specs: list[FunctionSpec]) -> list[str]:
    return [s.route_key for s in specs]  # a function may serve several routes


@pytest.fixture(scope="module", autouse=True)
def _record_figures() -> Iterator[None]:
    yield
    figures = dict(FIGURES)
    figures["refusals"] = dict(sorted(FIGURES["refusals"].items()))
    seconds = sorted(figures.pop("token_refusal_seconds"))
    if seconds:
        figures["token_refusal_ms"] = {
            "requests": len(seconds),
            "median": round(statistics.median(seconds) * 1000, 2),
            "p95": round(seconds[int(len(seconds) * 0.95) - 1] * 1000, 2),
            "max": round(seconds[-1] * 1000, 2),
        }
    record("security", {"routes": len(HTTP), "protected": len(PROTECTED), **figures})


# =============================================================================
# Organization A, a stranger, a viewer
# =============================================================================


@dataclass
class World:
    stack: LocalStack
    alice: Client  # owner of organization A
    bob: Client  # a stranger: his own organization only
    victor: Client  # a viewer of organization A (and owner of his own)
    logged_out: str  # the access token of a session that has ended
    ids: dict[str, str]  # organization A's rows, by kind
    anonymous: Client  # nobody signed in: the headers are the test's

    @property
    def org_a(self) -> str:
        assert self.alice.user is not None
        return self.alice.user.organization_id

    def path(self, spec: FunctionSpec) -> str:
        """The route's path with organization A's id of the right kind."""
        path = spec.path or ""
        for prefix, kind in (
            ("/api/invoices/bulk-actions/", "bulk_job"),
            ("/api/reconciliation/imports/", "import_batch"),
            ("/api/reconciliation/purchase-orders/", "purchase_order"),
            ("/api/reconciliation/vendors/", "vendor"),
            ("/api/reconciliation/invoices/", "vendor_invoice"),
            ("/api/reconciliation/exceptions/", "exception"),
            ("/api/clients/", "client"),
            ("/api/invoices/", "invoice"),
            ("/api/payments/", "payment"),
            ("/api/recurring-profiles/", "recurring_profile"),
            ("/api/credit-notes/", "credit_note"),
            ("/api/refunds/", "refund"),
            ("/api/quotes/", "quote"),
            ("/api/webhook-endpoints/", "webhook_endpoint"),
            ("/api/api-keys/", "api_key"),
            ("/api/client-links/", "client_link"),
            ("/api/stripe/events/", "stripe_event"),
            ("/api/organizations/", "organization"),
            ("/api/payables/approvals/", "vendor_invoice"),
            ("/api/payables/approval-rules/", "approval_rule"),
            ("/api/payables/payment-batches/", "payment_batch"),
            ("/api/payables/credit-notes/", "vendor_credit_note"),
            ("/api/payables/vendors/", "vendor"),
            ("/api/uploads/", "upload"),
            ("/api/auth/mfa/factors/", "factor"),
            ("/api/payables/inbound/messages/", "inbound_message"),
            ("/api/payables/inbound/drafts/", "inbound_draft"),
        ):
            if path.startswith(prefix):
                return (
                    path.replace("{id}", self.ids[kind])
                    .replace("{delivery_id}", self.ids["webhook_delivery"])
                    .replace("{user_id}", self.ids["member"])
                    .replace("{invitation_id}", self.ids["invitation"])
                    .replace("{purchase_order_id}", self.ids["purchase_order"])
                )
        assert "{id}" not in path, f"no organization A id for {path}"
        return path

    def snapshot(self) -> list[tuple[Any, ...]]:
        """What a stranger or a viewer must not change in organization A."""
        with psycopg.connect(self.stack.cluster.url, autocommit=True) as conn:
            return conn.execute(
                "select"
                " (select notes from public.clients where id = %(client)s),"
                " (select (status, notes, total_amount, amount_paid)::text from public.invoices"
                "   where id = %(invoice)s),"
                " (select (amount, notes)::text from public.payments where id = %(payment)s),"
                " (select (name, status)::text from public.vendors where id = %(vendor)s),"
                " (select (status, notes)::text from public.purchase_orders"
                "   where id = %(purchase_order)s),"
                " (select (status, notes)::text from public.vendor_invoices"
                "   where id = %(vendor_invoice)s),"
                " (select status from public.reconciliation_exceptions where id = %(exception)s),"
                " (select count(*) from public.invoice_sends where organization_id = %(org)s),"
                " (select count(*) from public.clients where organization_id = %(org)s),"
                " (select count(*) from public.invoices where organization_id = %(org)s),"
                " (select count(*) from public.payments where organization_id = %(org)s),"
                " (select count(*) from public.vendor_aliases where organization_id = %(org)s),"
                " (select row_to_json(s)::text from public.organization_settings s"
                "   where organization_id = %(org)s)",
                {**self.ids, "org": self.org_a},
            ).fetchall()


def _created(reply: Reply, status: int = 201) -> Any:
    assert reply.status == status, reply.content
    return reply.json()


def _organization_a(alice: Client) -> dict[str, str]:
    """Organization A's rows, each made through the API."""
    client = _created(
        alice.request(
            "POST",
            "/api/clients",
            json_body={
                "company_name": "Matrix target",
                "email": f"target-{uuid.uuid4().hex[:6]}@customer.example",
                "notes": "untouched",
                "currency": "USD",
            },
        )
    )
    invoice = _created(
        alice.request(
            "POST",
            "/api/invoices",
            json_body={
                "client_id": client["id"],
                "status": "sent",
                "tax_rate": "0",
                "notes": "untouched",
                "items": [{"description": "Work", "quantity": "2", "rate": "50.00"}],
            },
        )
    )
    payment = _created(
        alice.request(
            "POST",
            "/api/payments",
            json_body={"invoice_id": invoice["id"], "amount": "10.00", "notes": "untouched"},
        )
    )
    bulk = _created(
        alice.request(
            "POST",
            "/api/invoices/bulk-actions",
            json_body={"action": "send", "ids": [invoice["id"]]},
        ),
        200,
    )
    orders = _created(
        alice.request(
            "POST",
            "/api/reconciliation/purchase-orders",
            json_body={
                "purchase_orders": [
                    {
                        "po_number": "MATRIX-1",
                        "vendor_name": "Matrix Vendor",
                        "currency": "USD",
                        "notes": "untouched",
                        "lines": [{"description": "Matrix work", "quantity": 1, "unit_price": 10}],
                    }
                ]
            },
        )
    )
    bills = _created(
        alice.request(
            "POST",
            "/api/reconciliation/invoices",
            json_body={
                "invoices": [
                    {
                        "vendor_name": "Matrix Vendor",
                        "invoice_number": "MATRIX-INV-1",
                        "invoice_date": "2026-11-30",
                        "po_number": "NO-SUCH-PO",
                        "currency": "USD",
                        "notes": "untouched",
                        "lines": [{"description": "Matrix work", "quantity": 1, "unit_price": 10}],
                    }
                ]
            },
        )
    )
    org = alice.user.organization_id if alice.user else ""
    vendor, purchase_order = sql(
        alice.stack,
        "select vendor_id::text, id::text from public.purchase_orders"
        " where organization_id = %s and po_number = 'MATRIX-1'",
        org,
    )[0]
    vendor_invoice = str(bills["accepted"][0]["id"])
    exception = sql(
        alice.stack,
        "select id::text from public.reconciliation_exceptions where vendor_invoice_id = %s",
        vendor_invoice,
    )[0][0]
    return {
        "client": str(client["id"]),
        "invoice": str(invoice["id"]),
        "payment": str(payment["id"]),
        "bulk_job": str(bulk["job_id"]),
        "import_batch": str(orders["batch"]["id"]),
        "purchase_order": purchase_order,
        "vendor": vendor,
        "vendor_invoice": vendor_invoice,
        "exception": exception,
        **_later_rows(alice.stack, org, str(client["id"]), str(invoice["id"]), str(payment["id"])),
    }


def _later_rows(
    stack: LocalStack, org: str, client: str, invoice: str, payment: str
) -> dict[str, str]:
    """Organization A's rows of the routes of issues 13 to 20, made by their migrations'
    functions and tables as the superuser (as tests/api/test_security.py makes them)."""

    def one(query: str, *params: Any) -> str:
        return str(sql(stack, query, *params)[0][0])

    endpoint = one(
        "select public.create_webhook_endpoint(%s, 'https://hooks.example.com/matrix',"
        " array['client.created'], 'untouched', false) ->> 'id'",
        org,
    )
    event = one(
        "insert into public.webhook_events (organization_id, type, payload)"
        " values (%s, 'client.created', '{}') returning id::text",
        org,
    )
    return {
        "credit_note": one(
            "select public.create_credit_note(%s, %s, jsonb_build_object('kind', 'amount',"
            " 'amount', 5)) ->> 'id'",
            org,
            invoice,
        ),
        "refund": one(
            "select public.record_refund(%s, jsonb_build_object('payment_id', %s::uuid,"
            " 'amount', 1)) ->> 'id'",
            org,
            payment,
        ),
        "recurring_profile": one(
            "select public.create_recurring_profile(%s, jsonb_build_object('client_id',"
            " %s::uuid, 'frequency', 'monthly', 'start_date', (current_date + 400)::text,"
            " 'notes', 'untouched'),"
            ' \'[{"description": "Work", "quantity": 1, "rate": 5}]\') ->> \'id\'',
            org,
            client,
        ),
        "quote": one(
            "select public.create_quote(%s, jsonb_build_object('client_id', %s::uuid,"
            " 'notes', 'untouched'), jsonb_build_array(jsonb_build_object('description',"
            " 'Work', 'quantity', 1, 'rate', 5))) ->> 'id'",
            org,
            client,
        ),
        "webhook_endpoint": endpoint,
        "webhook_delivery": one(
            "insert into public.webhook_deliveries (organization_id, endpoint_id, event_id,"
            " status) values (%s, %s, %s, 'failed') returning id::text",
            org,
            endpoint,
            event,
        ),
        "api_key": one(
            "select public.create_api_key(%s, 'Matrix key', array['read']) ->> 'id'", org
        ),
        "client_link": one(
            "insert into public.client_links (organization_id, document_type, invoice_id,"
            " token_hash, expires_at) values (%s, 'invoice', %s,"
            " encode(extensions.gen_random_bytes(32), 'hex'), now() + interval '1 day')"
            " returning id::text",
            org,
            invoice,
        ),
        "invitation": one(
            "insert into public.invitations (organization_id, email, role, token_hash,"
            " expires_at) values (%s, 'matrix-invitee@example.com', 'viewer',"
            " encode(extensions.gen_random_bytes(32), 'hex'), now() + interval '1 day')"
            " returning id::text",
            org,
        ),
        "upload": one(
            "insert into public.uploads (organization_id, kind, content_type, size_bytes,"
            " object_key) values (%s, 'logo', 'image/png', 10, %s || '/logos/matrix.upload')"
            " returning id::text",
            org,
            org,
        ),
        "stripe_event": one(
            "insert into public.stripe_events (organization_id, event_id, type, status)"
            " values (%s, 'evt_matrix_' || replace(gen_random_uuid()::text, '-', ''),"
            " 'payment_intent.succeeded', 'needs_attention') returning id::text",
            org,
        ),
        "approval_rule": one(
            "insert into public.approval_rules (organization_id, name, priority, steps)"
            " values (%s, 'Matrix rule', 99999, '[{\"approver_role\": \"owner\"}]')"
            " returning id::text",
            org,
        ),
        "payment_batch": one(
            "insert into public.payment_batches (organization_id) values (%s) returning id::text",
            org,
        ),
        "vendor_credit_note": one(
            "insert into public.vendor_credit_notes (organization_id, vendor_name,"
            " credit_note_number, credit_note_date, currency, subtotal, total_amount)"
            " values (%s, 'Matrix Vendor', 'MCN-' || left(gen_random_uuid()::text, 8),"
            " current_date, 'EUR', 10, 10) returning id::text",
            org,
        ),
        "organization": org,
        **_inbound_rows(stack, org),
    }


def _inbound_rows(stack: LocalStack, org: str) -> dict[str, str]:
    """A quarantined inbound message of organization A, and a draft read from a PDF of
    another message (the email intake migration's tables, as the superuser)."""

    def one(query: str, *params: Any) -> str:
        return str(sql(stack, query, *params)[0][0])

    message = one(
        "insert into public.inbound_messages (organization_id, message_id, s3_key, status)"
        " values (%s, '<matrix-' || gen_random_uuid() || '@x.example>', 'inbound/matrix',"
        " 'quarantined') returning id::text",
        org,
    )
    imported = one(
        "insert into public.inbound_messages (organization_id, message_id, s3_key, status)"
        " values (%s, '<matrix-' || gen_random_uuid() || '@x.example>', 'inbound/matrix2',"
        " 'imported') returning id::text",
        org,
    )
    attachment = one(
        "insert into public.inbound_attachments (organization_id, inbound_message_id, position,"
        " sha256, kind, outcome) values (%s, %s, 1, encode(sha256(gen_random_uuid()::text::bytea),"
        " 'hex'), 'pdf', 'draft') returning id::text",
        org,
        imported,
    )
    draft = one(
        "insert into public.inbound_drafts (organization_id, inbound_message_id,"
        " inbound_attachment_id, vendor_name) values (%s, %s, %s, 'Matrix draft')"
        " returning id::text",
        org,
        imported,
        attachment,
    )
    return {"inbound_message": message, "inbound_draft": draft}


@pytest.fixture(scope="module")
def world(stack: LocalStack) -> Iterator[World]:
    alice, bob, victor, leaving = (Client(stack) for _ in range(4))
    alice.sign_up("alice")
    bob.sign_up("bob")
    victor.sign_up("victor")
    gone = leaving.sign_up("leaving")
    assert leaving.request("POST", "/api/auth/logout").status == 204
    assert alice.user is not None
    assert victor.user is not None
    sql(
        stack,
        "insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'viewer')",
        alice.user.organization_id,
        victor.user.user_id,
    )
    ids = _organization_a(alice)
    ids["member"] = victor.user.user_id  # a member (the viewer) of A, for /members/{user_id}
    # Alice's TOTP factor (enrolled, not verified): another person's factor id.
    ids["factor"] = str(
        _created(
            alice.request("POST", "/api/auth/mfa/enroll", json_body={"friendly_name": "matrix"})
        )["id"]
    )
    anonymous = Client(stack)
    yield World(stack, alice, bob, victor, gone.access_token, ids, anonymous)
    for c in (alice, bob, victor, leaving, anonymous):
        c.close()


# Bodies valid for their route where a generic one is not (so that the refusal, not the
# body's validation, answers).
BODIES: dict[str, Any] = {
    "/api/reconciliation/purchase-orders/{id}/match-mode": {"match_mode": "two_way"},
    "/api/webhook-endpoints/{id}": {"description": "written by someone who may not"},
    "/api/payables/approval-rules/{id}": {"name": "written by someone who may not"},
    "/api/payables/vendors/{id}/bank-account": {"iban": "DE89370400440532013000"},
}


def _body(spec: FunctionSpec) -> Any:
    if spec.method in ("PUT", "PATCH"):
        return BODIES.get(spec.path or "", {"notes": "written by someone who may not"})
    return {} if spec.method == "POST" else None


def _raw(world: World, spec: FunctionSpec, authorization: str | None, **kw: Any) -> Reply:
    """The route called with exactly this Authorization header (or none)."""
    headers = {"authorization": authorization} if authorization is not None else {}
    headers.update(kw.pop("headers", {}))
    return world.anonymous.request(
        spec.method or "GET", world.path(spec), json_body=_body(spec), headers=headers, **kw
    )


# =============================================================================
# Tokens
# =============================================================================


@pytest.fixture(scope="module")
def bad_tokens(world: World) -> dict[str, Refused]:
    assert world.alice.user is not None
    keys = world.stack.config.keys
    tokens = refused_tokens(
        world.alice.user.user_id, keys.jwt_secret, keys.anon_key, keys.service_role_key
    )
    tokens["session_ended"] = Refused(f"Bearer {world.logged_out}", "session_ended")
    return tokens


@pytest.mark.parametrize("spec", PROTECTED, ids=_ids(PROTECTED))
def test_every_refused_token_is_a_401_on_every_route(
    world: World, bad_tokens: dict[str, Refused], spec: FunctionSpec
) -> None:
    before = world.snapshot()
    wrong = []
    for kind, token in bad_tokens.items():
        reply = _raw(world, spec, token.header)
        if kind == "session_ended" and spec.route_key == "POST /api/auth/logout":
            # "A session already ended is still 204" (docs/api.md): signed out, as asked.
            assert reply.status == 204, reply.content
            continue
        body = reply.json() if reply.content else None
        code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
        if (reply.status, code) != (401, token.code) or reply.headers.get(
            "www-authenticate"
        ) != "Bearer":
            wrong.append((kind, reply.status, reply.content[:160]))
        FIGURES["refusals"][kind] += 1
        FIGURES["token_refusal_seconds"].append(reply.seconds)
    assert wrong == [], wrong
    assert world.snapshot() == before, "a refused request changed organization A"


@pytest.mark.parametrize("spec", sorted(CREDENTIALS), ids=lambda s: s[1].rsplit("/", 1)[-1])
def test_public_routes_ignore_a_bad_authorization_header(
    world: World, bad_tokens: dict[str, Refused], spec: tuple[str, str]
) -> None:
    assert world.alice.user is not None
    route = next(s for s in HTTP if (s.method, s.path) == spec)
    for kind in ("alg_none", "service_role_key", "garbage"):
        body: dict[str, Any] = {"email": world.alice.user.email, "password": "reliability-Pa55!"}
        if spec[1].endswith("signup"):
            body = {
                **body,
                "email": f"public-{uuid.uuid4().hex[:8]}@reliability.example",
                "first_name": "Public",
                "last_name": kind,
            }
        anonymous = Client(world.stack)
        try:
            reply = anonymous.request(
                "POST",
                route.path or "",
                json_body=body,
                headers={"authorization": bad_tokens[kind].header or ""},
            )
        finally:
            anonymous.close()
        assert reply.status in (200, 201), (kind, reply.content[:200])


# =============================================================================
# Organizations and roles
# =============================================================================


@pytest.mark.parametrize("spec", IN_AN_ORGANIZATION, ids=_ids(IN_AN_ORGANIZATION))
def test_a_stranger_naming_organization_a_or_none_is_refused(
    world: World, spec: FunctionSpec
) -> None:
    before = world.snapshot()
    reply = world.bob.request(
        spec.method or "GET", world.path(spec), json_body=_body(spec), organization=world.org_a
    )
    assert reply.status == 403, reply.content
    assert reply.json()["error"]["code"] == "forbidden"
    # An organization that does not exist is the same 403 (never which); a header that
    # is no organization id, or two of them, a 400.
    for header, status, code in (
        (str(uuid.uuid4()), 403, "forbidden"),
        ("not-an-id", 400, "invalid_organization"),
        (
            f"{world.org_a}, {world.bob.user.organization_id if world.bob.user else ''}",
            400,
            "invalid_organization",
        ),
    ):
        other = world.bob.request(
            spec.method or "GET", world.path(spec), json_body=_body(spec), organization=header
        )
        assert (other.status, other.json()["error"]["code"]) == (status, code), other.content
    assert world.snapshot() == before


@pytest.mark.parametrize("spec", WITH_ID, ids=_ids(WITH_ID))
def test_a_stranger_gets_404_for_organization_a_ids(world: World, spec: FunctionSpec) -> None:
    before = world.snapshot()
    reply = world.bob.request(spec.method or "GET", world.path(spec), json_body=_body(spec))
    assert reply.status == 404, reply.content
    assert reply.json()["error"]["code"] == "not_found"
    text = reply.content.decode()
    assert "Matrix" not in text
    assert "untouched" not in text
    assert world.snapshot() == before


@pytest.mark.parametrize("spec", WRITES, ids=_ids(WRITES))
def test_a_viewer_may_not_write(world: World, spec: FunctionSpec) -> None:
    before = world.snapshot()
    reply = world.victor.request(
        spec.method or "GET", world.path(spec), json_body=_body(spec), organization=world.org_a
    )
    assert reply.status == 403, reply.content
    assert reply.json()["error"]["code"] == "forbidden"
    assert world.snapshot() == before


# =============================================================================
# Oversized bodies and deep nesting: refused cheaply, before any database call
# =============================================================================


def _limit(spec: FunctionSpec | None = None) -> int:
    own = dict(spec.environment).get("MAX_BODY_BYTES") if spec is not None else None
    return int(own or os.environ.get("MAX_BODY_BYTES", "1000000"))


def _over(limit: int) -> bytes:
    """A JSON body one byte over ``limit``."""
    prefix = b'{"notes": "'
    return prefix + b"n" * (limit + 1 - len(prefix) - 2) + b'"}'


def _bodies() -> dict[str, tuple[bytes, int, str, list[FunctionSpec]]]:
    """name -> (body, expected status, expected code, the routes it goes to)."""
    prefix = b'{"notes": "'
    own_limits = {_limit(s) for s in OWN_LIMIT}
    assert len(own_limits) <= 1, own_limits
    return {
        "one_byte_over": (_over(_limit()), 413, "payload_too_large", DEFAULT_LIMIT),
        "multi_megabyte": (
            prefix + b"n" * int(BIG_MB * 1_000_000) + b'"}',
            413,
            "payload_too_large",
            DEFAULT_LIMIT,
        ),
        **(
            {
                "one_byte_over_own_limit": (
                    _over(own_limits.pop()),
                    413,
                    "payload_too_large",
                    OWN_LIMIT,
                )
            }
            if OWN_LIMIT
            else {}
        ),
        "nested_arrays": (
            b'{"notes": ' + b"[" * NESTING + b"]" * NESTING + b"}",
            400,
            "malformed_json",
            JSON_BODY,
        ),
        "nested_objects": (
            b'{"notes": ' + b'{"a": ' * NESTING + b"1" + b"}" * NESTING + b"}",
            400,
            "malformed_json",
            JSON_BODY,
        ),
    }


def _refusals(world: World, user: User) -> dict[str, list[Reply]]:
    """Every body of ``_bodies`` sent to every route that takes one, as a signed-in
    member of organization A."""
    out: dict[str, list[Reply]] = {}
    caller = Client(world.stack, user)
    try:
        for name, (body, _, _, routes) in _bodies().items():
            out[name] = [
                caller.request(
                    spec.method or "POST",
                    world.path(spec),
                    content=body,
                    headers={"content-type": "application/json"},
                )
                for spec in routes
            ]
    finally:
        caller.close()
    return out


def _check(replies: dict[str, list[Reply]]) -> dict[str, dict[str, float]]:
    timings = {}
    for name, (_, status, code, routes) in _bodies().items():
        wrong = [
            (spec.name, r.status, r.content[:120])
            for spec, r in zip(routes, replies[name], strict=True)
            if (r.status, (r.json() or {}).get("error", {}).get("code")) != (status, code)
        ]
        assert wrong == [], (name, wrong)
        ms = sorted(r.seconds * 1000 for r in replies[name])
        timings[name] = {
            "median_ms": round(statistics.median(ms), 2),
            "max_ms": round(ms[-1], 2),
            "requests": len(ms),
        }
    return timings


def test_oversized_and_nested_bodies_are_refused_cheaply(world: World) -> None:
    assert world.alice.user is not None
    before = world.snapshot()
    timings = _check(_refusals(world, world.alice.user))
    bound = {"multi_megabyte": BIG_MS, "one_byte_over_own_limit": BIG_MS}
    for name, figures in timings.items():
        assert figures["median_ms"] < bound.get(name, REFUSAL_MS), (name, figures)
    assert world.snapshot() == before
    FIGURES["body_refusals"] = {
        "limit_bytes": _limit(),
        "big_bytes": int(BIG_MB * 1_000_000),
        "nesting": NESTING,
        "routes_with_a_body": len(WITH_BODY),
        "routes_with_their_own_limit": {s.name: _limit(s) for s in OWN_LIMIT},
        "routes_reading_json": len(JSON_BODY),
        **timings,
    }


def test_they_are_refused_with_the_database_down(
    world: World, bad_tokens: dict[str, Refused]
) -> None:
    """With PostgreSQL stopped, a request that reaches the database is a 503: these are
    still 413 and 400, and the refused tokens still 401, so they never needed it (but a
    logged-out session, which only the database knows of)."""
    assert world.alice.user is not None
    caller = Client(world.stack, world.alice.user)
    sample = [
        s
        for s in PROTECTED
        if s.route_key in ("GET /api/clients", "POST /api/invoices", "POST /api/invoices/{id}/send")
    ]
    world.stack.cluster.stop()
    try:
        control = caller.request("GET", "/api/clients")
        assert control.status == 503, control.content  # the database is away
        started = time.perf_counter()
        replies = _refusals(world, world.alice.user)
        elapsed = time.perf_counter() - started
        tokens = {
            (spec.name, kind): _raw(world, spec, token.header)
            for spec in sample
            for kind, token in bad_tokens.items()
            if kind != "session_ended"
        }
    finally:
        world.stack.cluster.start()
        caller.close()
    _check(replies)
    assert {k: r.status for k, r in tokens.items() if r.status != 401} == {}
    FIGURES["refused_with_database_down"] = {
        "requests": sum(len(r) for r in replies.values()),
        "seconds": round(elapsed, 2),
    }
    # And the stack serves again, REST and Auth alike (a connection each pool held when
    # PostgreSQL went away answers one retryable 503, as PostgREST's does), before the
    # session's next tests.
    assert world.bob.user is not None
    deadline = time.monotonic() + 30
    while True:
        again = world.alice.request("GET", "/api/clients")
        login = world.anonymous.request(
            "POST",
            "/api/auth/login",
            json_body={"email": world.bob.user.email, "password": "reliability-Pa55!"},
        )
        if (again.status, login.status) == (200, 200) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (again.status, login.status) == (200, 200), (again.content, login.content)


def test_a_chunked_body_over_the_limit_is_refused(world: World) -> None:
    """No Content-Length (Transfer-Encoding: chunked): the body itself is counted."""
    assert world.alice.user is not None

    def chunks() -> Iterator[bytes]:
        yield b'{"company_name": "Chunked", "notes": "'
        for _ in range(int(BIG_MB * 10)):
            yield b"n" * 100_000
        yield b'"}'

    before = world.snapshot()
    caller = Client(world.stack, world.alice.user)
    try:
        started = time.perf_counter()
        reply = caller.http.post(
            "/api/clients",
            content=chunks(),
            headers={
                "authorization": f"Bearer {world.alice.user.access_token}",
                "content-type": "application/json",
            },
        )
        seconds = time.perf_counter() - started
    finally:
        caller.close()
    assert reply.status_code == 413, reply.text
    assert json.loads(reply.content)["error"]["code"] == "payload_too_large"
    assert world.snapshot() == before
    FIGURES["chunked_refusal_ms"] = round(seconds * 1000, 1)
