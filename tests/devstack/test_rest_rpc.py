"""RPC: argument matching, every return shape, filters on results, read-only
transactions (reference §2 "RPC", §5.5; PostgREST docs, "Functions as RPC")."""

from __future__ import annotations

import uuid

import pytest
from postgrest.exceptions import APIError

from tests.devstack.conftest import RestWorld


def test_scalar_with_named_args_and_defaults(rest: RestWorld) -> None:
    """Scalar → bare JSON value; defaulted params may be omitted."""
    with rest.client() as client:
        assert client.rpc("conformance_add", {"a": 2, "b": 3}).execute().data == 5
        assert client.rpc("conformance_add", {"a": 2}).execute().data == 3
        assert client.rpc("conformance_text", {}).execute().data == "hello"
    with rest.http() as http:
        r = http.post("/rpc/conformance_null", json={})
    assert r.status_code == 200
    assert r.text == "null"


def test_get_rpc_with_query_args(rest: RestWorld) -> None:
    """`rpc(..., get=True)` → GET with the args in the query string."""
    with rest.client() as client:
        assert client.rpc("conformance_add", {"a": 40, "b": 2}, get=True).execute().data == 42


def test_unknown_function_or_args_is_pgrst202(rest: RestWorld) -> None:
    """Keys that match no signature → 404 PGRST202."""
    with rest.client() as client, pytest.raises(APIError) as exc:
        client.rpc("conformance_add", {"x": 1}).execute()
    assert exc.value.code == "PGRST202"
    assert exc.value.message == (
        "Could not find the function public.conformance_add(x) in the schema cache"
    )
    with rest.http() as http:
        r = http.post("/rpc/no_such_function", json={})
    assert r.status_code == 404
    assert r.json()["code"] == "PGRST202"


def test_single_unnamed_json_param_gets_the_body(rest: RestWorld) -> None:
    """A function with one unnamed json/jsonb param receives the whole body."""
    with rest.client() as client:
        res = client.rpc("conformance_echo", {"any": [1, {"x": None}], "b": "c"}).execute()
    assert res.data == {"any": [1, {"x": None}], "b": "c"}


def test_setof_scalar_is_array(rest: RestWorld) -> None:
    with rest.client() as client:
        assert client.rpc("conformance_series", {"n": 3}).execute().data == [1, 2, 3]


def test_composite_is_object(rest: RestWorld) -> None:
    """A function returning one row type → a JSON object."""
    with rest.client() as client:
        res = client.rpc("conformance_item", {"item_id": 2}).select("id,name").execute()
    assert res.data == {"id": 2, "name": "item 2"}


def test_setof_table_is_filterable(rest: RestWorld) -> None:
    """SETOF table → array of objects that accepts filters, order, limit, count, embeds."""
    with rest.client() as client:
        res = (
            client.rpc("conformance_items_in", {"cat": "toys"}, count="exact")
            .select("id,price")
            .gt("id", 20)
            .order("id", desc=True)
            .limit(2)
            .execute()
        )
    assert res.data == [{"id": 29, "price": 36.25}, {"id": 26, "price": 32.5}]
    assert res.count == 3


def test_returns_table(rest: RestWorld) -> None:
    """RETURNS TABLE → array of objects."""
    with rest.client() as client:
        assert client.rpc("conformance_pairs", {}).execute().data == [
            {"k": "a", "v": 1},
            {"k": "b", "v": 2},
            {"k": "c", "v": 3},
        ]
        filtered = client.rpc("conformance_pairs", {}).gte("v", 2).execute()
    assert filtered.data == [{"k": "b", "v": 2}, {"k": "c", "v": 3}]


def test_void_is_204(rest: RestWorld) -> None:
    with rest.http() as http:
        r = http.post("/rpc/conformance_void", json={})
    assert r.status_code == 204
    assert r.content == b""


def test_stable_function_runs_read_only(rest: RestWorld) -> None:
    """STABLE/IMMUTABLE functions run in a READ ONLY transaction; VOLATILE via POST not."""
    with rest.client() as client:
        stable = client.rpc("conformance_whoami", {}).execute().data
    assert stable["read_only"] == "on"
    name = f"rpc-{uuid.uuid4().hex[:8]}"
    with rest.client() as client:
        new_id = client.rpc("conformance_insert", {"name": name}).execute().data
    assert isinstance(new_id, int)
    assert rest.sql("select name from public.conformance_writes where id = %s", new_id) == [(name,)]


def test_get_on_volatile_function_is_405(rest: RestWorld) -> None:
    """§5.5: GET runs read-only, so a VOLATILE function that writes fails with 25006 →
    405."""
    with rest.http() as http:
        r = http.get("/rpc/conformance_insert", params={"name": "never"})
    assert r.status_code == 405
    assert r.json()["code"] == "25006"
    assert rest.sql("select count(*) from public.conformance_writes where name = 'never'") == [(0,)]


@pytest.mark.parametrize(
    ("sqlstate", "status"),
    [
        ("P0001", 400),
        ("PT402", 402),
        ("23505", 409),
        ("42P01", 404),
        ("57014", 500),
        ("53300", 503),
        ("22012", 400),
    ],
)
def test_raised_errors_map_to_status(rest: RestWorld, sqlstate: str, status: int) -> None:
    """§3: SQLSTATE → HTTP status; message, detail and hint pass through."""
    with rest.http() as http:
        r = http.post("/rpc/conformance_fail", json={"code": sqlstate})
    assert r.status_code == status
    assert r.json() == {
        "code": sqlstate,
        "message": "failed on purpose",
        "details": "some detail",
        "hint": "some hint",
    }


def test_project_rpc_requires_sign_in(rest: RestWorld) -> None:
    """The project's own `create_organization`: anon lacks EXECUTE → 401 42501 with
    `WWW-Authenticate: Bearer`; a signed-in user gets the new organization object."""
    with rest.http() as http:
        r = http.post("/rpc/create_organization", json={"name": "Nope"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    with rest.client(rest.token("alice")) as client:
        org = client.rpc("create_organization", {"name": "Alice Two"}).execute().data
    assert org["name"] == "Alice Two"
    assert org["created_by"] == rest.users["alice"]["id"]
