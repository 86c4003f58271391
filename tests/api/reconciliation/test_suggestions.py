"""Match suggestions that learn, through the API: GET /api/reconciliation/invoices/{id}/
suggestions ranks the organization's open purchase orders with each one's evidence;
accept links through the relink path and re-matches, reject records a negative example;
both retrain the weights at once. The trainer itself (shared/reconciliation/suggestions.py)
learns which features separate the right purchase order from the others. Each test
works in a currency of its own, so the shared organization's other purchase orders are
not candidates."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

import pytest

from shared.reconciliation import suggestions
from tests.api.conftest import Api, World


@dataclass
class Book:
    currency: str
    vendor: str
    pos: dict[str, str]  # po_number -> id
    invoice: str


def _book(world: World) -> Book:
    """A vendor with three open POs in a currency of their own; an invoice for the
    cleaning PO under a misspelled vendor name with no PO reference, matched (missing_po
    and unknown_vendor open)."""
    org = world.org_a
    currency = "Q" + "".join(random.choices(string.ascii_uppercase, k=2))  # noqa: S311
    tag = "".join(random.choices(string.ascii_lowercase, k=6))  # noqa: S311
    vendor = world.sql(
        "insert into public.vendors (organization_id, name) values (%s, %s) returning id::text",
        org,
        f"Brightwater Facility Services {tag}",
    )[0][0]
    pos: dict[str, str] = {}
    for number, day, description, qty, price in (
        (f"CLN-{tag}-1", 0, "office cleaning monthly", 1, "1200"),
        (f"HVA-{tag}-2", 40, "hvac maintenance visit", 2, "350"),
        (f"WIN-{tag}-3", 80, "window cleaning facade", 1, "4800"),
    ):
        po = world.sql(
            "insert into public.purchase_orders (organization_id, vendor_id, po_number, currency,"
            " order_date) values (%s, %s, %s, %s, date '2026-03-01' + %s) returning id::text",
            org,
            vendor,
            number,
            currency,
            day,
        )[0][0]
        world.sql(
            "insert into public.purchase_order_lines (organization_id, purchase_order_id,"
            " currency, line_number, description, quantity, unit_price)"
            " values (%s, %s, %s, 1, %s, %s, %s)",
            org,
            po,
            currency,
            description,
            qty,
            price,
        )
        pos[number.split("-")[0]] = po
    invoice = world.sql(
        "insert into public.vendor_invoices (organization_id, vendor_id, vendor_name,"
        " invoice_number, invoice_date, po_number, currency, subtotal, tax_amount, total_amount)"
        " values (%s, null, %s, %s, date '2026-03-12', null, %s, 1200, 0, 1200)"
        " returning id::text",
        org,
        f"Brightwatr Facility Services {tag}",
        f"BW-{tag}",
        currency,
    )[0][0]
    world.sql(
        "insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency,"
        " line_number, description, quantity, unit_price, amount)"
        " values (%s, %s, %s, 1, 'Office cleaning (monthly)', 1, 1200, 1200)",
        org,
        invoice,
        currency,
    )
    return Book(currency, vendor, pos, invoice)


def _suggest(api: Api, book: Book, **query: Any) -> dict[str, Any]:
    reply = api.get(
        f"/api/reconciliation/invoices/{book.invoice}/suggestions", as_="victor", query=query
    )
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def test_suggestions_rank_with_their_evidence(any_api: Api, world: World) -> None:
    book = _book(world)
    body = _suggest(any_api, book)
    assert body["vendor_invoice_id"] == book.invoice
    assert body["candidates"][0]["purchase_order_id"] == book.pos["CLN"]
    assert [c["rank"] for c in body["candidates"]] == [1, 2, 3]
    scores = [c["score"] for c in body["candidates"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s < 1 for s in scores)
    top = body["candidates"][0]
    evidence = top["evidence"]
    assert set(evidence["features"]) == set(suggestions.FEATURES)
    assert evidence["features"]["amount"] == 1.0  # 1200 billed, 1200 ordered
    assert evidence["features"]["reference"] == 0.0  # the invoice names no PO
    assert 0.5 < evidence["features"]["vendor"] < 1.0  # a misspelled name, not the vendor
    for name, value in evidence["features"].items():
        assert evidence["contributions"][name] == pytest.approx(evidence["weights"][name] * value)
    assert top["logit"] == pytest.approx(evidence["bias"] + sum(evidence["contributions"].values()))
    assert top["po_total"] == "1200.00"
    assert body["candidates"][1]["evidence"]["features"]["amount"] < 1.0

    assert len(_suggest(any_api, book, limit=1)["candidates"]) == 1


def test_accept_links_the_purchase_order_and_reject_is_a_negative_example(
    any_api: Api, world: World
) -> None:
    book = _book(world)
    matched = any_api.post(
        "/api/reconciliation/match", as_="maria", json_body={"invoice_ids": [book.invoice]}
    )
    assert matched.status == 200, matched.json()

    base = f"/api/reconciliation/invoices/{book.invoice}/suggestions"
    reply = any_api.post(
        f"{base}/{book.pos['WIN']}/reject", as_="maria", json_body={"reason": "not windows"}
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert (body["decision"], body["purchase_order_id"]) == ("rejected", None)
    assert body["suggested_purchase_order_id"] == book.pos["WIN"]
    assert body["model"]["learned"] is True
    rows = world.sql(
        "select label, source, decided, reason from public.match_suggestion_examples"
        " where vendor_invoice_id = %s",
        book.invoice,
    )
    assert rows == [(0, "rejected", True, "not windows")]

    reply = any_api.post(f"{base}/{book.pos['CLN']}/accept", as_="maria")
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["decision"] == "accepted"
    assert body["purchase_order_id"] == book.pos["CLN"]
    assert body["exception_id"] is not None
    assert body["model"]["decisions"] >= 2
    invoice = any_api.get(f"/api/reconciliation/invoices/{book.invoice}", as_="victor").json()
    assert invoice["purchase_order"]["id"] == book.pos["CLN"]
    linked = world.sql(
        "select resolution from public.reconciliation_exceptions where id = %s",
        body["exception_id"],
    )
    assert linked == [("linked",)]
    examples = world.sql(
        "select label, count(*) from public.match_suggestion_examples"
        " where vendor_invoice_id = %s and source = 'accepted' group by label order by label",
        book.invoice,
    )
    assert examples == [(0, 2), (1, 1)]  # the accepted PO, and the two others shown
    assert _suggest(any_api, book)["model"]["learned"] is True


def test_accept_without_an_open_exception_relinks_and_matches(api: Api, world: World) -> None:
    book = _book(world)  # never matched: no exception to resolve
    reply = api.post(
        f"/api/reconciliation/invoices/{book.invoice}/suggestions/{book.pos['CLN']}/accept",
        as_="maria",
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["status"] in ("matched", "matched_with_tolerance", "exception")
    assert reply.json()["exception_id"] is None
    rows = world.sql(
        "select purchase_order_id::text, po_linked_manually from public.vendor_invoices"
        " where id = %s",
        book.invoice,
    )
    assert rows == [(book.pos["CLN"], True)]


def test_bad_input_and_who_may(api: Api, world: World) -> None:
    book = _book(world)
    base = f"/api/reconciliation/invoices/{book.invoice}/suggestions"
    accept = f"{base}/{book.pos['CLN']}/accept"
    assert api.get(base, as_="victor", query={"limit": 0}).status == 422
    assert api.get(base, as_="victor", query={"limit": 51}).status == 422
    assert api.get(base, as_="victor", query={"limit": "x"}).status == 422
    assert api.get(base, as_="bob").status == 404
    assert api.get(base.replace(book.invoice, "nope"), as_="victor").status == 422
    assert api.post(accept, as_="victor").status == 403
    assert api.post(accept, as_="bob").status == 404
    assert api.post(accept).status == 401
    assert api.post(accept, as_="maria", json_body={"reason": "x" * 1001}).status == 422
    assert api.post(accept, as_="maria", json_body={"reason": "ok", "x": 1}).status == 422
    assert api.post(accept, as_="maria", json_body=[]).status == 422
    unknown = f"{base}/00000000-0000-4000-8000-000000000000/reject"
    reply = api.post(unknown, as_="maria")
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "invalid_reference"
    assert api.post(f"{base}/not-a-uuid/reject", as_="maria").status == 422
    other = "00000000-0000-4000-8000-000000000000"
    assert api.post(accept.replace(book.invoice, other), as_="maria").status == 404
    assert world.sql(
        "select count(*) from public.match_suggestion_examples where vendor_invoice_id = %s",
        book.invoice,
    ) == [(0,)]


def test_training_learns_which_features_separate() -> None:
    """The history's right PO is the nearest in date while the reference often names
    another (a stale one): trained, date weighs more than reference, and ranks right
    where the fixed weights do not."""
    rng = random.Random(7)  # noqa: S311 - reproducible data
    examples: list[tuple[int, list[float]]] = []
    for _ in range(150):
        right = [1.0, 0.9, rng.uniform(0.7, 1.0), rng.uniform(0.3, 0.6), 0.8]
        stale = [1.0, 0.9, rng.uniform(0.2, 0.5), 1.0, 0.8]
        examples += [(1, right), (0, stale)]
    weights = suggestions.train(examples)
    assert weights["date"] > suggestions.FIXED_WEIGHTS["date"]
    assert weights["reference"] < suggestions.FIXED_WEIGHTS["reference"]
    right, stale = [1.0, 0.9, 0.8, 0.45, 0.8], [1.0, 0.9, 0.35, 1.0, 0.8]
    fixed = suggestions.FIXED_WEIGHTS
    assert suggestions.score(fixed, stale) > suggestions.score(fixed, right)
    assert suggestions.score(weights, right) > suggestions.score(weights, stale)
    # No examples: the fixed weights.
    assert suggestions.train([]) == pytest.approx(suggestions.FIXED_WEIGHTS)
