"""Invoices in by email (docs/payables.md, "Invoices in by email"): raw messages dropped
into the inbound bucket as SES stores them, delivered to the mail worker by the bucket's
notification, and the routes that show, release and confirm what arrived."""

from __future__ import annotations

import uuid
from typing import Any

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from shared.payables import email_intake
from tests.api.conftest import Api, World
from tests.api.email_intake.helpers import (
    address,
    by_message_id,
    deliver,
    drop,
    image_pdf,
    invoices_csv,
    message,
    messages,
    text_pdf,
)


def fresh(world: World) -> str:
    name = f"mail-{uuid.uuid4().hex[:8]}"
    world.add_person(name)
    return name


def send(api: Api, aws: Provisioned, host: FunctionHost, who: str, **parts: Any) -> dict[str, Any]:
    """A message to ``who``'s organization, delivered; its stored view."""
    mid = parts.pop("message_id", None) or f"<{uuid.uuid4().hex}@vendor.example>"
    raw = message(to=parts.pop("to", None) or address(api, who), message_id=mid, **parts)
    drop(aws, raw)
    assert deliver(host, aws) == []
    return by_message_id(api, who, mid)


def allow(api: Api, who: str, *senders: str) -> None:
    reply = api.put(
        "/api/payables/inbound/settings", as_=who, json_body={"allowed_senders": list(senders)}
    )
    assert reply.status == 200, reply.json()


def vendor_invoices(api: Api, who: str, q: str) -> list[dict[str, Any]]:
    reply = api.get("/api/reconciliation/invoices", as_=who, query={"q": q})
    assert reply.status == 200, reply.json()
    found: list[dict[str, Any]] = reply.json()["data"]
    return found


# ---------------------------------------------------------------------------------------
# The address and its settings


def test_each_organization_has_its_own_token_address(api: Api, world: World) -> None:
    a, b = fresh(world), fresh(world)
    first, second = address(api, a), address(api, b)
    assert first != second
    for found in (first, second):
        local, _, domain = found.partition("@")
        assert domain == "inbound.invoiceflow.local"
        assert email_intake.TOKEN.match(local)


def test_admins_set_allowed_senders_members_cannot(api: Api, world: World) -> None:
    owner = fresh(world)
    org = world.people[owner].personal_org
    world.add_person(f"{owner}-m", org, "member")
    reply = api.put(
        "/api/payables/inbound/settings",
        as_=f"{owner}-m",
        org=org,
        json_body={"allowed_senders": ["ap@vendor.example"]},
    )
    assert reply.status == 403
    reply = api.put(
        "/api/payables/inbound/settings",
        as_=owner,
        json_body={"allowed_senders": ["AP@Vendor.Example", "@supplier.example"]},
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["allowed_senders"] == ["@supplier.example", "ap@vendor.example"]
    reply = api.put(
        "/api/payables/inbound/settings",
        as_=owner,
        json_body={"allowed_senders": ["not an address"]},
    )
    assert reply.status == 422
    before = address(api, owner)
    reply = api.put("/api/payables/inbound/settings", as_=owner, json_body={"rotate_address": True})
    assert reply.status == 200
    assert reply.json()["address"] != before


# ---------------------------------------------------------------------------------------
# The worker


def test_csv_from_an_allowed_sender_is_imported_once(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "@vendor.example")
    number = f"M-{uuid.uuid4().hex[:6]}"
    csv = invoices_csv("Mailed Supplies Ltd", number)
    mid = f"<{uuid.uuid4().hex}@vendor.example>"
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="Billing <billing@vendor.example>",
        attachments=[("invoices.csv", "text/csv", csv)],
        message_id=mid,
    )
    assert got["status"] == "imported"
    assert got["from_address"] == "billing@vendor.example"
    [attachment] = got["attachments"]
    assert (attachment["kind"], attachment["outcome"]) == ("csv", "imported")
    assert len(attachment["vendor_invoice_ids"]) == 1
    batch = api.get(f"/api/reconciliation/imports/{got['import_batch_id']}", as_=who).json()
    assert (batch["source"], batch["status"], batch["rows_accepted"]) == ("email", "completed", 1)
    assert len(vendor_invoices(api, who, number)) == 1

    # The same message again (SES redelivers, a second event): nothing new.
    drop(
        aws,
        message(
            to=address(api, who),
            sender="billing@vendor.example",
            attachments=[("invoices.csv", "text/csv", csv)],
            message_id=mid,
        ),
    )
    assert deliver(function_host, aws) == []
    assert len([m for m in messages(api, who) if m["message_id"] == mid]) == 1

    # Another message with the same file: the attachment is a duplicate (its hash).
    again = send(
        api,
        aws,
        function_host,
        who,
        sender="billing@vendor.example",
        attachments=[("copy.csv", "text/csv", csv)],
    )
    assert again["status"] == "imported"
    assert again["attachments"][0]["outcome"] == "duplicate"
    assert len(vendor_invoices(api, who, number)) == 1


