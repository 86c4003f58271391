"""Every route of serverless.yml, tried as everyone who must be refused: anonymous,
expired, forged, `alg=none`, escalated and malformed tokens (401); a viewer writing
(403); a stranger from another organization reaching for organization A's ids (404,
with nothing changed) or naming organization A (403). Over both ways in: the handler
in process and HTTP through the API Gateway emulator."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import jwt
import pytest

from devstack.functions import FunctionSpec, http_routes
from tests.api.conftest import Api, World

HTTP = http_routes()  # every route, each as its function reached by it
PUBLIC = {
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    # The refresh token, the reset e-mail's code are the credentials (tests/api/auth/
    # test_sessions.py: reused and unknown tokens, wrong codes, always 202 for recover).
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/recover"),
    ("POST", "/api/auth/recover/complete"),
    # An invitation's preview (tests/api/organizations/test_invitations.py: a wrong token's
    # 404, the rate limit).
    ("GET", "/api/invitations/{token}"),
}
# Without login by design, each with its own matrix: the client page (a link's token,
# tests/api/portal/test_public_matrix.py) and Stripe's webhook (its signature,
# tests/api/stripe).
NO_LOGIN = ("/p/", "/api/webhooks/stripe/")
PROTECTED = [
    s for s in HTTP if (s.method, s.path) not in PUBLIC and not (s.path or "").startswith(NO_LOGIN)
]
# Writes any signed-in user may make for themselves: create an organization, leave one,
# accept an invitation (tests/api/organizations).
OWN_WRITES = {
    ("POST", "/api/organizations"),
    ("POST", "/api/organizations/{id}/leave"),
    ("POST", "/api/invitations/accept"),
}
WRITES = [
    s
    for s in PROTECTED
    if s.method in ("POST", "PUT", "DELETE")
    and s.path
    and (s.method, s.path) not in OWN_WRITES
    and not s.path.startswith(
        ("/api/auth/", "/api/settings/profile", "/api/settings/notifications")
    )
]
WITH_ID = [s for s in PROTECTED if s.path and "{id}" in s.path]


@dataclass
class Targets:
    """Organization A's rows a stranger must never reach."""

    client: str
    invoice: str
    payment: str
    bulk_job: str = ""
    import_batch: str = ""
    purchase_order: str = ""
    vendor: str = ""
    vendor_invoice: str = ""
    exception: str = ""
    recurring_profile: str = ""
    credit_note: str = ""
    refund: str = ""
    quote: str = ""
    webhook_endpoint: str = ""
    webhook_delivery: str = ""
    api_key: str = ""
    client_link: str = ""
    stripe_event: str = ""
    organization: str = ""
    member: str = ""
    invitation: str = ""
    upload: str = ""
    approval_rule: str = ""
    payment_batch: str = ""
    inbound_message: str = ""
    inbound_draft: str = ""
    vendor_credit_note: str = ""

    def fill(self, spec: FunctionSpec) -> str:
        path = spec.path or ""
        for prefix, value in (
            ("/api/invoices/bulk-actions/", self.bulk_job),
            ("/api/reconciliation/imports/", self.import_batch),
            ("/api/reconciliation/purchase-orders/", self.purchase_order),
            ("/api/reconciliation/vendors/", self.vendor),
            ("/api/reconciliation/invoices/", self.vendor_invoice),
            ("/api/reconciliation/exceptions/", self.exception),
            ("/api/clients", self.client),
            ("/api/invoices", self.invoice),
            ("/api/payments", self.payment),
            ("/api/recurring-profiles/", self.recurring_profile),
            ("/api/credit-notes/", self.credit_note),
            ("/api/refunds/", self.refund),
            ("/api/quotes/", self.quote),
            ("/api/webhook-endpoints/", self.webhook_endpoint),
            ("/api/api-keys/", self.api_key),
            ("/api/client-links/", self.client_link),
            ("/api/stripe/events/", self.stripe_event),
            ("/api/organizations/", self.organization),
            ("/api/payables/approvals/", self.vendor_invoice),
            ("/api/payables/approval-rules/", self.approval_rule),
            ("/api/payables/payment-batches/", self.payment_batch),
            ("/api/payables/vendors/", self.vendor),
            ("/api/payables/inbound/messages/", self.inbound_message),
            ("/api/payables/inbound/drafts/", self.inbound_draft),
            ("/api/payables/credit-notes/", self.vendor_credit_note),
            ("/api/uploads/", self.upload),
        ):
            if path.startswith(prefix):
                return (
                    path.replace("{id}", value)
                    .replace("{delivery_id}", self.webhook_delivery)
                    .replace("{user_id}", self.member)
                    .replace("{invitation_id}", self.invitation)
                    .replace("{purchase_order_id}", self.purchase_order)
                )
        return path


