"""POST/PATCH/DELETE: inserts, bulk inserts, upserts, updates, deletes, `Prefer` and the
singular rollback (reference §2-§3; PostgREST docs, "Insert", "Upsert", "Update",
"Delete", "Prefer Header")."""

from __future__ import annotations

import uuid

import pytest
from postgrest.exceptions import APIError

from tests.devstack.conftest import RestWorld


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_insert_returns_representation_201(rest: RestWorld) -> None:
    """insert → POST with `return=representation` (default): 201 and the rows, with the
    defaults PostgreSQL filled in; `Content-Range: */*`."""
    name = unique("ins")
    with rest.client() as client:
        res = client.table("conformance_writes").insert({"name": name, "qty": 2}).execute()
    assert len(res.data) == 1
    row = res.data[0]
    assert row["name"] == name
    assert row["qty"] == 2
    assert row["note"] == "none"  # only the payload's keys are inserted: DEFAULT for the rest
    with rest.http() as http:
        r = http.post(
            "/conformance_writes",
            json={"name": unique("raw")},
            headers={"Prefer": "return=representation"},
        )
    assert r.status_code == 201
    assert r.headers["content-range"] == "*/*"
    assert r.json()[0]["qty"] == 5  # not a payload column → column default


def test_insert_minimal_and_headers_only(rest: RestWorld) -> None:
    """`return=minimal` → 201 with no body; the client then sees `data == []`."""
    with rest.client() as client:
        res = (
            client.table("conformance_writes")
            .insert({"name": unique("min")}, returning="minimal")
            .execute()
        )
    assert res.data == []
    with rest.http() as http:
        r = http.post(
            "/conformance_writes",
            json={"name": unique("hdr")},
            headers={"Prefer": "return=headers-only"},
        )
    assert r.status_code == 201
    assert r.content == b""


def test_bulk_insert_with_columns_and_missing_keys(rest: RestWorld) -> None:
    """A list payload sends `columns=` (every key of every row); a key missing in one row
    is NULL there — or the column DEFAULT with `missing=default` (reference §2)."""
    a, b = unique("bulk"), unique("bulk")
    with rest.client() as client:
        with pytest.raises(APIError) as exc:
            # qty missing in row b → NULL → NOT NULL violation 23502
            client.table("conformance_writes").insert(
                [{"name": a, "qty": 1}, {"name": b}]
            ).execute()
        assert exc.value.code == "23502"
        res = (
            client.table("conformance_writes")
            .insert([{"name": a, "qty": 1}, {"name": b}], default_to_null=False)
            .execute()
        )
    assert [(r["name"], r["qty"]) for r in res.data] == [(a, 1), (b, 5)]
    assert res.data[1]["note"] == "none"


