"""2-way matching through the API (supabase/migrations/20261206150200_two_way_matching.sql):
a service line billed with nothing received is over-billed in 3-way matching and matched
in 2-way; the mode set on the vendor (PUT /api/reconciliation/vendors/{id}), on the PO or
on a line (PUT /api/reconciliation/purchase-orders/{id}/match-mode), the most specific
winning, each change re-matching at once; bad input is a 4xx; strangers see nothing.
The boundary table of the rules is supabase/tests/920-two-way-matching.sql."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, World
from tests.api.reconciliation.test_matching import Purchase, _invoice, _match, _purchase


def _status(api: Api, invoice: str) -> dict[str, Any]:
    reply = api.get(f"/api/reconciliation/invoices/{invoice}", as_="victor")
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def _services(world: World) -> Purchase:
    """A PO of two service lines (widgets 10 x 10.00, gadgets 4 x 25.00), nothing received."""
    return _purchase(world, received=False)


def test_a_service_line_without_receipt_is_over_billed_in_three_way(
    any_api: Api, world: World
) -> None:
    p = _services(world)
    invoice = _invoice(world, p, "SVC3", [("W", "Widget", "10", "10")])
    _match(any_api, invoice)
    body = _status(any_api, invoice)
    assert body["status"] == "exception"
    assert body["lines"][0]["match"]["match_mode"] == "three_way"
    assert [(e["type"], e["check_name"]) for e in body["exceptions"]] == [
        ("over_billed_quantity", "received")
    ]


def test_vendor_two_way_matches_against_the_order_and_rematches(any_api: Api, world: World) -> None:
    p = _services(world)
    exact = _invoice(world, p, "SVC2", [("W", "Widget", "10", "10"), ("G", "Gadget", "4", "25")])
    over = _invoice(world, p, "SVC2-OVER", [("W", "Widget", "1", "10")])
    _match(any_api, exact, over)
    assert _status(any_api, exact)["status"] == "exception"

    reply = any_api.put(
        f"/api/reconciliation/vendors/{p.vendor}", as_="maria", json_body={"match_mode": "two_way"}
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["match_mode"] == "two_way"

    body = _status(any_api, exact)  # re-matched by the vendor's change
    assert body["status"] == "matched"
    assert [line["match"]["match_mode"] for line in body["lines"]] == ["two_way", "two_way"]
    assert body["lines"][0]["match"]["rule"] == "exact"
    over_body = _status(any_api, over)
    assert over_body["status"] == "exception"
    [exception] = [e for e in over_body["exceptions"] if e["status"] == "open"]
    assert (exception["type"], exception["check_name"]) == ("over_billed_quantity", "ordered")
    assert "orders 10 of which 10 already billed" in exception["message"]

    modes = any_api.get(f"/api/reconciliation/purchase-orders/{p.po}/match-mode", as_="victor")
    assert modes.status == 200, modes.json()
    assert modes.json()["vendor_match_mode"] == "two_way"
    assert [line["decided_by"] for line in modes.json()["lines"]] == ["vendor", "vendor"]


def test_po_and_line_modes_the_most_specific_wins(any_api: Api, world: World) -> None:
    p = _services(world)
    invoice = _invoice(world, p, "MIX", [("W", "Widget", "10", "10"), ("G", "Gadget", "4", "25")])
    _match(any_api, invoice)

    reply = any_api.put(
        f"/api/reconciliation/purchase-orders/{p.po}/match-mode",
        as_="maria",
        json_body={
            "match_mode": "two_way",
            "lines": [{"line_number": 2, "match_mode": "three_way"}],
        },
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert (body["match_mode"], body["effective_match_mode"]) == ("two_way", "two_way")
    assert [(line["effective_match_mode"], line["decided_by"]) for line in body["lines"]] == [
        ("two_way", "purchase_order"),
        ("three_way", "line"),
    ]
    matched = _status(any_api, invoice)
    assert [line["match"]["outcome"] for line in matched["lines"]] == ["matched", "exception"]
    assert [
        (e["line_number"], e["check_name"]) for e in matched["exceptions"] if e["status"] == "open"
    ] == [(2, "received")]

    # The line back to inherit: both two_way, the invoice matched.
    reply = any_api.put(
        f"/api/reconciliation/purchase-orders/{p.po}/match-mode",
        as_="maria",
        json_body={"lines": [{"line_number": 2, "match_mode": None}]},
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["lines"][1]["decided_by"] == "purchase_order"
    assert _status(any_api, invoice)["status"] == "matched"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"match_mode": "one_way"}, 422),
        ({"lines": []}, 422),
        ({"lines": None}, 422),
        ({"lines": [{"line_number": 1}]}, 422),
        ({"lines": [{"line_number": 0, "match_mode": "two_way"}]}, 422),
        ({"lines": [{"line_number": 99, "match_mode": "two_way"}]}, 422),
        ({"lines": [{"line_number": 1, "match_mode": "two_way"}] * 2}, 422),
        ({"match_mode": "two_way", "extra": 1}, 422),
        ([], 422),
    ],
)
def test_bad_input_is_refused(api: Api, world: World, body: Any, status: int) -> None:
    p = _services(world)
    reply = api.put(
        f"/api/reconciliation/purchase-orders/{p.po}/match-mode", as_="maria", json_body=body
    )
    assert reply.status == status, reply.json()


def test_vendor_mode_is_checked(api: Api, world: World) -> None:
    p = _services(world)
    reply = api.put(
        f"/api/reconciliation/vendors/{p.vendor}", as_="maria", json_body={"match_mode": "x"}
    )
    assert reply.status == 422, reply.json()


def test_who_may(api: Api, world: World) -> None:
    p = _services(world)
    path = f"/api/reconciliation/purchase-orders/{p.po}/match-mode"
    body = {"match_mode": "two_way"}
    assert api.put(path, as_="victor", json_body=body).status == 403
    assert api.put(path, as_="bob", json_body=body).status == 404
    assert api.get(path, as_="bob").status == 404
    assert api.get(path, as_="victor").status == 200
    assert api.put(path, json_body=body).status == 401
    unknown = "/api/reconciliation/purchase-orders/00000000-0000-4000-8000-000000000000/match-mode"
    assert api.put(unknown, as_="maria", json_body=body).status == 404
    assert api.get(path.replace(p.po, "not-a-uuid"), as_="victor").status == 422
