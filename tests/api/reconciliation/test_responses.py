"""The reconciliation routes answer what the database answers, key for key: their
response models (shared.models.reconciliation) type the OpenAPI document and filter
what is sent, so a key the SQL answers and a model leaves out would silently vanish.

- The routes that pass a SQL function's JSON on answer its very bytes (the amounts as
  decimal texts, the keys in jsonb's order): the function is called here directly, in
  the database, and compared with the body.
- The writes answer the vendor or the exception as the reads do, plus their own keys.
- The lists answer, for each row, exactly the columns their PostgREST select names, in
  its order (the select read from the handler's source).
"""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.api.conftest import Api, World
from tests.api.reconciliation.test_matching import _invoice, _match, _purchase

ROOT = Path(__file__).resolve().parents[3]


def _plain(value: Any) -> Any:
    """The JSON as the routes pass it on: numbers with a fraction as decimal texts."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _sql_answer(world: World, call: str, *params: Any) -> bytes:
    """A SQL function's answer, as the route would send it."""
    text = world.sql(f"select ({call})::text", *params)[0][0]
    answer = _plain(json.loads(text, parse_float=Decimal))
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


def _select(module: str, name: str) -> str:
    """A select constant of a handler, read from its source (importing a function module
    here would bind Mangum to this thread's event loop)."""
    tree = ast.parse((ROOT / module).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, str)
            return value
    raise AssertionError(f"{name} not in {module}")


