"""Fuzzing: schemathesis against docs/openapi.json on the running stack.

Every operation of the document is called with generated requests (the examples, coverage
and fuzzing phases, positive and negative data) as a real person signed up through the
API, in an organization that has clients, invoices, payments, purchase orders, receipts,
vendor invoices, vendors and exceptions. Schemathesis cannot guess UUIDs, so for some
cases (decided from the case itself, so the run stays deterministic) a path id or an id in
the body or query is replaced by one of those real rows: the 200/201/204 answers and their
schemas are exercised, not only the 404s. Destructive operations (deletes, merges, splits,
bulk actions) get rows of their own, so that they do not empty the pools of the others.

The token and X-Organization-Id are given to each call and replace any generated value of
those headers (schemathesis' own cases without credentials still go out and must be 401s).
The schema is loaded at import (`@schema.parametrize()`, one test per operation) and the
stack's address is given per call: `schemathesis.pytest.from_fixture` fails under pytest 9
(it sets `request.node._nodeid`). One operation: `-k "PUT and clients"` (the totals test
then fails on the count, by design).

Each response goes through not_a_server_error, status_code_conformance,
content_type_conformance, response_schema_conformance and response_headers_conformance.
Failures are collected rather than raised (no shrinking, so the run stays bounded and
every distinct failure is reported at once, each with a curl command to reproduce it); the
last test asserts there are none and that at least RELIABILITY_FUZZ_MIN_REQUESTS requests
were sent, and records the figures (bench/out/reliability/fuzz.json).

Exclusions (the only ones):
- POST /api/auth/logout ends the session it is called with (scope=global ends all the
  person's sessions), which would turn every later case into a 401. It is fuzzed on its own
  (test_fuzz_logout), as another person, with a fresh session signed in for each case.

Environment:
- RELIABILITY_FUZZ_EXAMPLES: max examples per operation in the fuzzing phase (default 25).
- RELIABILITY_FUZZ_SEED: the seed of the generation (default 20261201); with it fixed,
  the same requests are generated on every run (`derandomize`), so a CI failure reproduces.
- RELIABILITY_FUZZ_MIN_REQUESTS: the number of requests the run must reach (default 2000).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis import APIOperation, Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack.functions import ROOT
from devstack.local import LocalStack
from reliability.conftest import Client, User, record

DOCUMENT = ROOT / "docs" / "openapi.json"
EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("RELIABILITY_FUZZ_SEED", "20261201"))
MIN_REQUESTS = int(os.environ.get("RELIABILITY_FUZZ_MIN_REQUESTS", "2000"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
LOGOUT = ("POST", "/api/auth/logout")
OpCase = Case[APIOperation[Any, Any, Any, Any]]

# What this fuzzing found, each fixed at its root (regressions in tests/api/test_fuzz_findings.py
# where cheap); recorded with every run.
FOUND_AND_FIXED = [
    "a JSON body that is not UTF-8: the API Gateway emulator crashed building the event "
    "(plain-text 500); now base64-encoded as API Gateway does -> 400 malformed_json",
    "a path with %0A: Starlette's path convertor stops at a newline, the emulator answered "
    "its own plain-text 404; now routed -> 422 in the error shape",
    "a NUL in a search (q) or a body text: the local REST server took psycopg's refusal for a "
    "lost connection (503, pool flushed); now 400 22021 as PostgreSQL; the API drops NUL from "
    "searches and refuses it in every body field (422 naming the field)",
    "query dates out of the calendar: a report's to=0001-01-01 (its default from fell "
    "before year 1 in the database), revenue-chart end_month=0001-01-01, imports "
    "created_to=9999-12-31 (a day past Python's calendar) were 500s; now years 1900 to "
    "2200, as in bodies -> 422 naming the parameter",
    "the document said null for fields that refuse null (partial updates: settings, clients, "
    "invoices, payments, vendors, matching settings): no null branch now",
    "the document said optional for fields the database requires (merge, reject-suggestion, "
    "aliases, split, resolve): required now",
    "the document took any string for money and quantities, e-mail addresses, URLs and "
    "currencies, and empty partial updates: decimal, e-mail, URL and currency patterns and "
    "minProperties now",
]


@dataclass
class Run:
    """What the fuzzing sent and what broke, over every test of this module."""

    started: float | None = None
    requests: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    substituted: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    failures: dict[tuple[str, str, int], str] = field(default_factory=dict)

    def count(self, label: str, status: int) -> None:
        if self.started is None:
            self.started = time.perf_counter()
        self.requests[label] += 1
        self.statuses.setdefault(label, Counter())[status] += 1

    def fail(self, case: OpCase, status: int, group: FailureGroup) -> None:
        for failure in group.exceptions:
            key = (case.operation.label, failure.title, status)
            self.failures.setdefault(key, str(group))


RUN = Run()


@dataclass
class Seeded:
    """The person the fuzzing acts as, and the real ids it may use, by pool."""

    user: User
    pools: dict[str, list[str]]


def _ok(reply: Any, status: int = 200) -> Any:
    assert reply.status == status, reply.content[:500]
    return reply.json()


def _seed(stack: LocalStack) -> Seeded:
    c = Client(stack)
    user = c.sign_up("fuzz")
    pools: dict[str, list[str]] = {}

    def post(path: str, body: Any, status: int = 201) -> Any:
        return _ok(c.request("POST", path, json_body=body), status)

    def client(name: str, currency: str) -> str:
        body = {"company_name": name, "email": "ap@example.com", "currency": currency}
        return str(post("/api/clients", body)["id"])

    def invoice(client_id: str, status: str, rate: str = "120.00") -> str:
        body = {
            "client_id": client_id,
            "issue_date": "2026-11-01",
            "due_date": "2026-12-01",
            "status": status,
            "tax_rate": "8.5",
            "items": [{"description": "Work", "quantity": "2", "rate": rate}],
        }
        return str(post("/api/invoices", body)["id"])

    def payment(invoice_id: str, amount: str) -> str:
        body = {"invoice_id": invoice_id, "amount": amount, "payment_date": "2026-11-10"}
        return str(post("/api/payments", body)["id"])

    usd, jpy, kwd = client("Fuzz USD", "USD"), client("Fuzz JPY", "JPY"), client("Fuzz KWD", "KWD")
    pools["client"] = [usd, jpy, kwd, client("Fuzz idle", "EUR")]
    pools["client_doomed"] = [client(f"Fuzz doomed {i}", "USD") for i in range(6)]
    pools["client_bulk"] = [client(f"Fuzz bulk {i}", "USD") for i in range(6)]
    pools["invoice"] = [
        invoice(usd, "draft"),
        invoice(usd, "sent"),
        invoice(jpy, "sent", "1200"),
        invoice(kwd, "sent", "12.125"),
        invoice(usd, "sent"),
    ]
    pools["invoice_doomed"] = [invoice(usd, s) for s in ("draft", "draft", "sent", "sent")]
    pools["invoice_bulk"] = [invoice(usd, s) for s in ("draft", "draft", "sent", "sent")]
    pools["payment"] = [payment(pools["invoice"][1], "10.00"), payment(pools["invoice"][2], "100")]
    pools["payment_doomed"] = [payment(pools["invoice"][4], "1.00") for _ in range(4)]
    sent = post("/api/invoices/bulk-actions", {"action": "send", "ids": [pools["invoice"][1]]}, 200)
    pools["bulk_job"] = [str(sent["job_id"])]

    # Payables: two vendors by purchase order, a receipt, invoices that match or not.
    post(
        "/api/reconciliation/purchase-orders",
        {
            "purchase_orders": [
                {
                    "po_number": f"PO-{n}",
                    "vendor_name": vendor,
                    "currency": "USD",
                    "order_date": "2026-10-01",
                    "lines": [
                        {
                            "item_code": "W",
                            "description": "Widget",
                            "quantity": 10,
                            "unit_price": "10.00",
                        },
                    ],
                }
                for n, vendor in ((1, "Acme Supplies"), (2, "Globex Parts"), (3, "Initech"))
            ]
        },
    )
    post(
        "/api/reconciliation/receipts",
        {
            "receipts": [
                {
                    "receipt_number": "GR-1",
                    "po_number": "PO-1",
                    "lines": [{"item_code": "W", "quantity_received": 10}],
                }
            ]
        },
    )
    imported = post(
        "/api/reconciliation/invoices",
        {
            "invoices": [
                {
                    "vendor_name": vendor,
                    "invoice_number": number,
                    "invoice_date": "2026-11-10",
                    "po_number": po,
                    "currency": "USD",
                    "lines": [
                        {"item_code": "W", "description": "W", "quantity": "5", "unit_price": price}
                    ],
                }
                for vendor, number, po, price in (
                    ("Acme Supplies", "VI-1", "PO-1", "10.00"),
                    ("Acme Supplies", "VI-2", "PO-1", "12.50"),
                    ("Globex Parts", "VI-3", "PO-2", "10.00"),
                    ("Acme Supplies Ltd", "VI-4", "PO-9", "10.00"),
                    ("Unheard Of Co", "VI-5", None, "10.00"),
                )
            ]
        },
    )
    pools["vendor_invoice"] = [str(a["id"]) for a in imported["accepted"]]
    post("/api/reconciliation/match", {"invoice_ids": pools["vendor_invoice"]}, 200)

    def listed(path: str) -> list[str]:
        body = _ok(c.request("GET", path, params={"page_size": 100}))
        return [str(row["id"]) for row in body["data"]]

    vendors = listed("/api/reconciliation/vendors")
    pools["vendor"] = vendors[:2]
    pools["vendor_doomed"] = vendors[2:]
    pools["purchase_order"] = listed("/api/reconciliation/purchase-orders")
    pools["exception"] = listed("/api/reconciliation/exceptions")
    pools["import"] = [
        str(
            post(
                "/api/reconciliation/imports",
                {"kind": "vendor_invoices", "file_name": "fuzz.csv"},
            )["batch"]["id"]
        )
    ]
    alias = post(f"/api/reconciliation/vendors/{pools['vendor'][0]}/aliases", {"alias": "ACME Co"})
    pools["alias"] = [str(alias["id"])]
    c.close()
    empty = sorted(name for name, ids in pools.items() if not ids)
    assert not empty, f"no rows to fuzz with in {empty}"
    return Seeded(user, pools)


# Which pool a path id is drawn from, by operation; the rest keep their generated ids.
PATH_POOLS: dict[tuple[str, str], str] = {
    ("DELETE", "/api/clients/{id}"): "client_doomed",
    ("GET", "/api/clients/{id}"): "client",
    ("PUT", "/api/clients/{id}"): "client",
    ("DELETE", "/api/invoices/{id}"): "invoice_doomed",
    ("GET", "/api/invoices/{id}"): "invoice",
    ("PUT", "/api/invoices/{id}"): "invoice",
    ("GET", "/api/invoices/{id}/pdf"): "invoice",
    ("POST", "/api/invoices/{id}/send"): "invoice",
    ("GET", "/api/invoices/bulk-actions/{id}"): "bulk_job",
    ("DELETE", "/api/payments/{id}"): "payment_doomed",
    ("GET", "/api/payments/{id}"): "payment",
    ("PUT", "/api/payments/{id}"): "payment",
    ("GET", "/api/reconciliation/exceptions/{id}"): "exception",
    ("POST", "/api/reconciliation/exceptions/{id}/resolve"): "exception",
    ("GET", "/api/reconciliation/imports/{id}"): "import",
    ("GET", "/api/reconciliation/invoices/{id}"): "vendor_invoice",
    ("GET", "/api/reconciliation/purchase-orders/{id}"): "purchase_order",
    ("GET", "/api/reconciliation/vendors/{id}"): "vendor",
    ("PUT", "/api/reconciliation/vendors/{id}"): "vendor",
    ("POST", "/api/reconciliation/vendors/{id}/aliases"): "vendor",
    ("POST", "/api/reconciliation/vendors/{id}/merge"): "vendor",
    ("POST", "/api/reconciliation/vendors/{id}/reject-suggestion"): "vendor",
    ("POST", "/api/reconciliation/vendors/{id}/split"): "vendor",
}
# Ids named in bodies and queries: field -> pool, with exceptions by operation.
FIELD_POOLS: dict[str, str] = {
    "client_id": "client",
    "invoice_id": "invoice",
    "invoice_ids": "vendor_invoice",
    "vendor_invoice_id": "vendor_invoice",
    "vendor_id": "vendor",
    "alias_id": "alias",
    "purchase_order_id": "purchase_order",
}
OPERATION_FIELD_POOLS: dict[tuple[str, str, str], str] = {
    ("POST", "/api/clients/bulk-delete", "ids"): "client_bulk",
    ("POST", "/api/invoices/bulk-actions", "ids"): "invoice_bulk",
    ("POST", "/api/reconciliation/vendors/{id}/merge", "vendor_id"): "vendor_doomed",
}


def _draw(seeded: Seeded, pool: str, where: str, odds: int = 4) -> str | None:
    """A real id in (odds - 1) cases out of `odds`, decided by where it goes (the operation,
    the case's number in it, the field): not by the generated value, which may be random."""
    ids = seeded.pools.get(pool) or []
    digest = hashlib.sha256(where.encode()).digest()
    if not ids or digest[0] % odds == 0:
        return None
    return ids[digest[1] % len(ids)]


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def substitute_ids(case: OpCase, seeded: Seeded, run: Run) -> None:
    """Real rows instead of some generated ids; only where the generated value is a
    well-formed UUID (a malformed one is the case's point and stays), and any text of a
    query's id filter."""
    method, path = case.operation.method.upper(), case.operation.path
    label = case.operation.label
    number = run.requests[label]  # the cases of an operation come in a fixed order
    pool = PATH_POOLS.get((method, path))
    params = case.path_parameters
    if pool and params and _is_uuid(params.get("id")):
        real = _draw(seeded, pool, f"{label}|{number}|path")
        if real is not None:
            params["id"] = real
            run.substituted[label] += 1
    for container in (case.body, case.query):
        if not isinstance(container, dict):
            continue
        for key, value in list(container.items()):
            pool = OPERATION_FIELD_POOLS.get((method, path, key)) or FIELD_POOLS.get(key)
            if pool is None:
                continue
            if isinstance(value, list) and value and all(_is_uuid(v) for v in value):
                real = _draw(seeded, pool, f"{label}|{number}|{key}")
                if real is not None:
                    container[key] = [real, *value[1:]]
                    run.substituted[label] += 1
            elif _is_uuid(value) or (container is case.query and isinstance(value, str)):
                real = _draw(seeded, pool, f"{label}|{number}|{key}")
                if real is not None:
                    container[key] = real
                    run.substituted[label] += 1


def _config() -> schemathesis.Config:
    """The generation's settings; the stack's address and the person's token are only
    known once the session's stack runs, and are given to each call."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "request-timeout": 60,
            "generation": {
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
                "no-shrink": True,
            },
            "phases": {"stateful": {"enabled": False}},
        }
    )


@pytest.fixture(scope="module")
def seeded(stack: LocalStack) -> Seeded:
    return _seed(stack)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


SCHEMA = schemathesis.openapi.from_path(DOCUMENT, config=_config())


def _headers(user: User) -> dict[str, str]:
    """Sent with every call; they replace any generated value of the same headers."""
    return {
        "User-Agent": "invoiceflow-reliability-fuzz",
        "Authorization": f"Bearer {user.access_token}",
        "X-Organization-Id": user.organization_id,
    }


def _call(case: OpCase, stack: LocalStack, http: requests.Session, headers: dict[str, str]) -> None:
    response = case.call(base_url=stack.functions_url, session=http, headers=headers)
    RUN.count(case.operation.label, response.status_code)
    if response.status_code == 422 and case.meta and case.meta.generation.mode.value == "positive":
        RUN.refused[case.operation.label] += 1  # valid by the document, refused by a rule
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        RUN.fail(case, response.status_code, group)


@SCHEMA.exclude(method=LOGOUT[0], path=LOGOUT[1]).parametrize()
def test_fuzz(case: OpCase, stack: LocalStack, seeded: Seeded, http: requests.Session) -> None:
    substitute_ids(case, seeded, RUN)
    _call(case, stack, http, _headers(seeded.user))


@pytest.fixture(scope="module")
def leaver(stack: LocalStack) -> Iterator[Client]:
    """The person whose sessions POST /api/auth/logout ends (not the fuzzing's)."""
    c = Client(stack)
    c.sign_up("fuzz-logout")
    yield c
    c.close()


@SCHEMA.include(method=LOGOUT[0], path=LOGOUT[1]).parametrize()
def test_fuzz_logout(
    case: OpCase, stack: LocalStack, leaver: Client, http: requests.Session
) -> None:
    """Each case with a session of its own: a logout (scope=global included) ends only
    sessions that no later case uses."""
    assert leaver.user is not None
    signed_in = leaver.sign_in(leaver.user.email)
    assert signed_in.status == 200, signed_in.content
    _call(case, stack, http, _headers(leaver.user))


def test_fuzz_totals() -> None:
    """Runs last: the figures of the whole module, and what broke."""
    total = sum(RUN.requests.values())
    seconds = round(time.perf_counter() - (RUN.started or time.perf_counter()), 1)
    failures = [f"{label} -> {status}: {title}" for (label, title, status) in sorted(RUN.failures)]
    record(
        "fuzz",
        {
            "requests_total": total,
            "seconds": seconds,
            "operations": len(RUN.requests),
            "examples_per_operation": EXAMPLES,
            "seed": SEED,
            "requests": dict(sorted(RUN.requests.items())),
            "statuses": {k: dict(sorted(v.items())) for k, v in sorted(RUN.statuses.items())},
            "ids_substituted": sum(RUN.substituted.values()),
            "positive_cases_refused_by_rules": dict(sorted(RUN.refused.items())),
            "failures": failures,
            "found_and_fixed": FOUND_AND_FIXED,
        },
    )
    for key in sorted(RUN.failures):
        print(RUN.failures[key])
    assert not failures, "\n".join(failures)
    assert total >= MIN_REQUESTS, total
    assert sum(RUN.substituted.values()) > 0, "no case reached a real row"
    everything = {op.ok().label for op in SCHEMA.get_all_operations() if isinstance(op, Ok)}
    assert set(RUN.requests) == everything, sorted(everything - set(RUN.requests))