def test_mismatched_keys_without_columns_is_pgrst102(rest: RestWorld) -> None:
    """An array without `columns=` whose objects differ in keys → 400 PGRST102."""
    with rest.http() as http:
        r = http.post("/conformance_writes", json=[{"name": unique("k")}, {"qty": 1}])
        bad = http.post(
            "/conformance_writes",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 400
    assert r.json() == {
        "code": "PGRST102",
        "details": None,
        "hint": None,
        "message": "All object keys must match",
    }
    assert bad.status_code == 400
    assert bad.json()["code"] == "PGRST102"


def test_unknown_column_is_pgrst204(rest: RestWorld) -> None:
    """A key that is not a column → 400 PGRST204 (reference §2)."""
    with rest.client() as client, pytest.raises(APIError) as exc:
        client.table("conformance_writes").insert({"name": "x", "colour": "red"}).execute()
    assert exc.value.code == "PGRST204"
    assert exc.value.message == (
        "Could not find the 'colour' column of 'conformance_writes' in the schema cache"
    )


def test_unique_violation_is_409(rest: RestWorld) -> None:
    """23505 → 409 with PostgreSQL's message and detail passed through."""
    name = unique("dup")
    with rest.client() as client:
        client.table("conformance_writes").insert({"name": name}).execute()
        with pytest.raises(APIError) as exc:
            client.table("conformance_writes").insert({"name": name}).execute()
    assert exc.value.code == "23505"
    assert "already exists" in str(exc.value.details)
    with rest.http() as http:
        r = http.post("/conformance_writes", json={"name": name})
    assert r.status_code == 409


def test_check_violation_is_400(rest: RestWorld) -> None:
    """23514 → 400."""
    with rest.http() as http:
        r = http.post("/conformance_writes", json={"name": unique("neg"), "qty": -1})
    assert r.status_code == 400
    assert r.json()["code"] == "23514"


def test_upsert_merge_and_ignore(rest: RestWorld) -> None:
    """upsert → `resolution=merge-duplicates` (+ `on_conflict=`): the conflicting row is
    updated; `ignore-duplicates` leaves it and returns nothing for it (PostgREST docs,
    "Upsert")."""
    name = unique("ups")
    with rest.client() as client:
        client.table("conformance_writes").insert({"name": name, "qty": 1}).execute()
        merged = (
            client.table("conformance_writes")
            .upsert({"name": name, "qty": 9}, on_conflict="name")
            .execute()
        )
        assert [(r["name"], r["qty"]) for r in merged.data] == [(name, 9)]
        ignored = (
            client.table("conformance_writes")
            .upsert({"name": name, "qty": 3}, on_conflict="name", ignore_duplicates=True)
            .execute()
        )
        assert ignored.data == []
        now = client.table("conformance_writes").select("qty").eq("name", name).single().execute()
    assert now.data == {"qty": 9}


def test_upsert_on_primary_key_bulk(rest: RestWorld) -> None:
    """Without `on_conflict` the primary key is the conflict target."""
    with rest.client() as client:
        rows = (
            client.table("conformance_writes")
            .insert([{"name": unique("pk")}, {"name": unique("pk")}])
            .execute()
            .data
        )
        res = (
            client.table("conformance_writes")
            .upsert(
                [
                    {"id": rows[0]["id"], "name": rows[0]["name"], "qty": 42},
                    {"id": rows[1]["id"], "name": rows[1]["name"], "qty": 43},
                ]
            )
            .execute()
        )
    assert sorted(r["qty"] for r in res.data) == [42, 43]


def test_update_with_filters(rest: RestWorld) -> None:
    """update → PATCH with filters: 200 with the changed rows; `minimal` → 204."""
    name = unique("upd")
    with rest.client() as client:
        client.table("conformance_writes").insert({"name": name}).execute()
        res = client.table("conformance_writes").update({"qty": 7}).eq("name", name).execute()
        assert [(r["name"], r["qty"]) for r in res.data] == [(name, 7)]
        none = client.table("conformance_writes").update({"qty": 7}).eq("name", "nobody").execute()
        assert none.data == []
    with rest.http() as http:
        r = http.patch(f"/conformance_writes?name=eq.{name}", json={"qty": 8})
        rep = http.patch(
            f"/conformance_writes?name=eq.{name}",
            json={"note": "x"},
            headers={"Prefer": "return=representation, count=exact"},
        )
    assert r.status_code == 204
    assert rep.status_code == 200
    assert rep.headers["content-range"] == "0-0/1"
    assert rep.json()[0]["qty"] == 8


def test_update_unknown_column_is_pgrst204(rest: RestWorld) -> None:
    with rest.http() as http:
        r = http.patch("/conformance_writes?id=eq.1", json={"nope": 1})
    assert r.status_code == 400
    assert r.json()["code"] == "PGRST204"


def test_delete_with_filters(rest: RestWorld) -> None:
    """delete → DELETE with filters (the client sends a `{}` body, ignored)."""
    name = unique("del")
    with rest.client() as client:
        client.table("conformance_writes").insert({"name": name}).execute()
        res = client.table("conformance_writes").delete().eq("name", name).execute()
        assert [r["name"] for r in res.data] == [name]
        again = client.table("conformance_writes").delete().eq("name", name).execute()
        assert again.data == []
    with rest.http() as http:
        r = http.delete("/conformance_writes?name=eq.nobody")
    assert r.status_code == 204


def test_singular_write_rolls_back(rest: RestWorld) -> None:
    """A singular write that touches 2 rows → 406 PGRST116 and nothing changes
    (reference §2: "and rollback, also for writes")."""
    a, b = unique("sg"), unique("sg")
    with rest.client() as client:
        client.table("conformance_writes").insert([{"name": a}, {"name": b}]).execute()
    with rest.http() as http:
        r = http.patch(
            f"/conformance_writes?name=in.({a},{b})",
            json={"qty": 99},
            headers={
                "Accept": "application/vnd.pgrst.object+json",
                "Prefer": "return=representation",
            },
        )
        one = http.patch(
            f"/conformance_writes?name=eq.{a}",
            json={"qty": 98},
            headers={
                "Accept": "application/vnd.pgrst.object+json",
                "Prefer": "return=representation",
            },
        )
    assert r.status_code == 406
    assert r.json()["details"] == "The result contains 2 rows"
    assert one.status_code == 200
    assert one.json()["qty"] == 98
    rows = rest.sql(
        "select name, qty from public.conformance_writes where name in (%s, %s) order by name", a, b
    )
    assert dict(rows) == {a: 98, b: 5}


def test_insert_select_with_embed(rest: RestWorld) -> None:
    """`insert(...).select(...)` style: POST with `select=` embeds in the returned rows."""
    with rest.http() as http:
        r = http.post(
            "/conformance_messages?select=id,sender:conformance_people!sender_id(name)",
            json={"id": 100 + uuid.uuid4().int % 100000, "body": "x", "sender_id": 2},
            headers={"Prefer": "return=representation"},
        )
    assert r.status_code == 201, r.text
    assert r.json()[0]["sender"] == {"name": "ben"}


def test_foreign_key_violation_is_409(rest: RestWorld) -> None:
    """23503 → 409."""
    with rest.http() as http:
        r = http.post("/conformance_messages", json={"id": 999999, "body": "x", "sender_id": 77})
    assert r.status_code == 409
    assert r.json()["code"] == "23503"


def test_max_affected_strict(rest: RestWorld) -> None:
    """`max_affected()` (PostgREST v13): more rows than allowed → 400 PGRST124 and rollback."""
    a, b = unique("ma"), unique("ma")
    with rest.client() as client:
        client.table("conformance_writes").insert([{"name": a}, {"name": b}]).execute()
        with pytest.raises(APIError) as exc:
            client.table("conformance_writes").update({"qty": 1}).in_("name", [a, b]).max_affected(
                1
            ).execute()
    assert exc.value.code == "PGRST124"
    assert rest.sql(
        "select count(*) from public.conformance_writes where qty = 1 and name in (%s, %s)", a, b
    ) == [(0,)]
