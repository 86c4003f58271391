"""Matching, completed (issue 20): the match mode of imported purchase orders and their
lines (JSON and CSV), and the organization's default mode in the reconciliation
settings, deciding a service line billed without a receipt."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import Api, World


def fresh(world: World) -> str:
    name = f"modes-{uuid.uuid4().hex[:8]}"
    world.add_person(name)
    return name


def modes(api: Api, who: str, po_number: str) -> dict[str, Any]:
    found = api.get("/api/reconciliation/purchase-orders", as_=who, query={"q": po_number})
    [po] = found.json()["data"]
    reply = api.get(f"/api/reconciliation/purchase-orders/{po['id']}/match-mode", as_=who)
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def invoice(api: Api, who: str, po: str, number: str, qty: str) -> str:
    reply = api.post("/api/reconciliation/invoices", as_=who, json_body={"invoices": [
        {"vendor_name": "Consulting Partners", "invoice_number": number,
         "invoice_date": "2026-11-30", "po_number": po, "currency": "EUR",
         "lines": [{"line_number": 1, "description": "Consulting day", "quantity": qty,
                    "unit_price": "100.00"}]}]})  # fmt: skip
    assert reply.status == 201, reply.json()
    found = api.get("/api/reconciliation/invoices", as_=who, query={"q": number}).json()
    status: str = found["data"][0]["status"]
    return status


def test_json_purchase_orders_carry_their_and_their_lines_match_mode(
    any_api: Api, world: World
) -> None:
    who = fresh(world)
    reply = any_api.post("/api/reconciliation/purchase-orders", as_=who, json_body={
        "purchase_orders": [
            {"po_number": "PO-MM-1", "vendor_name": "Mixed Supplies", "currency": "EUR",
             "match_mode": "2-way",
             "lines": [{"description": "Consulting", "quantity": "10", "unit_price": "100"},
                       {"description": "Laptop", "quantity": "1", "unit_price": "900",
                        "match_mode": "three_way"}]}]})  # fmt: skip
    assert reply.status == 201, reply.json()
    got = modes(any_api, who, "PO-MM-1")
    assert got["match_mode"] == "two_way"
    assert [(line["match_mode"], line["effective_match_mode"]) for line in got["lines"]] == [
        (None, "two_way"),
        ("three_way", "three_way"),
    ]
    bad = any_api.post("/api/reconciliation/purchase-orders", as_=who, json_body={
        "purchase_orders": [
            {"po_number": "PO-MM-2", "vendor_name": "Mixed Supplies", "currency": "EUR",
             "lines": [{"description": "x", "quantity": "1", "unit_price": "1",
                        "match_mode": "one_way"}]}]})  # fmt: skip
    assert bad.status == 422, bad.json()
    [rejected] = bad.error["details"]["rejected"]
    assert rejected["field"] == "purchase_orders[0].lines[0].match_mode"
    assert rejected["message"] == (
        "lines[0].match_mode: 'one_way' is not a match mode; use two_way or three_way"
    )


def test_the_organizations_default_mode_decides_lines_nobody_set(api: Api, world: World) -> None:
    who = fresh(world)
    settings = api.get("/api/reconciliation/settings", as_=who).json()
    assert settings["default_match_mode"] == "three_way"
    reply = api.post("/api/reconciliation/purchase-orders", as_=who, json_body={
        "purchase_orders": [
            {"po_number": "PO-DEF-1", "vendor_name": "Consulting Partners", "currency": "EUR",
             "lines": [{"description": "Consulting day", "quantity": "10",
                        "unit_price": "100.00"}]},
            {"po_number": "PO-DEF-2", "vendor_name": "Consulting Partners", "currency": "EUR",
             "lines": [{"description": "Consulting day", "quantity": "10",
                        "unit_price": "100.00"}]}]})  # fmt: skip
    assert reply.status == 201, reply.json()
    # 3-way by default: ten days billed, nothing received -> an exception.
    assert invoice(api, who, "PO-DEF-1", "CP-1", "10") == "exception"
    changed = api.put(
        "/api/reconciliation/settings", as_=who, json_body={"default_match_mode": "two_way"}
    )
    assert changed.status == 200, changed.json()
    assert changed.json()["default_match_mode"] == "two_way"
    assert modes(api, who, "PO-DEF-1")["lines"][0]["effective_match_mode"] == "two_way"
    assert modes(api, who, "PO-DEF-1")["default_match_mode"] == "two_way"
    # 2-way: compared with the ordered quantity (9 days: not CP-1's total, no duplicate).
    assert invoice(api, who, "PO-DEF-2", "CP-2", "9") == "matched"
    bad = api.put(
        "/api/reconciliation/settings", as_=who, json_body={"default_match_mode": "sometimes"}
    )
    assert bad.status == 422


def test_csv_columns_name_the_modes() -> None:
    from shared.reconciliation.ingest import parse_csv  # noqa: PLC0415

    parsed = parse_csv(
        b"PO Number,Vendor,Currency,Description,Qty,Unit Price,Match mode,Line match mode\n"
        b"P-1,V,EUR,Consulting,1,2,2-way,\n"
        b"P-1,V,EUR,Laptop,1,2,2-way,3-way\n"
        b"P-2,V,EUR,Other,1,2,sometimes,\n",
        "purchase_orders",
        policy="accept_valid_rows",
    )
    [document] = parsed.documents
    assert document["match_mode"] == "two_way"
    assert [line["line_match_mode"] for line in document["lines"]] == [None, "three_way"]
    assert [(e.row, e.column) for e in parsed.errors] == [(3, "Match mode")]


def status_of(api: Api, who: str, number: str) -> str:
    found = api.get("/api/reconciliation/invoices", as_=who, query={"q": number}).json()
    status: str = found["data"][0]["status"]
    return status


def test_changing_the_default_mode_rematches_the_open_invoices_it_decides(
    api: Api, world: World
) -> None:
    """Services billed without a receipt: exceptions under 3-way, matched once the
    organization's default becomes 2-way — at once, without another matching call; and
    back. An invoice whose PO sets its own mode is not touched; with auto_rematch off,
    nothing is re-matched until the next matching."""
    who = fresh(world)
    reply = api.post("/api/reconciliation/purchase-orders", as_=who, json_body={
        "purchase_orders": [
            {"po_number": "PO-RM-1", "vendor_name": "Consulting Partners", "currency": "EUR",
             "lines": [{"description": "Consulting day", "quantity": "10",
                        "unit_price": "100.00"}]},
            {"po_number": "PO-RM-2", "vendor_name": "Consulting Partners", "currency": "EUR",
             "match_mode": "three_way",
             "lines": [{"description": "Consulting day", "quantity": "10",
                        "unit_price": "100.00"}]}]})  # fmt: skip
    assert reply.status == 201, reply.json()
    assert invoice(api, who, "PO-RM-1", "RM-1", "10") == "exception"
    assert invoice(api, who, "PO-RM-2", "RM-2", "9") == "exception"

    changed = api.put(
        "/api/reconciliation/settings", as_=who, json_body={"default_match_mode": "two_way"}
    )
    assert changed.status == 200, changed.json()
    assert changed.json()["rematched"]["invoices"] == 1
    assert changed.json()["rematched"]["matched"] == 1
    assert status_of(api, who, "RM-1") == "matched"
    assert status_of(api, who, "RM-2") == "exception"  # its PO says three_way

    # Back to 3-way: the matched invoice (not approved yet) needs its receipt again.
    back = api.put(
        "/api/reconciliation/settings", as_=who, json_body={"default_match_mode": "three_way"}
    )
    assert back.json()["rematched"]["exception"] == 1
    assert status_of(api, who, "RM-1") == "exception"

    # The same mode again, or another setting: nothing re-matched, no "rematched" key.
    same = api.put(
        "/api/reconciliation/settings", as_=who, json_body={"default_match_mode": "three_way"}
    )
    assert "rematched" not in same.json()
    assert same.json() == api.get("/api/reconciliation/settings", as_=who).json()

    off = api.put(
        "/api/reconciliation/settings",
        as_=who,
        json_body={"auto_rematch": False, "default_match_mode": "two_way"},
    )
    assert off.status == 200, off.json()
    assert "rematched" not in off.json()
    assert status_of(api, who, "RM-1") == "exception"
