"""What the fuzzing (reliability/test_fuzz.py, schemathesis on the whole stack) found,
kept here where it is cheap: odd bytes and characters are a clear 4xx in the one error
shape (or, in a search, simply match nothing), never a 500 or a 503."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from devstack.openapi import build_openapi
from shared.models.auth import SignupRequest
from shared.models.clients import ClientCreate
from shared.models.settings import BusinessUpdate
from tests.api.conftest import Api, World

LISTS = (
    "/api/clients",
    "/api/invoices",
    "/api/payments",
    "/api/reconciliation/purchase-orders",
    "/api/reconciliation/invoices",
    "/api/reconciliation/vendors",
    "/api/reconciliation/imports",
)


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/api/settings"), ("POST", "/api/reconciliation/imports")]
)
def test_a_json_body_that_is_not_utf8_is_malformed_json(
    any_api: Api, method: str, path: str
) -> None:
    # The emulator built its Lambda event by decoding the body and crashed (a plain-text
    # 500); API Gateway passes such a body base64-encoded, and the JSON parser refuses it.
    reply = any_api.request(method, path, as_="alice", content=b"\xff#\xfe")
    assert reply.status == 400, reply.content
    assert reply.error["code"] == "malformed_json"


def test_a_path_id_with_a_newline_is_a_json_422(http_api: Api) -> None:
    # Starlette's `path` convertor stops at a newline: the emulator answered a plain-text
    # 404 of its own instead of routing the request to the function.
    reply = http_api.get("/api/reconciliation/vendors/" + quote("\nÀ@"), as_="alice")
    assert reply.status == 422, reply.content
    assert reply.headers["content-type"] == "application/json"
    assert reply.error["details"][0]["field"] == "id"


@pytest.mark.parametrize("path", LISTS)
def test_a_nul_in_a_search_is_422_naming_it(api: Api, path: str) -> None:
    # The NUL reached the database, which cannot hold one in a text: the local REST
    # server took psycopg's refusal for a lost connection (503, the pool flushed). It
    # was then dropped from the search; now a control character in any query parameter
    # is refused as in a body (shared.query).
    with_nul = api.get(path, as_="alice", query={"q": "zz\x00zz"})
    assert with_nul.status == 422, with_nul.content
    assert with_nul.error["details"] == [
        {"in": "query", "field": "q", "message": "must not contain control characters (U+0000)"}
    ]
    assert api.get(path, as_="alice", query={"q": "zzzz"}).status == 200


def test_a_nul_in_a_body_text_is_422_naming_the_field(api: Api) -> None:
    reply = api.post("/api/clients", as_="alice", json_body={"company_name": "A\u0000B"})
    assert reply.status == 422, reply.content
    assert [d["field"] for d in reply.error["details"]] == ["company_name"]
    client = api.post("/api/clients", as_="alice", json_body={"company_name": "Nul Ltd"})
    assert client.status == 201, client.content
    reply = api.post(
        "/api/invoices",
        as_="alice",
        json_body={
            "client_id": client.json()["id"],
            "items": [{"description": "x\u0000", "quantity": 1, "rate": "1.00"}],
        },
    )
    assert reply.status == 422, reply.content
    assert [d["field"] for d in reply.error["details"]] == ["items[0].description"]


def test_rest_refuses_a_nul_as_postgresql_does(world: World) -> None:
    """PostgreSQL refuses a NUL in a text (22021, PostgREST's 400); the local REST server
    answers the same, and keeps its connections."""
    headers = {
        "apikey": world.stack.config.keys.anon_key,
        "authorization": f"Bearer {world.token('alice')}",
    }
    url = f"{world.stack.url}/rest/v1/clients"
    with httpx.Client(headers=headers, timeout=30) as http:
        refused = http.get(url, params={"company_name": "eq.a\x00b", "select": "id"})
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "22021"
        assert http.get(url, params={"select": "id", "limit": "1"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/api/reports/overview", "to", "0001-01-01"),
        ("/api/reports/payment-status", "to", "0001-01-01"),
        ("/api/reports/revenue", "from", "9999-12-31"),
        ("/api/reports/client-performance", "to", "0001-01-01"),
        ("/api/dashboard/revenue-chart", "end_month", "0001-01-01"),
        ("/api/reconciliation/imports", "created_to", "9999-12-31"),
        ("/api/reconciliation/dashboard", "date_from", "0001-01-01"),
    ],
)
def test_query_dates_outside_the_sane_years_are_422(
    api: Api, path: str, name: str, value: str
) -> None:
    # A report's default `from` (11 months before `to`) fell before year 1 in the database
    # (a BC date no response could hold), `created_to` + 1 day past Python's year 9999: 500s.
    reply = api.get(path, as_="alice", query={name: value})
    assert reply.status == 422, reply.content
    assert reply.error["details"][0]["field"] == name
    # A sane date half a year back is fine in every position (a report's `from` with the
    # default `to`, today, stays within its 5 years whatever day the test runs).
    sane = (date.today() - timedelta(days=180)).isoformat()
    assert api.get(path, as_="alice", query={name: sane}).status == 200


# -- the document says what the validation does ----------------------------------------------


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = build_openapi()["components"]["schemas"]
    return schemas


def _nullable(prop: dict[str, Any]) -> bool:
    return {"type": "null"} in prop.get("anyOf", [])


def test_fields_that_refuse_null_are_not_nullable_in_the_document() -> None:
    schemas = _schemas()
    refused = {
        "ClientUpdate": ["company_name", "currency", "status", "billing_frequency"],
        "InvoiceUpdate": ["client_id", "status", "items", "discount"],
        "PaymentUpdate": ["amount", "payment_date", "payment_method"],
        "BusinessUpdate": ["default_currency", "reminder_settings"],
        "VendorUpdate": ["name", "status"],
    }
    for name, fields in refused.items():
        for field in fields:
            assert not _nullable(schemas[name]["properties"][field]), (name, field)
    # null still clears these, and the document still says so
    assert _nullable(schemas["ClientUpdate"]["properties"]["email"])
    assert _nullable(schemas["InvoiceUpdate"]["properties"]["notes"])
    assert _nullable(schemas["PaymentUpdate"]["properties"]["notes"])


def test_fields_the_database_requires_are_required_in_the_document() -> None:
    schemas = _schemas()
    assert set(schemas["ExceptionResolve"]["required"]) == {"action", "reason"}
    assert schemas["VendorSplit"]["required"] == ["alias_id"]
    assert schemas["VendorMerge"]["required"] == ["vendor_id"]
    assert schemas["ClientUpdate"]["minProperties"] == 1


@pytest.mark.parametrize(
    ("model", "field", "good", "bad"),
    [
        (ClientCreate, "email", ["ap@example.com"], ["ap@example", "a b@c.d"]),
        (ClientCreate, "currency", ["USD"], ["usd", "US"]),
        (BusinessUpdate, "website", ["https://example.com/x"], ["ftp://x", "https://"]),
        (BusinessUpdate, "business_email", ["a@b.co"], ["nobody"]),
        (SignupRequest, "email", ["ada@example.com"], ["ada@", "@example.com"]),
    ],
)
def test_documented_patterns_agree_with_the_validators(
    model: type[BaseModel], field: str, good: list[str], bad: list[str]
) -> None:
    prop = model.model_json_schema()["properties"][field]
    branch = next(b for b in prop.get("anyOf", [prop]) if b.get("type") == "string")
    pattern = re.compile(branch["pattern"])
    base = {"company_name": "X"} if model is ClientCreate else {}
    if model is SignupRequest:
        base = {"password": "long-enough-1", "first_name": "A", "last_name": "B"}
    for value in good:
        assert pattern.search(value), value
        model.model_validate({**base, field: value})
    for value in bad:
        assert not pattern.search(value), value
        with pytest.raises(ValidationError):
            model.model_validate({**base, field: value})


def test_money_strings_are_documented_as_decimals() -> None:
    document = build_openapi()
    amount = document["components"]["schemas"]["PaymentCreate"]["properties"]["amount"]
    string = next(b for b in amount["anyOf"] if b["type"] == "string")
    assert re.search(string["pattern"], "250.00")
    assert not re.search(string["pattern"], "-1")
    params = document["paths"]["/api/invoices"]["get"]["parameters"]
    total_from = next(p for p in params if p["name"] == "total_from")["schema"]
    string = next(b for b in total_from["anyOf"] if b.get("type") == "string")
    assert re.search(string["pattern"], "-5.5")
    assert not re.search(string["pattern"], "5,5")


def test_the_document_names_the_headers_every_answer_carries(http_api: Api) -> None:
    """X-Request-Id on every answer, WWW-Authenticate on a 401, Retry-After on a 429: the
    fuzzing checks each response's headers against these."""
    document = build_openapi()
    for operations in document["paths"].values():
        for operation in operations.values():
            for code, response in operation["responses"].items():
                assert response["headers"]["X-Request-Id"]["required"], code
                if code == "401":
                    assert response["headers"]["WWW-Authenticate"]["required"]
                if code == "429":
                    assert response["headers"]["Retry-After"]["required"]
    refused = http_api.get("/api/clients")
    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.headers["x-request-id"]