@pytest.fixture(scope="module")
def targets(world: World) -> Targets:
    org = world.org_a
    client = world.sql(
        "insert into public.clients (organization_id, company_name, currency, email, notes)"
        " values (%s, 'Matrix target', 'USD', 'target@example.com', 'untouched')"
        " returning id::text",
        org,
    )[0][0]
    invoice = world.sql(
        "insert into public.invoices (organization_id, client_id, currency, due_date, notes)"
        " values (%s, %s, 'USD', current_date + 30, 'untouched') returning id::text",
        org,
        client,
    )[0][0]
    world.sql(
        "insert into public.invoice_items (organization_id, invoice_id, currency, description,"
        " quantity, rate) values (%s, %s, 'USD', 'Work', 2, 50)",
        org,
        invoice,
    )
    world.sql("update public.invoices set status = 'sent' where id = %s", invoice)
    payment = world.sql(
        "insert into public.payments (organization_id, invoice_id, currency, amount, notes)"
        " values (%s, %s, 'USD', 10, 'untouched') returning id::text",
        org,
        invoice,
    )[0][0]
    # A bulk send of organization A (GET /api/invoices/bulk-actions/{id}).
    bulk_job = world.sql(
        "insert into public.bulk_jobs (organization_id, action, total) values (%s, 'send', 1)"
        " returning id::text",
        org,
    )[0][0]
    world.sql(
        "insert into public.bulk_job_items (job_id, organization_id, invoice_id, position)"
        " values (%s, %s, %s, 0)",
        bulk_job,
        org,
        invoice,
    )
    # Reconciliation: an import batch (with a row error) and a purchase order of A.
    import_batch = world.sql(
        "insert into public.import_batches (organization_id, kind, source, status, file_name)"
        " values (%s, 'purchase_orders', 'api', 'completed', 'matrix.csv') returning id::text",
        org,
    )[0][0]
    world.sql(
        "insert into public.import_row_errors (organization_id, import_batch_id, row_number,"
        " message) values (%s, %s, 1, 'matrix row error')",
        org,
        import_batch,
    )
    vendor = world.sql(
        "insert into public.vendors (organization_id, name) values (%s, 'Matrix Vendor')"
        " returning id::text",
        org,
    )[0][0]
    purchase_order = world.sql(
        "insert into public.purchase_orders (organization_id, vendor_id, po_number, currency,"
        " notes) values (%s, %s, 'MATRIX-1', 'USD', 'untouched') returning id::text",
        org,
        vendor,
    )[0][0]
    # Matching: a vendor invoice of A naming no PO of A, matched (a missing_po exception).
    vendor_invoice = world.sql(
        "insert into public.vendor_invoices (organization_id, vendor_id, vendor_name,"
        " invoice_number, invoice_date, po_number, currency, subtotal, total_amount, notes)"
        " values (%s, %s, 'Matrix Vendor', 'MATRIX-INV-1', current_date, 'NO-SUCH-PO', 'USD',"
        " 10, 10, 'untouched') returning id::text",
        org,
        vendor,
    )[0][0]
    world.sql(
        "insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency,"
        " line_number, description, quantity, unit_price, amount)"
        " values (%s, %s, 'USD', 1, 'Matrix work', 1, 10, 10)",
        org,
        vendor_invoice,
    )
    world.sql("select public.match_vendor_invoices(%s, array[%s]::uuid[])", org, vendor_invoice)
    exception = world.sql(
        "select id::text from public.reconciliation_exceptions where vendor_invoice_id = %s",
        vendor_invoice,
    )[0][0]
    # A credit note and a refund of A (their migration's RPCs, as the superuser).
    credit_note = world.sql(
        "select public.create_credit_note(%s, %s, jsonb_build_object('kind', 'amount',"
        " 'amount', 5)) ->> 'id'",
        org,
        invoice,
    )[0][0]
    refund = world.sql(
        "select public.record_refund(%s, jsonb_build_object('payment_id', %s::uuid, 'amount', 1))"
        " ->> 'id'",
        org,
        payment,
    )[0][0]
    # A recurring profile of A (its migration's RPC, as the superuser).
    recurring_profile = world.sql(
        "select public.create_recurring_profile(%s, jsonb_build_object('client_id', %s::uuid,"
        " 'frequency', 'monthly', 'start_date', '2031-01-01', 'notes', 'untouched'),"
        ' \'[{"description": "Work", "quantity": 1, "rate": 5}]\') ->> \'id\'',
        org,
        client,
    )[0][0]
    # A quote of A (its migration's RPC, as the superuser).
    quote = world.sql(
        "select public.create_quote(%s, jsonb_build_object('client_id', %s::uuid,"
        " 'notes', 'untouched'), jsonb_build_array(jsonb_build_object('description', 'Work',"
        " 'quantity', 1, 'rate', 5))) ->> 'id'",
        org,
        client,
    )[0][0]
    # A webhook endpoint of A (disabled: no event of the other tests reaches it), a
    # delivery of it, and an API key of A (their migration's RPCs, as the superuser).
    webhook_endpoint = world.sql(
        "select public.create_webhook_endpoint(%s, 'https://hooks.example.com/matrix',"
        " array['client.created'], 'untouched', false) ->> 'id'",
        org,
    )[0][0]
    event = world.sql(
        "insert into public.webhook_events (organization_id, type, payload)"
        " values (%s, 'client.created', '{}') returning id::text",
        org,
    )[0][0]
    webhook_delivery = world.sql(
        "insert into public.webhook_deliveries (organization_id, endpoint_id, event_id, status)"
        " values (%s, %s, %s, 'failed') returning id::text",
        org,
        webhook_endpoint,
        event,
    )[0][0]
    api_key = world.sql(
        "select public.create_api_key(%s, 'Matrix key', array['read']) ->> 'id'", org
    )[0][0]
    client_link = world.sql(
        "insert into public.client_links (organization_id, document_type, invoice_id,"
        " token_hash, expires_at) values (%s, 'invoice', %s,"
        " encode(extensions.gen_random_bytes(32),"
        " 'hex'), now() + interval '1 day') returning id::text",
        org,
        invoice,
    )[0][0]
    # An invitation of A (the teams migration's table, as the superuser); maria is A's member.
    invitation = world.sql(
        "insert into public.invitations (organization_id, email, role, token_hash, expires_at)"
        " values (%s, 'matrix-invitee@example.com', 'viewer',"
        " encode(extensions.gen_random_bytes(32), 'hex'), now() + interval '1 day')"
        " returning id::text",
        org,
    )[0][0]
    # An upload (a logo) of A, pending (the data protection migration's table).
    upload = world.sql(
        "insert into public.uploads (organization_id, kind, content_type, size_bytes, object_key)"
        " values (%s, 'logo', 'image/png', 10, %s || '/logos/matrix.upload') returning id::text",
        org,
        org,
    )[0][0]
    stripe_event = world.sql(
        "insert into public.stripe_events (organization_id, event_id, type, status)"
        " values (%s, 'evt_matrix_' || replace(gen_random_uuid()::text, '-', ''),"
        " 'payment_intent.succeeded', 'needs_attention') returning id::text",
        org,
    )[0][0]
    # An approval rule and a (draft, empty) payment batch of A (the approvals migration's
    # tables, as the superuser); the matrix's vendor invoice stands for an approval.
    approval_rule = world.sql(
        "insert into public.approval_rules (organization_id, name, priority, steps)"
        " values (%s, 'Matrix rule', 99999, '[{\"approver_role\": \"owner\"}]')"
        " returning id::text",
        org,
    )[0][0]
    payment_batch = world.sql(
        "insert into public.payment_batches (organization_id) values (%s) returning id::text",
        org,
    )[0][0]
    # A quarantined inbound message of A and a draft read from a PDF of another one (the
    # email intake migration's tables, as the superuser).
    inbound_message = world.sql(
        "insert into public.inbound_messages (organization_id, message_id, s3_key, status)"
        " values (%s, '<matrix-' || gen_random_uuid() || '@x.example>', 'inbound/matrix',"
        " 'quarantined') returning id::text",
        org,
    )[0][0]
    imported = world.sql(
        "insert into public.inbound_messages (organization_id, message_id, s3_key, status)"
        " values (%s, '<matrix-' || gen_random_uuid() || '@x.example>', 'inbound/matrix2',"
        " 'imported') returning id::text",
        org,
    )[0][0]
    attachment = world.sql(
        "insert into public.inbound_attachments (organization_id, inbound_message_id, position,"
        " sha256, kind, outcome) values (%s, %s, 1, encode(sha256(gen_random_uuid()::text::bytea),"
        " 'hex'), 'pdf', 'draft') returning id::text",
        org,
        imported,
    )[0][0]
    inbound_draft = world.sql(
        "insert into public.inbound_drafts (organization_id, inbound_message_id,"
        " inbound_attachment_id, vendor_name) values (%s, %s, %s, 'Matrix draft')"
        " returning id::text",
        org,
        imported,
        attachment,
    )[0][0]
    # A vendor credit note of A (migration 20261206171500), as the superuser.
    vendor_credit_note = world.sql(
        "insert into public.vendor_credit_notes (organization_id, vendor_id, vendor_name,"
        " credit_note_number, credit_note_date, currency, subtotal, total_amount)"
        " values (%s, %s, 'Matrix Vendor', 'MATRIX-CN', current_date, 'USD', 5, 5)"
        " returning id::text",
        org,
        vendor,
    )[0][0]
    return Targets(
        vendor_credit_note=vendor_credit_note,
        inbound_message=inbound_message,
        inbound_draft=inbound_draft,
        approval_rule=approval_rule,
        payment_batch=payment_batch,
        stripe_event=stripe_event,
        upload=upload,
        organization=org,
        member=world.people["maria"].id,
        invitation=invitation,
        client_link=client_link,
        webhook_endpoint=webhook_endpoint,
        webhook_delivery=webhook_delivery,
        api_key=api_key,
        quote=quote,
        recurring_profile=recurring_profile,
        credit_note=credit_note,
        refund=refund,
        client=client,
        invoice=invoice,
        payment=payment,
        bulk_job=bulk_job,
        import_batch=import_batch,
        purchase_order=purchase_order,
        vendor=vendor,
        vendor_invoice=vendor_invoice,
        exception=exception,
    )


