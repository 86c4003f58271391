"""The error contract: always the four-key body, PostgREST's codes and statuses
(reference §3; PostgREST docs, "Errors"), and the schema cache (NOTIFY pgrst)."""

from __future__ import annotations

import time

import httpx
import pytest
from postgrest.exceptions import APIError

from tests.devstack.conftest import RestWorld

FOUR_KEYS = {"code", "message", "details", "hint"}


def test_unknown_table_is_404_pgrst205(rest: RestWorld) -> None:
    """An unknown table → 404 PGRST205, with a hint naming a close match."""
    with rest.http() as http:
        r = http.get("/conformance_itemz")
    assert r.status_code == 404
    assert r.json() == {
        "code": "PGRST205",
        "details": None,
        "hint": "Perhaps you meant the table 'public.conformance_items'",
        "message": "Could not find the table 'public.conformance_itemz' in the schema cache",
    }


def test_client_surfaces_error_fields(rest: RestWorld) -> None:
    """The client keeps code/message/details/hint only when all four keys come back."""
    with rest.client() as client, pytest.raises(APIError) as exc:
        client.table("no_such_table").select("*").execute()
    assert exc.value.code == "PGRST205"
    assert exc.value.message is not None
    assert exc.value.message.startswith("Could not find the table")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/conformance_items?select=id,", 400, "PGRST100"),
        ("GET", "/conformance_items?select=a(b", 400, "PGRST100"),
        ("GET", "/conformance_items?select=id::nosuchtype", 400, "42704"),
        ("GET", "/conformance_items?limit=-1", 400, "PGRST100"),
        ("GET", "/conformance_items?order=", 400, "PGRST100"),
        ("PUT", "/conformance_items", 405, "PGRST117"),
        ("PUT", "/rpc/conformance_add", 405, "PGRST117"),
        ("GET", "/rpc/conformance_add?x=1", 404, "PGRST202"),
    ],
)
def test_error_codes_and_statuses(
    rest: RestWorld, method: str, path: str, status: int, code: str
) -> None:
    with rest.http() as http:
        r = http.request(method, path)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == FOUR_KEYS
    assert body["code"] == code


def test_embed_errors_come_before_permission_errors(rest: RestWorld) -> None:
    """Relationship errors are found in the schema cache, before the database runs."""
    with rest.http(rest.token("alice")) as http:
        r = http.get("/clients?select=*,nope(*)")
    assert r.status_code == 400
    assert r.json()["code"] == "PGRST200"


def test_schema_cache_reloads_on_notify(rest: RestWorld) -> None:
    """`NOTIFY pgrst, 'reload schema'` reloads the cache, as PostgREST does; until then a
    new table is unknown (PGRST205)."""
    rest.sql("drop table if exists public.conformance_late")
    rest.sql("create table public.conformance_late (id int primary key)")
    rest.sql("grant select on public.conformance_late to anon")
    with rest.http() as http:
        assert http.get("/conformance_late").status_code == 404
        rest.sql("notify pgrst, 'reload schema'")
        deadline = time.monotonic() + 10
        status = 404
        while time.monotonic() < deadline:
            status = http.get("/conformance_late").status_code
            if status == 200:
                break
            time.sleep(0.05)
    assert status == 200


def test_errors_without_the_apikey_come_from_the_gateway(rest: RestWorld) -> None:
    """The gateway in front refuses requests without an API key (reference §4 note)."""
    r = httpx.get(rest.rest_url + "/conformance_items")
    assert r.status_code == 401
    assert r.json()["message"] == "No API key found in request"