def _names(select: str) -> list[tuple[str, str | None]]:
    """The keys a PostgREST select answers, in order: (key, the embedded select or None)."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(select + ","):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(select[start:i])
            start = i + 1
    names: list[tuple[str, str | None]] = []
    for item in items:
        if "(" in item:
            head, inner = item.split("(", 1)
            names.append((head.split(":")[0], inner[:-1]))
        else:
            names.append((item.split("::")[0].split(":")[0], None))
    return names


def _assert_columns(row: dict[str, Any], select: str) -> None:
    names = _names(select)
    assert list(row) == [name for name, _ in names], "a column of the select is not answered"
    for name, inner in names:
        value = row[name]
        for item in value if isinstance(value, list) else [value]:
            if inner is not None and isinstance(item, dict):
                _assert_columns(item, inner)


def test_reads_answer_the_sql_functions_bytes(api: Api, world: World) -> None:
    p = _purchase(world)
    invoice = _invoice(world, p, "BYTES", [("W", "Widget", "3", "10.51"), ("X", "Extra", "1", "2")])
    _match(api, invoice)
    org = world.org_a

    reply = api.get(f"/api/reconciliation/invoices/{invoice}", as_="victor")
    assert reply.status == 200, reply.json()
    assert reply.content == _sql_answer(
        world, "public.reconciliation_invoice(%s, %s)", org, invoice
    )
    exceptions = reply.json()["exceptions"]
    assert len(exceptions) >= 2, exceptions  # a price variance and a line without PO line

    for exception in exceptions:
        reply = api.get(f"/api/reconciliation/exceptions/{exception['id']}", as_="victor")
        assert reply.status == 200, reply.json()
        assert reply.content == _sql_answer(
            world, "public.reconciliation_exception(%s, %s)", org, exception["id"]
        )

    reply = api.get(f"/api/reconciliation/vendors/{p.vendor}", as_="victor")
    assert reply.status == 200, reply.json()
    assert reply.content == _sql_answer(
        world, "public.reconciliation_vendor(%s, %s)", org, p.vendor
    )

    reply = api.get("/api/reconciliation/settings", as_="victor")
    assert reply.status == 200, reply.json()
    expected = json.loads(_sql_answer(world, "public.get_reconciliation_settings(%s)", org))
    body = reply.json()
    assert list(body) == list(expected)
    if not body["saved"]:  # the defaults: updated_at is the time of the call
        body["updated_at"] = expected["updated_at"]
    assert body == expected

    reply = api.get("/api/reconciliation/dashboard", as_="victor")
    assert reply.status == 200, reply.json()
    assert reply.content == _sql_answer(
        world, "public.reconciliation_dashboard(%s, null, null)", org
    )
    assert reply.json()["vendors_with_most_variances"], "the dashboard's lists are empty"


def test_writes_answer_the_read_shape_and_their_own_keys(api: Api, world: World) -> None:
    p = _purchase(world)
    invoice = _invoice(world, p, "WRITE", [("W", "Widget", "3", "10.51")])
    _match(api, invoice)
    base = f"/api/reconciliation/vendors/{p.vendor}"

    def same_as_read(body: dict[str, Any], *own: str) -> None:
        read = api.get(base, as_="victor").json()
        assert set(body) == set(read) | set(own)
        assert {k: v for k, v in body.items() if k not in own} == read

    updated = api.put(base, as_="maria", json_body={"notes": "typed"})
    assert updated.status == 200, updated.json()
    same_as_read(updated.json())

    added = api.post(base + "/aliases", as_="maria", json_body={"alias": f"Zorb {p.tag}"})
    assert added.status == 201, added.json()
    same_as_read(added.json(), "rematched_invoices")

    twin = world.sql(
        "insert into public.vendors (organization_id, name) values (%s, %s) returning id::text",
        world.org_a,
        f"Zorblax Tradng {p.tag}",
    )[0][0]
    merged = api.post(base + "/merge", as_="maria", json_body={"vendor_id": twin})
    assert merged.status == 200, merged.json()
    same_as_read(merged.json(), "merged_vendor_id", "moved_invoices")

    alias = next(a for a in merged.json()["aliases"] if a["source"] == "merge")
    split = api.post(base + "/split", as_="maria", json_body={"alias_id": alias["id"]})
    assert split.status == 200, split.json()
    same_as_read(split.json(), "new_vendor_id", "moved_invoices")

    rejected = api.post(
        base + "/reject-suggestion", as_="maria", json_body={"vendor_id": twin, "reason": "no"}
    )
    assert rejected.status == 200, rejected.json()
    same_as_read(rejected.json())

    changed = api.put("/api/reconciliation/settings", as_="alice", json_body={"auto_rematch": True})
    assert changed.status == 200, changed.json()
    assert changed.json() == api.get("/api/reconciliation/settings", as_="victor").json()

    [exception] = [
        e
        for e in api.get(f"/api/reconciliation/invoices/{invoice}", as_="victor").json()[
            "exceptions"
        ]
        if e["check_name"] == "price"
    ]
    path = f"/api/reconciliation/exceptions/{exception['id']}"
    resolved = api.post(
        path + "/resolve", as_="maria", json_body={"action": "accept", "reason": "fine"}
    )
    assert resolved.status == 200, resolved.json()
    assert resolved.json() == api.get(path, as_="victor").json()


def test_lists_answer_every_column_they_select(api: Api, world: World) -> None:
    p = _purchase(world)
    invoice = _invoice(world, p, "LIST", [("W", "Widget", "3", "10.51")])
    _match(api, invoice)
    world.sql(
        "insert into public.vendor_aliases (organization_id, vendor_id, alias, source)"
        " values (%s, %s, %s, 'confirmed')",
        world.org_a,
        p.vendor,
        f"Zorb List {p.tag}",
    )
    for path, query, module, constant in (
        (
            "/api/reconciliation/invoices",
            {"vendor_id": p.vendor},
            "functions/reconciliation/invoices_list.py",
            "INVOICE_COLUMNS",
        ),
        (
            "/api/reconciliation/exceptions",
            {"vendor_invoice_id": invoice},
            "functions/reconciliation/exceptions_list.py",
            "EXCEPTION_COLUMNS",
        ),
        (
            "/api/reconciliation/vendors",
            {"q": p.tag},
            "functions/reconciliation/vendors_list.py",
            "VENDOR_COLUMNS",
        ),
    ):
        reply = api.get(path, as_="victor", query=query)
        assert reply.status == 200, reply.json()
        body = reply.json()
        assert list(body) == ["data", "pagination"]
        assert body["data"], path
        select = _select(module, constant)
        for row in body["data"]:
            _assert_columns(row, select)
        embedded = [row for row in body["data"] if any(isinstance(v, dict) for v in row.values())]
        assert embedded or path.endswith("vendors"), f"{path}: no embedded row was checked"
    vendors = api.get("/api/reconciliation/vendors", as_="victor", query={"q": p.tag}).json()
    assert vendors["data"][0]["aliases"][0]["alias"] == f"Zorb List {p.tag}"
    assert list(vendors["data"][0]["aliases"][0]) == ["id", "alias", "normalized_alias", "source"]