def _ids(specs: list[FunctionSpec]) -> list[str]:
    return [s.route_key for s in specs]  # a function may serve several routes


def _call(api: Api, spec: FunctionSpec, path: str, **kwargs: Any) -> Any:
    if spec.method in ("POST", "PUT") and "json_body" not in kwargs:
        kwargs["json_body"] = {}
    return api.request(spec.method or "GET", path, **kwargs)


def _token(world: World, secret: str | None = None, **claims: Any) -> str:
    person = world.people["alice"]
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": person.id,
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 3600,
    }
    payload.update(claims)
    return jwt.encode(payload, secret or world.stack.config.keys.jwt_secret, algorithm="HS256")


def _unsigned(world: World) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "sub": world.people["alice"].id,
        "role": "authenticated",
        "aud": "authenticated",
        "exp": now + 3600,
    }
    return part({"alg": "none", "typ": "JWT"}) + "." + part(claims) + "."


BAD_TOKENS = [
    "missing",
    "expired",
    "wrong_key",
    "alg_none",
    "not_yet_valid",
    "no_sub",
    "service_role_wrong_key",
    "anon_key",
    "garbage",
    "wrong_audience",
]


def _bad_token(world: World, kind: str) -> str | None:
    now = int(time.time())
    tokens: dict[str, str | None] = {
        "missing": None,
        "expired": _token(world, exp=now - 60, iat=now - 3660),
        "wrong_key": _token(world, secret="x" * 40),
        "alg_none": _unsigned(world),
        "not_yet_valid": _token(world, nbf=now + 600),
        "no_sub": jwt.encode(
            {"role": "authenticated", "aud": "authenticated", "exp": now + 600},
            world.stack.config.keys.jwt_secret,
            algorithm="HS256",
        ),
        "service_role_wrong_key": _token(world, secret="y" * 40, role="service_role"),
        "anon_key": world.stack.config.keys.anon_key,
        "garbage": "not-a-jwt",
        "wrong_audience": _token(world, aud="somebody-else"),
    }
    return tokens[kind]


