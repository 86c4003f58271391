"""Reconciliation matching through the API (in-process handler and over HTTP): the
outcomes end to end, the evidence, resolving exceptions (accept, link, reject, dismiss),
vendor aliases, merge, reject and split, settings, the dashboard, and organization
isolation of every route. The hand-made boundary cases of the rules themselves are in
supabase/tests/420-matching.sql; tests/api/reconciliation/test_properties.py holds the property
tests."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, World

# Invoice dates increase with each invoice made, so "earlier invoices" are the ones
# made earlier in a test (and look-alike totals fall on different dates).
_DAYS = itertools.count()


@dataclass
class Purchase:
    """A vendor of organization A with one open purchase order of two lines, fully
    received: W widgets 10 x 10.00, G gadgets 4 x 25.00."""

    tag: str
    vendor: str
    vendor_name: str
    po: str
    po_number: str
    widget_line: str
    gadget_line: str


def _purchase(world: World, org: str | None = None, received: bool = True) -> Purchase:
    org = org or world.org_a
    tag = uuid.uuid4().hex[:8]
    name = f"Zorblax Trading {tag}"
    vendor = world.sql(
        "insert into public.vendors (organization_id, name) values (%s, %s) returning id::text",
        org,
        name,
    )[0][0]
    po = world.sql(
        "insert into public.purchase_orders (organization_id, vendor_id, po_number, currency)"
        " values (%s, %s, %s, 'USD') returning id::text",
        org,
        vendor,
        f"PO-{tag}",
    )[0][0]
    lines = world.sql(
        "insert into public.purchase_order_lines (organization_id, purchase_order_id, currency,"
        " line_number, item_code, description, quantity, unit_price) values"
        " (%s, %s, 'USD', 1, 'W', 'Widget', 10, 10), (%s, %s, 'USD', 2, 'G', 'Gadget', 4, 25)"
        " returning id::text",
        org,
        po,
        org,
        po,
    )
    if received:
        receipt = world.sql(
            "insert into public.goods_receipts (organization_id, purchase_order_id,"
            " receipt_number) values (%s, %s, %s) returning id::text",
            org,
            po,
            f"GR-{tag}",
        )[0][0]
        world.sql(
            "insert into public.goods_receipt_lines (organization_id, goods_receipt_id,"
            " purchase_order_line_id, quantity_received)"
            " select %s, %s, id, quantity from public.purchase_order_lines"
            " where purchase_order_id = %s",
            org,
            receipt,
            po,
        )
    return Purchase(tag, vendor, name, po, f"PO-{tag}", lines[0][0], lines[1][0])


def _invoice(
    world: World,
    p: Purchase,
    number: str,
    lines: list[tuple[str | None, str, str, str]],
    *,
    vendor: str | None = "same",
    vendor_name: str | None = None,
    po_number: str | None = "same",
    org: str | None = None,
    tax: str = "0",
) -> str:
    """An invoice of ``lines`` (item code, description, quantity, unit price), amounts
    quantity x price, subtotal their sum."""
    org = org or world.org_a
    amounts = [(Decimal(q) * Decimal(price)).quantize(Decimal("0.01")) for _, _, q, price in lines]
    subtotal = sum(amounts, Decimal(0))
    invoice = world.sql(
        "insert into public.vendor_invoices (organization_id, vendor_id, vendor_name,"
        " invoice_number, invoice_date, po_number, currency, subtotal, tax_amount, total_amount)"
        " values (%s, %s, %s, %s, date '2026-01-01' + %s::int, %s, 'USD', %s, %s, %s)"
        " returning id::text",
        org,
        p.vendor if vendor == "same" else vendor,
        vendor_name or p.vendor_name,
        f"{number}-{p.tag}",
        next(_DAYS) % 3000,
        p.po_number if po_number == "same" else po_number,
        subtotal,
        Decimal(tax),
        subtotal + Decimal(tax),
    )[0][0]
    for i, ((code, description, quantity, price), amount) in enumerate(
        zip(lines, amounts, strict=True), start=1
    ):
        world.sql(
            "insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id,"
            " currency, line_number, item_code, description, quantity, unit_price, amount)"
            " values (%s, %s, 'USD', %s, %s, %s, %s, %s, %s)",
            org,
            invoice,
            i,
            code,
            description,
            Decimal(quantity),
            Decimal(price),
            amount,
        )
    return str(invoice)


def _match(api: Api, *ids: str, as_: str = "maria") -> dict[str, Any]:
    reply = api.post("/api/reconciliation/match", as_=as_, json_body={"invoice_ids": list(ids)})
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def _exceptions(api: Api, invoice: str, **query: Any) -> list[dict[str, Any]]:
    reply = api.get(
        "/api/reconciliation/exceptions",
        as_="victor",
        query={"vendor_invoice_id": invoice, **query},
    )
    assert reply.status == 200, reply.json()
    rows: list[dict[str, Any]] = reply.json()["data"]
    return rows


def test_outcomes_end_to_end_with_evidence(any_api: Api, world: World) -> None:
    p = _purchase(world)
    exact = _invoice(world, p, "EXACT", [("W", "Widget", "5", "10"), ("G", "Gadget", "4", "25")])
    any_api.put(
        "/api/reconciliation/vendors/" + p.vendor,
        as_="maria",
        json_body={"price_tolerance_percent": "5"},
    )
    within = _invoice(world, p, "WITHIN", [("W", "Widget", "2", "10.50")])
    over = _invoice(world, p, "OVER", [("W", "Widget", "3", "10.51")])
    counts = _match(any_api, exact, within, over)
    assert (counts["matched"], counts["matched_with_tolerance"], counts["exception"]) == (1, 1, 1)

    reply = any_api.get(f"/api/reconciliation/invoices/{exact}", as_="victor")
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["status"] == "matched"
    assert body["purchase_order"]["po_number"] == p.po_number
    assert body["match"]["outcome"] == "matched"
    assert body["total_amount"] == "150.00"
    evidence = body["lines"][0]["match"]
    assert evidence["rule"] == "exact"
    assert evidence["matched_by"] == "item_code"
    assert (evidence["received_quantity"], evidence["billed_quantity"]) == ("10", "5")
    assert body["exceptions"] == []

    within_body = any_api.get(f"/api/reconciliation/invoices/{within}", as_="victor").json()
    assert within_body["status"] == "matched_with_tolerance"
    assert within_body["lines"][0]["match"]["price_variance"] == "0.50"
    assert within_body["lines"][0]["match"]["price_allowance"] == "0.5"

    [exception] = _exceptions(any_api, over)
    assert exception["type"] == "price_variance"
    assert exception["check_name"] == "price"
    assert (exception["expected"], exception["actual"], exception["variance"]) == (
        "10",
        "10.51",
        "0.51",
    )
    assert exception["line_number"] == 1
    assert "Line 1 (Widget): unit price 10.51 is 0.51 above" in exception["message"]
    assert exception["invoice"]["invoice_number"] == f"OVER-{p.tag}"
    detail = any_api.get(f"/api/reconciliation/exceptions/{exception['id']}", as_="victor")
    assert detail.status == 200, detail.json()
    assert detail.json()["line_match"]["po_unit_price"] == "10"
    assert detail.json()["evidence"]["allowance"] == "0.5"

    listed = any_api.get(
        "/api/reconciliation/invoices",
        as_="victor",
        query={"vendor_id": p.vendor, "status": "exception,matched", "sort": "invoice_number"},
    ).json()
    assert [row["invoice_number"] for row in listed["data"]] == [f"EXACT-{p.tag}", f"OVER-{p.tag}"]
    assert listed["data"][1]["match"]["open_exceptions"] == 1
    bad = any_api.get("/api/reconciliation/invoices", as_="victor", query={"status": "settled"})
    assert bad.status == 422
    assert bad.error["code"] == "validation_failed"


def test_missing_po_then_link_and_over_billing_counts_earlier_invoices(
    any_api: Api, world: World
) -> None:
    p = _purchase(world)
    lost = _invoice(world, p, "LOST", [("W", "Widget", "6", "10")], po_number="PO-NOPE")
    _match(any_api, lost)
    [missing] = _exceptions(any_api, lost, status="open")
    assert missing["type"] == "missing_po"
    assert "PO-NOPE" in missing["message"]

    refused = any_api.post(
        f"/api/reconciliation/exceptions/{missing['id']}/resolve",
        as_="maria",
        json_body={"action": "link", "reason": "wrong number on the invoice"},
    )
    assert refused.status == 422
    assert "exactly one of" in refused.error["message"]
    linked = any_api.post(
        f"/api/reconciliation/exceptions/{missing['id']}/resolve",
        as_="maria",
        json_body={"action": "link", "reason": "wrong number", "purchase_order_id": p.po},
    )
    assert linked.status == 200, linked.json()
    assert (linked.json()["status"], linked.json()["resolution"]) == ("resolved", "linked")
    assert linked.json()["invoice"]["status"] == "matched"
    assert any(h["reason"] == "wrong number" for h in linked.json()["history"])

    # 6 of the 10 widgets are billed; a later invoice for 5 more is over-billed.
    later = _invoice(world, p, "LATER", [("W", "Widget", "5", "10")])
    any_api.post("/api/reconciliation/match", as_="maria", json_body={"invoice_ids": [later]})
    [over] = _exceptions(any_api, later)
    assert over["type"] == "over_billed_quantity"
    assert (over["expected"], over["actual"]) == ("4", "5")
    assert "6 already billed by earlier invoices" in over["message"]


def test_accept_reject_dismiss_and_validation(any_api: Api, world: World) -> None:
    p = _purchase(world)
    pricey = _invoice(world, p, "PRICEY", [("G", "Gadget", "1", "30")])
    duplicate = _invoice(world, p, "DUPE", [("G", "Gadget", "1", "30")])
    world.sql(
        "update public.vendor_invoices set invoice_date = (select invoice_date from"
        " public.vendor_invoices where id = %s) where id = %s",
        pricey,
        duplicate,
    )
    _match(any_api, pricey, duplicate)
    [variance] = _exceptions(any_api, pricey)
    path = f"/api/reconciliation/exceptions/{variance['id']}/resolve"
    for body, field in (
        ({"action": "accept"}, "reason"),
        ({"action": "approve", "reason": "x"}, "action"),
        ({"action": "accept", "reason": "x", "surprise": 1}, "surprise"),
    ):
        reply = any_api.post(path, as_="maria", json_body=body)
        assert reply.status == 422, reply.json()
        assert field in reply.error["message"]
    assert (
        any_api.post(path, as_="victor", json_body={"action": "accept", "reason": "x"}).status
        == 403
    )

    accepted = any_api.post(
        path, as_="maria", json_body={"action": "accept", "reason": "new price list"}
    )
    assert accepted.status == 200, accepted.json()
    assert accepted.json()["resolution"] == "accepted"
    assert accepted.json()["resolved_by"] == world.people["maria"].id
    assert accepted.json()["invoice"]["status"] == "matched_with_tolerance"
    again = any_api.post(path, as_="maria", json_body={"action": "accept", "reason": "again"})
    assert again.status == 422
    assert again.error["code"] == "rule_violation"

    types = sorted(e["type"] for e in _exceptions(any_api, duplicate, status="open"))
    assert types == ["duplicate_invoice", "price_variance"]
    dup = next(e for e in _exceptions(any_api, duplicate) if e["type"] == "duplicate_invoice")
    rejected = any_api.post(
        f"/api/reconciliation/exceptions/{dup['id']}/resolve",
        as_="maria",
        json_body={"action": "reject", "reason": "sent twice"},
    )
    assert rejected.status == 200, rejected.json()
    assert rejected.json()["invoice"]["status"] == "rejected"
    assert _exceptions(any_api, duplicate, status="open") == []
    skipped = _match(any_api, duplicate)
    assert skipped["skipped"][0]["id"] == duplicate
    row = world.sql(
        "select new_record ->> 'resolution_reason', changed_by::text from public.audit_log"
        " where table_name = 'public.reconciliation_exceptions' and record_id = %s"
        " and operation = 'UPDATE' order by id desc limit 1",
        dup["id"],
    )
    assert row == [("sent twice", world.people["maria"].id)]

    line_off = _invoice(world, p, "ROUNDING", [("W", "Widget", "1", "10")])
    world.sql(
        "update public.vendor_invoice_lines set amount = 10.07 where vendor_invoice_id = %s",
        line_off,
    )
    world.sql(
        "update public.vendor_invoices set subtotal = 10.07, total_amount = 10.07 where id = %s",
        line_off,
    )
    _match(any_api, line_off)
    [amount] = _exceptions(any_api, line_off)
    assert (amount["type"], amount["check_name"]) == ("total_variance", "line_amount")
    dismissed = any_api.post(
        f"/api/reconciliation/exceptions/{amount['id']}/resolve",
        as_="maria",
        json_body={"action": "dismiss", "reason": "their rounding"},
    )
    assert dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["invoice"]["status"] == "matched_with_tolerance"


def test_unknown_vendor_alias_merge_reject_split(any_api: Api, world: World) -> None:
    p = _purchase(world)
    stranger_name = f"ZORBLAX TRADING {p.tag} LIMITED"
    unknown = _invoice(
        world, p, "UNKNOWN", [("W", "Widget", "1", "10")], vendor=None, vendor_name=stranger_name
    )
    _match(any_api, unknown)
    [exception] = _exceptions(any_api, unknown)
    assert exception["type"] == "unknown_vendor"
    detail = any_api.get(f"/api/reconciliation/exceptions/{exception['id']}", as_="victor").json()
    assert detail["evidence"]["suggestions"][0]["vendor_id"] == p.vendor

    added = any_api.post(
        f"/api/reconciliation/vendors/{p.vendor}/aliases",
        as_="maria",
        json_body={"alias": f"Zorblax Trdng {p.tag}"},
    )
    assert added.status == 201, added.json()
    assert added.json()["rematched_invoices"] == 0
    # Their normalized names are one ("zorblax trading <tag>"): the vendor's own name,
    # so confirming a differently written name of it resolves the invoice.
    confirmed = any_api.post(
        f"/api/reconciliation/vendors/{p.vendor}/aliases",
        as_="maria",
        json_body={"alias": stranger_name},
    )
    assert confirmed.status == 201, confirmed.json()
    assert confirmed.json()["rematched_invoices"] == 1
    invoice = any_api.get(f"/api/reconciliation/invoices/{unknown}", as_="victor").json()
    assert invoice["vendor_id"] == p.vendor
    assert invoice["status"] == "matched"
    assert invoice["exceptions"][0]["resolution"] == "auto_resolved"

    twin = world.sql(
        "insert into public.vendors (organization_id, name) values (%s, %s) returning id::text",
        world.org_a,
        f"Zorblax Tradng {p.tag} Corp",
    )[0][0]
    vendor = any_api.get(f"/api/reconciliation/vendors/{p.vendor}", as_="victor").json()
    assert twin in [s["vendor_id"] for s in vendor["suggestions"]]
    assert len(vendor["aliases"]) == 2

    other = world.sql(
        "insert into public.vendors (organization_id, name) values (%s, %s) returning id::text",
        world.org_a,
        f"Zorblax Tradinq {p.tag}",
    )[0][0]
    rejected = any_api.post(
        f"/api/reconciliation/vendors/{p.vendor}/reject-suggestion",
        as_="maria",
        json_body={"vendor_id": other, "reason": "a different company"},
    )
    assert rejected.status == 200, rejected.json()
    assert other not in [s["vendor_id"] for s in rejected.json()["suggestions"]]

    twin_invoice = _invoice(world, p, "TWIN", [("G", "Gadget", "1", "25")], vendor=twin)
    _match(any_api, twin_invoice)
    assert [e["check_name"] for e in _exceptions(any_api, twin_invoice)] == ["po_vendor"]
    merged = any_api.post(
        f"/api/reconciliation/vendors/{p.vendor}/merge",
        as_="maria",
        json_body={"vendor_id": twin, "reason": "same company"},
    )
    assert merged.status == 200, merged.json()
    assert merged.json()["moved_invoices"] == 1
    assert world.sql(
        "select status, merged_into::text from public.vendors where id = %s", twin
    ) == [("merged", p.vendor)]
    assert (
        any_api.get(f"/api/reconciliation/invoices/{twin_invoice}", as_="victor").json()["status"]
        == "matched"
    )
    alias = next(a for a in merged.json()["aliases"] if a["source"] == "merge")
    split = any_api.post(
        f"/api/reconciliation/vendors/{p.vendor}/split",
        as_="maria",
        json_body={"alias_id": alias["id"]},
    )
    assert split.status == 200, split.json()
    assert split.json()["new_vendor_id"] == twin
    assert world.sql("select status from public.vendors where id = %s", twin) == [("active",)]

    found = any_api.get(
        "/api/reconciliation/vendors", as_="victor", query={"q": f"zorblax trading {p.tag}"}
    ).json()
    assert p.vendor in [v["id"] for v in found["data"]]
    assert (
        any_api.post(
            f"/api/reconciliation/vendors/{p.vendor}/merge", as_="maria", json_body={}
        ).status
        == 422
    )


def test_vendor_update_settings_and_dashboard(any_api: Api, world: World) -> None:
    p = _purchase(world)
    invoice = _invoice(world, p, "TOL", [("W", "Widget", "1", "10.40")])
    _match(any_api, invoice)
    assert (
        any_api.get(f"/api/reconciliation/invoices/{invoice}", as_="victor").json()["status"]
        == "exception"
    )
    updated = any_api.put(
        f"/api/reconciliation/vendors/{p.vendor}",
        as_="maria",
        json_body={"price_tolerance_amount": "0.40", "notes": "agreed tolerance"},
    )
    assert updated.status == 200, updated.json()
    assert updated.json()["price_tolerance_amount"] == "0.40"
    assert (
        any_api.put(
            f"/api/reconciliation/vendors/{p.vendor}", as_="maria", json_body={"status": "merged"}
        ).status
        == 422
    )
    _match(any_api, invoice)
    assert (
        any_api.get(f"/api/reconciliation/invoices/{invoice}", as_="victor").json()["status"]
        == "matched_with_tolerance"
    )

    # No ids: every pending and exception invoice of the organization (this one included).
    pending = _invoice(world, p, "PENDING", [("G", "Gadget", "1", "25")])
    everything = any_api.post("/api/reconciliation/match", as_="maria", json_body={})
    assert everything.status == 200, everything.json()
    assert everything.json()["invoices"] >= 1
    assert (
        any_api.get(f"/api/reconciliation/invoices/{pending}", as_="victor").json()["status"]
        == "matched"
    )

    settings = any_api.get("/api/reconciliation/settings", as_="victor")
    assert settings.status == 200, settings.json()
    assert settings.json()["total_tolerance_amount"] is not None
    assert (
        any_api.put(
            "/api/reconciliation/settings", as_="maria", json_body={"auto_rematch": True}
        ).status
        == 403
    )
    assert any_api.put("/api/reconciliation/settings", as_="alice", json_body={}).status == 422
    changed = any_api.put(
        "/api/reconciliation/settings",
        as_="alice",
        json_body={"vendor_similarity_threshold": "0.35", "auto_rematch": True},
    )
    assert changed.status == 200, changed.json()
    assert changed.json()["vendor_similarity_threshold"] == "0.35"
    assert changed.json()["saved"] is True

    dashboard = any_api.get("/api/reconciliation/dashboard", as_="victor")
    assert dashboard.status == 200, dashboard.json()
    body = dashboard.json()
    assert body["invoices"] >= 1
    assert {"by_outcome", "top_exception_reasons", "vendors_with_most_variances"} <= set(body)
    assert all(isinstance(row["amount"], str) for row in body["by_outcome"])
    backwards = any_api.get(
        "/api/reconciliation/dashboard",
        as_="victor",
        query={"date_from": "2026-02-01", "date_to": "2026-01-01"},
    )
    assert backwards.status == 422


def test_organizations_are_isolated(any_api: Api, world: World) -> None:
    mine = _purchase(world)
    theirs = _purchase(world, org=world.org_b)
    a_invoice = _invoice(world, mine, "ISO", [("W", "Widget", "1", "11")])
    b_invoice = _invoice(
        world, theirs, "ISO", [("W", "Widget", "1", "12")], org=world.org_b, po_number="PO-NONE"
    )
    _match(any_api, a_invoice)
    # Bob matching A's invoice id from his organization: skipped, not touched.
    result = _match(any_api, a_invoice, b_invoice, as_="bob")
    assert result["invoices"] == 1
    assert result["skipped"] == [
        {"id": a_invoice, "reason": "no such vendor invoice in the organization"}
    ]
    [b_exception] = list(
        any_api.get(
            "/api/reconciliation/exceptions", as_="bob", query={"vendor_invoice_id": b_invoice}
        ).json()["data"]
    )
    # Linking his exception to A's purchase order, merging A's vendor into his: refused.
    link = any_api.post(
        f"/api/reconciliation/exceptions/{b_exception['id']}/resolve",
        as_="bob",
        json_body={"action": "link", "reason": "x", "purchase_order_id": mine.po},
    )
    assert link.status == 422
    assert link.error["code"] == "invalid_reference"
    merge = any_api.post(
        f"/api/reconciliation/vendors/{theirs.vendor}/merge",
        as_="bob",
        json_body={"vendor_id": mine.vendor},
    )
    assert merge.status == 422
    assert merge.error["code"] == "invalid_reference"
    for path in (
        "/api/reconciliation/vendors",
        "/api/reconciliation/invoices",
        "/api/reconciliation/exceptions",
        "/api/reconciliation/dashboard",
    ):
        reply = any_api.get(path, as_="bob", query={"page_size": 100} if path[-1] != "d" else None)
        assert reply.status == 200, reply.json()
        text = reply.content.decode()
        for secret in (mine.vendor, a_invoice, mine.vendor_name, mine.po):
            assert secret not in text, (path, secret)
    assert world.sql(
        "select status, vendor_id::text from public.vendor_invoices where id = %s", a_invoice
    ) == [("exception", mine.vendor)]


@pytest.mark.parametrize("who", ["victor", "bob"])
def test_reads_and_writes_of_another_organization_or_role(api: Api, world: World, who: str) -> None:
    p = _purchase(world)
    invoice = _invoice(world, p, "ROLE", [("W", "Widget", "1", "10")])
    reply = api.post(
        "/api/reconciliation/match",
        as_=who,
        org=world.org_a,
        json_body={"invoice_ids": [invoice]},
    )
    assert reply.status == 403
    assert world.sql("select status from public.vendor_invoices where id = %s", invoice) == [
        ("pending",)
    ]