def test_a_member_forwarding_is_allowed_and_is_the_importer(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    number = f"F-{uuid.uuid4().hex[:6]}"
    got = send(
        api,
        aws,
        function_host,
        who,
        sender=world.people[who].email,
        attachments=[("inv.csv", "text/csv", invoices_csv("Forwarded GmbH", number))],
    )
    assert got["status"] == "imported"
    assert got["imported_by"] == world.people[who].id
    batch = api.get(f"/api/reconciliation/imports/{got['import_batch_id']}", as_=who).json()
    assert batch["created_by"] == world.people[who].id


def test_unknown_sender_is_quarantined_then_released_by_an_admin(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    owner = fresh(world)
    org = world.people[owner].personal_org
    member = f"{owner}-m"
    world.add_person(member, org, "member")
    number = f"Q-{uuid.uuid4().hex[:6]}"
    got = send(
        api,
        aws,
        function_host,
        owner,
        sender="stranger@elsewhere.example",
        attachments=[("inv.csv", "text/csv", invoices_csv("Stranger Co", number))],
    )
    assert got["status"] == "quarantined"
    assert "stranger@elsewhere.example" in got["reason"]
    assert got["attachments"] == []
    assert vendor_invoices(api, owner, number) == []
    quarantine = messages(api, owner, status="quarantined")
    assert [m["id"] for m in quarantine] == [got["id"]]

    path = f"/api/payables/inbound/messages/{got['id']}/release"
    assert api.post(path, as_=member, org=org).status == 403
    reply = api.post(path, as_=owner)
    assert reply.status == 200, reply.json()
    assert reply.json()["status"] == "released"
    assert deliver(function_host, aws) == []
    done = api.get(f"/api/payables/inbound/messages/{got['id']}", as_=owner).json()
    assert done["status"] == "imported"
    assert done["released_by"] == world.people[owner].id
    assert done["imported_by"] == world.people[owner].id
    assert len(vendor_invoices(api, owner, number)) == 1
    assert api.post(path, as_=owner).status == 422  # not quarantined any more


def test_a_discarded_message_is_never_imported(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    owner = fresh(world)
    got = send(
        api,
        aws,
        function_host,
        owner,
        sender="spam@elsewhere.example",
        attachments=[("x.csv", "text/csv", invoices_csv("Spam", "S-1"))],
    )
    reply = api.post(f"/api/payables/inbound/messages/{got['id']}/discard", as_=owner)
    assert reply.status == 200, reply.json()
    assert reply.json()["status"] == "rejected"
    assert api.post(f"/api/payables/inbound/messages/{got['id']}/release", as_=owner).status == 422


def test_pdf_with_text_becomes_a_draft_to_confirm(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "@vendor.example")
    number = f"PDF-{uuid.uuid4().hex[:6].upper()}"
    pdf = text_pdf(
        [
            "Papeterie Martin SARL",
            "12 rue des Lilas, 75011 Paris",
            f"Invoice No: {number}",
            "Invoice date: 2026-11-28",
            "Due date: 2026-12-28",
            "PO: PO-4711",
            "Subtotal: 250.00",
            "VAT 20%: 50.00",
            "Total: 300.00 EUR",
        ]
    )
    scan = image_pdf()
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="factures@vendor.example",
        attachments=[
            ("facture.pdf", "application/pdf", pdf),
            ("scan.pdf", "application/pdf", scan),
            (
                "notes.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                b"PK\x03\x04 not really",
            ),
        ],
    )
    outcomes = {a["filename"]: (a["kind"], a["outcome"]) for a in got["attachments"]}
    assert outcomes == {
        "facture.pdf": ("pdf", "draft"),
        "scan.pdf": ("pdf", "unreadable"),
        "notes.docx": ("other", "unsupported"),
    }
    drafts = api.get("/api/payables/inbound/drafts", as_=who).json()["data"]
    [draft] = [d for d in drafts if d["inbound_message_id"] == got["id"]]
    assert draft["status"] == "needs_confirmation"
    assert (draft["vendor_name"], draft["invoice_number"]) == ("Papeterie Martin SARL", number)
    assert (draft["invoice_date"], draft["due_date"]) == ("2026-11-28", "2026-12-28")
    assert (draft["po_number"], draft["currency"]) == ("PO-4711", "EUR")
    assert (draft["tax_amount"], draft["total_amount"]) == ("50.00", "300.00")
    assert vendor_invoices(api, who, number) == []  # a draft is not an invoice

    reply = api.post(
        f"/api/payables/inbound/drafts/{draft['id']}/confirm",
        as_=who,
        json_body={"vendor_name": "Papeterie Martin"},
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["draft"]["status"] == "confirmed"
    [invoice] = vendor_invoices(api, who, number)
    assert invoice["id"] == body["vendor_invoice_id"]
    assert (invoice["vendor_name"], invoice["total_amount"]) == ("Papeterie Martin", "300.00")
    again = api.post(f"/api/payables/inbound/drafts/{draft['id']}/confirm", as_=who)
    assert again.status == 422


def test_a_draft_missing_fields_is_422_until_completed_and_can_be_discarded(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "@vendor.example")
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="a@vendor.example",
        attachments=[("letter.pdf", "application/pdf", text_pdf(["Hello there", "Kind regards"]))],
    )
    [attachment] = got["attachments"]
    assert attachment["outcome"] == "draft"
    assert "not found" in attachment["message"]
    drafts = api.get("/api/payables/inbound/drafts", as_=who).json()["data"]
    [draft] = [d for d in drafts if d["inbound_message_id"] == got["id"]]
    reply = api.post(f"/api/payables/inbound/drafts/{draft['id']}/confirm", as_=who)
    assert reply.status == 422
    assert reply.error["code"] == "validation_failed"
    reply = api.post(f"/api/payables/inbound/drafts/{draft['id']}/discard", as_=who)
    assert reply.status == 200
    assert reply.json()["status"] == "discarded"


def test_limits_reject_or_report(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    reply = api.put(
        "/api/payables/inbound/settings",
        as_=who,
        json_body={
            "allowed_senders": ["@vendor.example"],
            "max_attachments": 2,
            "max_attachment_bytes": 2048,
        },
    )
    assert reply.status == 200, reply.json()
    many = [(f"f{i}.csv", "text/csv", invoices_csv("Many", f"MA-{i}")) for i in range(3)]
    got = send(api, aws, function_host, who, sender="a@vendor.example", attachments=many)
    assert got["status"] == "rejected"
    assert "3 attachments" in got["reason"]
    big = invoices_csv("Big", "B-1") + b"# padding\n" * 400
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="a@vendor.example",
        attachments=[("big.csv", "text/csv", big)],
    )
    assert got["status"] == "imported"
    assert got["attachments"][0]["outcome"] == "too_large"


def test_a_message_for_a_names_b_but_lands_only_in_a(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """Nothing in a message chooses the organization but its recipient address: B's
    organization id, B's address in the text, B's vendor's name in the file all land
    in A."""
    a, b = fresh(world), fresh(world)
    org_b = world.people[b].personal_org
    allow(api, a, "@vendor.example")
    allow(api, b, "@vendor.example")
    b_vendor = f"B Only Vendor {uuid.uuid4().hex[:6]}"
    # B knows this vendor (a purchase order creates it).
    reply = api.post(
        "/api/reconciliation/purchase-orders",
        as_=b,
        json_body={
            "purchase_orders": [
                {
                    "po_number": "PO-B-1",
                    "vendor_name": b_vendor,
                    "currency": "EUR",
                    "lines": [{"description": "x", "quantity": "1", "unit_price": "10.00"}],
                }
            ]
        },
    )
    assert reply.status in (200, 201), reply.json()
    number = f"X-{uuid.uuid4().hex[:6]}"
    got = send(
        api,
        aws,
        function_host,
        a,
        sender="ap@vendor.example",
        subject=f"For organization {org_b} ({address(api, b)})",
        body=f"organization_id: {org_b}\nX-Organization-Id: {org_b}",
        attachments=[("inv.csv", "text/csv", invoices_csv(b_vendor, number, po="PO-B-1"))],
        extra_headers={"X-Organization-Id": org_b, "Reply-To": address(api, b)},
    )
    assert got["status"] == "imported"
    [invoice] = vendor_invoices(api, a, number)
    assert vendor_invoices(api, b, number) == []
    assert messages(api, b) == []
    detail = api.get(f"/api/reconciliation/invoices/{invoice['id']}", as_=a).json()
    b_vendors = api.get("/api/reconciliation/vendors", as_=b, query={"q": b_vendor}).json()["data"]
    assert (detail.get("vendor") or {}).get("id") not in {v["id"] for v in b_vendors}
    rows = world.sql(
        "select count(*) from vendor_invoices where invoice_number = %s and organization_id = %s",
        number,
        org_b,
    )
    assert rows[0][0] == 0


def test_a_message_to_no_known_address_records_nothing(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    mid = f"<{uuid.uuid4().hex}@vendor.example>"
    drop(
        aws,
        message(
            to="ap-00000000000000000000@inbound.invoiceflow.local",
            sender="a@vendor.example",
            message_id=mid,
            attachments=[("i.csv", "text/csv", invoices_csv("Nobody", "N-1"))],
        ),
    )
    assert deliver(function_host, aws) == []
    assert world.sql("select count(*) from inbound_messages where message_id = %s", mid)[0][0] == 0
    assert messages(api, who) == []


def test_einvoice_attachments_go_to_the_einvoice_reader(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """UBL/CII XML (and Factur-X PDFs) go to einvoice-in's parse_einvoice; until it is
    there they are reported as unsupported."""
    who = fresh(world)
    allow(api, who, "@vendor.example")
    xml = (
        b'<?xml version="1.0"?>'
        b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>'
    )
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="a@vendor.example",
        attachments=[("invoice.xml", "application/xml", xml)],
    )
    [attachment] = got["attachments"]
    assert attachment["kind"] == "einvoice"
    assert attachment["outcome"] == "rejected"  # an empty Invoice is not an invoice


def test_viewers_read_but_cannot_release_or_confirm(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    owner = fresh(world)
    org = world.people[owner].personal_org
    viewer = f"{owner}-v"
    world.add_person(viewer, org, "viewer")
    got = send(api, aws, function_host, owner, sender="who@elsewhere.example")
    assert got["status"] == "quarantined"
    assert [m["id"] for m in messages(api, viewer, org=org)] == [got["id"]]
    path = f"/api/payables/inbound/messages/{got['id']}/release"
    assert api.post(path, as_=viewer, org=org).status == 403
    assert api.get(f"/api/payables/inbound/messages/{uuid.uuid4()}", as_=owner).status == 404


def test_an_object_that_is_gone_is_not_retried(
    function_host: FunctionHost, aws: Provisioned
) -> None:
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": "invoiceflow-inbound"},
        "object": {"key": f"inbound/{uuid.uuid4().hex}"}}}]}  # fmt: skip
    result = function_host.invoke_by_name("jobsEmailIntake", event)
    assert result["results"][0]["outcome"] == "gone"


def test_a_redelivered_message_finishes_matching_its_batch(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """Imported, then the worker stopped before matching (here: the invoice put back as
    never matched): the same message again matches what its batch left."""
    who = fresh(world)
    org = world.people[who].personal_org
    number = f"R-{uuid.uuid4().hex[:6]}"
    mid = f"<{uuid.uuid4().hex}@vendor.example>"
    parts: dict[str, Any] = {
        "sender": world.people[who].email,
        "attachments": [("i.csv", "text/csv", invoices_csv("Resumed Ltd", number))],
        "message_id": mid,
    }
    got = send(api, aws, function_host, who, **parts)
    [invoice_id] = got["attachments"][0]["vendor_invoice_ids"]
    world.sql(
        "update public.vendor_invoices set status = 'pending', matched_at = null"
        " where organization_id = %s and id = %s",
        org,
        invoice_id,
    )
    again = send(api, aws, function_host, who, **parts)
    assert again["id"] == got["id"]
    rows = world.sql(
        "select status, matched_at is not null from public.vendor_invoices where id = %s",
        invoice_id,
    )
    assert rows == [("exception", True)]  # an unknown vendor's invoice, matched again


def test_a_null_setting_is_refused_by_name(api: Api, world: World) -> None:
    """Left out: unchanged; null: 422 naming the field (the database's not-null refusal
    answered it before, which the fuzzing's positive cases met)."""
    who = fresh(world)
    for name in ("allow_members", "max_attachments", "allowed_senders"):
        reply = api.put("/api/payables/inbound/settings", as_=who, json_body={name: None})
        assert reply.status == 422, reply.json()
        [detail] = reply.error["details"]
        assert (detail["field"], detail["message"]) == (name, "this field cannot be null")