@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.parametrize("spec", PROTECTED, ids=_ids(PROTECTED))
def test_refused_tokens_get_401(
    api: Api, world: World, targets: Targets, spec: FunctionSpec, kind: str
) -> None:
    reply = _call(api, spec, targets.fill(spec), token=_bad_token(world, kind))
    assert reply.status == 401, (kind, reply.json())
    expected = {"missing": "missing_token", "expired": "token_expired"}.get(kind, "invalid_token")
    assert reply.error["code"] == expected
    assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("spec", PROTECTED, ids=_ids(PROTECTED))
def test_over_http_anonymous_and_forged_get_401(
    http_api: Api, world: World, targets: Targets, spec: FunctionSpec
) -> None:
    for kind in ("missing", "alg_none", "service_role_wrong_key"):
        reply = _call(http_api, spec, targets.fill(spec), token=_bad_token(world, kind))
        assert reply.status == 401, (kind, reply.json())


@pytest.mark.parametrize("spec", WRITES, ids=_ids(WRITES))
def test_viewer_may_not_write(any_api: Api, targets: Targets, spec: FunctionSpec) -> None:
    reply = _call(any_api, spec, targets.fill(spec), as_="victor")
    assert reply.status == 403, reply.json()
    assert reply.error["code"] == "forbidden"


# Routes about the caller alone (no organization is involved).
PER_USER = ("/api/auth/", "/api/settings/profile", "/api/settings/notifications")
# Routes naming their organization in the path, not X-Organization-Id (a stranger's is 404,
# test_stranger_gets_404_for_organization_a_ids), and the invitations a user accepts.
ORGANIZATION_IN_PATH = ("/api/organizations", "/api/invitations/")
IN_AN_ORGANIZATION = [
    s for s in PROTECTED if not (s.path or "").startswith((*PER_USER, *ORGANIZATION_IN_PATH))
]


@pytest.mark.parametrize("spec", IN_AN_ORGANIZATION, ids=_ids(IN_AN_ORGANIZATION))
def test_stranger_naming_organization_a_is_403(
    api: Api, world: World, targets: Targets, spec: FunctionSpec
) -> None:
    reply = _call(api, spec, targets.fill(spec), as_="bob", org=world.org_a)
    assert reply.status == 403, reply.json()


@pytest.mark.parametrize("spec", WITH_ID, ids=_ids(WITH_ID))
def test_stranger_gets_404_for_organization_a_ids(
    any_api: Api, world: World, targets: Targets, spec: FunctionSpec
) -> None:
    body = {"notes": "written by a stranger"} if spec.method in ("PUT", "PATCH") else None
    if body and (spec.path or "").startswith("/api/webhook-endpoints/"):
        body = {"description": "written by a stranger"}  # endpoints have no notes
    if body and (spec.path or "").startswith("/api/payables/"):
        body = {  # a rule's name, a vendor's account: bodies valid for the route
            "/api/payables/approval-rules/{id}": {"name": "written by a stranger"},
            "/api/payables/vendors/{id}/bank-account": {"iban": "DE89370400440532013000"},
        }[spec.path or ""]
    if body and (spec.path or "").endswith("/match-mode"):
        body = {"match_mode": "two_way"}  # a purchase order's 2-way / 3-way setting
    reply = _call(any_api, spec, targets.fill(spec), as_="bob", json_body=body)
    assert reply.status == 404, reply.json()
    assert reply.error["code"] == "not_found"
    # Nothing of organization A changed or disappeared.
    rows = world.sql(
        "select (select notes from public.clients where id = %s),"
        " (select notes from public.invoices where id = %s),"
        " (select notes from public.payments where id = %s)",
        targets.client,
        targets.invoice,
        targets.payment,
    )
    assert rows == [("untouched", "untouched", "untouched")]


@pytest.mark.parametrize(
    "path",
    [
        "/api/clients",
        "/api/invoices",
        "/api/payments",
        "/api/dashboard/recent-invoices",
        "/api/reconciliation/imports",
        "/api/reconciliation/purchase-orders",
    ],
)
def test_stranger_lists_never_show_organization_a(
    any_api: Api, targets: Targets, path: str
) -> None:
    reply = any_api.get(path, as_="bob")
    assert reply.status == 200, reply.json()
    text = reply.content.decode()
    for secret in (
        targets.client,
        targets.invoice,
        targets.payment,
        "Matrix target",
        targets.import_batch,
        targets.purchase_order,
        "MATRIX-1",
    ):
        assert secret not in text


def test_stranger_cannot_bill_or_pay_organization_a(
    any_api: Api, world: World, targets: Targets
) -> None:
    invoice = any_api.post(
        "/api/invoices",
        as_="bob",
        json_body={
            "client_id": targets.client,
            "due_date": (date.today() + timedelta(days=30)).isoformat(),
            "items": [{"description": "x", "quantity": 1, "rate": 1}],
        },
    )
    assert invoice.status in (404, 422), invoice.json()
    assert invoice.error["code"] in ("not_found", "invalid_reference")
    payment = any_api.post(
        "/api/payments",
        as_="bob",
        json_body={
            "invoice_id": targets.invoice,
            "amount": "1.00",
            "payment_date": (date.today() - timedelta(days=1)).isoformat(),
        },
    )
    assert payment.status == 404, payment.json()
    assert world.sql(
        "select count(*) from public.payments where invoice_id = %s", targets.invoice
    ) == [(1,)]
