"""Horizontal filtering: every operator of reference §2 through the official client and
raw query strings (PostgREST docs, "Horizontal Filtering", "Logical operators")."""

from __future__ import annotations

import pytest

from tests.devstack.conftest import RestWorld


def ids(rest: RestWorld, query: str) -> list[int]:
    with rest.http() as http:
        r = http.get(f"/conformance_items?select=id&order=id&{query}")
    assert r.status_code == 200, r.text
    return [row["id"] for row in r.json()]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("id=eq.4", [4]),
        ("id=neq.4&id=lt.6", [1, 2, 3, 5]),
        ("id=gt.27", [28, 29, 30]),
        ("id=gte.29", [29, 30]),
        ("id=lt.3", [1, 2]),
        ("id=lte.2", [1, 2]),
        ("name=like.item 1*", [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]),
        ("name=like.%252", [2, 12, 22]),  # `%` (percent-encoded) works as well as `*`
        ("name=ilike.ITEM 2_", [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]),
        ("id=in.(1,3,5)", [1, 3, 5]),
        ('note=in.(n1,"n2",x)', [1, 2]),
        ("id=in.()", []),
        ("note=is.null", [5, 10, 15, 20, 25, 30]),
        ("active=is.true&id=lte.4", [2, 4]),
        ("active=is.false&id=lte.4", [1, 3]),
        ("id=not.lte.28", [29, 30]),
        ("note=not.is.null&id=gte.29", [29]),
        ("id=not.in.(1,2,3)&id=lt.6", [4, 5]),
        ("tags=cs.{t1}&id=lt.10", [1, 5, 9]),
        ("tags=cd.{t2,all,x}&id=lt.10", [2, 6]),
        ("tags=ov.{t3,zzz}&id=lt.10", [3, 7]),
        ('data=cs.{"size":4}', [4, 9, 14, 19, 24, 29]),
        ("data->>size=eq.4&id=lt.10", [4, 9]),
        ("data->meta->>color=eq.red&id=lt.5", [2, 4]),
        ("price=gt.36", [29, 30]),
        ("created=gte.2026-01-30", [29, 30]),
        ("name=match.^item [12]$", [1, 2]),
        ("name=imatch.^ITEM 3$", [3]),
    ],
)
def test_operator(rest: RestWorld, query: str, expected: list[int]) -> None:
    """Each operator maps to its SQL counterpart; values are bound, never spliced."""
    assert ids(rest, query) == expected


def test_empty_filter_value_is_ignored(rest: RestWorld) -> None:
    """Reference §2: parameters with empty values are ignored."""
    assert len(ids(rest, "note=")) == 30


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("or=(id.eq.1,id.eq.30)", [1, 30]),
        ("or=(id.lt.3,and(id.gt.27,note.is.null))", [1, 2, 30]),
        ("and=(id.gt.2,id.lt.5)", [3, 4]),
        ("not.or=(id.gt.2,note.is.null)", [1, 2]),
        ('or=(note.in.(n1,n3),name.eq."item 4")', [1, 3, 4]),
        ("or=(id.not.gt.1,data->>size.eq.4)&id=lt.10", [1, 4, 9]),
        ("or=(name.like.item 2*,id.eq.1)&id=lt.21", [1, 2, 20]),
        ("and=(id.lt.10,or(id.eq.2,id.eq.3),not.and(id.eq.3,active.is.false))", [2]),
    ],
)
def test_logic_trees(rest: RestWorld, query: str, expected: list[int]) -> None:
    """`or=(...)`, `and=(...)`, nesting, `not.or`, quoted values (reference §2)."""
    assert ids(rest, query) == expected


def test_client_filter_methods(rest: RestWorld) -> None:
    """The client's builders emit the query strings above (postgrest-py source)."""
    with rest.client() as client:
        table = client.table("conformance_items")
        assert [
            r["id"]
            for r in table.select("id").in_("note", ["n1", "a,b", "n2"]).order("id").execute().data
        ] == [1, 2]
        assert [
            r["id"]
            for r in table.select("id").is_("note", None).lt("id", 11).order("id").execute().data
        ] == [5, 10]
        assert [
            r["id"]
            for r in table.select("id")
            .not_.is_("note", None)
            .lt("id", 3)
            .order("id")
            .execute()
            .data
        ] == [1, 2]
        assert [
            r["id"]
            for r in table.select("id")
            .contains("tags", ["t1"])
            .lt("id", 6)
            .order("id")
            .execute()
            .data
        ] == [1, 5]
        assert [
            r["id"]
            for r in table.select("id")
            .contained_by("tags", ["t2", "all"])
            .lt("id", 7)
            .order("id")
            .execute()
            .data
        ] == [2, 6]
        assert [
            r["id"]
            for r in table.select("id")
            .overlaps("tags", ["t3"])
            .lt("id", 8)
            .order("id")
            .execute()
            .data
        ] == [3, 7]
        assert [
            r["id"]
            for r in table.select("id")
            .contains("data", {"size": 1})
            .lt("id", 7)
            .order("id")
            .execute()
            .data
        ] == [1, 6]
        assert [
            r["id"] for r in table.select("id").or_("id.eq.2,id.eq.4").order("id").execute().data
        ] == [2, 4]
        assert [r["id"] for r in table.select("id").not_.or_("id.gt.1").execute().data] == [1]
        assert [r["id"] for r in table.select("id").ilike("name", "%M 7").execute().data] == [7]
        assert [
            r["id"]
            for r in table.select("id")
            .match({"category": "food", "active": False})
            .lt("id", 8)
            .order("id")
            .execute()
            .data
        ] == [1, 7]
        assert [
            r["id"]
            for r in table.select("id")
            .neq("category", "food")
            .gte("id", 29)
            .order("id")
            .execute()
            .data
        ] == [29, 30]
        assert [
            r["id"]
            for r in table.select("id")
            .like_any_of("name", "item 1,item 2")
            .order("id")
            .execute()
            .data
        ] == [1, 2]


def test_filter_on_embedded_or(rest: RestWorld) -> None:
    """`rel.or=(...)` filters the embedded rows (postgrest-py `or_(..., reference_table)`)."""
    with rest.client() as client:
        res = (
            client.table("conformance_people")
            .select("name,conformance_messages!sender_id(id)")
            .or_("id.eq.1,id.eq.4", reference_table="conformance_messages")
            .eq("id", 1)
            .execute()
        )
    assert res.data == [{"name": "ann", "conformance_messages": [{"id": 1}]}]


def test_full_text_search(rest: RestWorld) -> None:
    """fts/plfts/phfts/wfts with an optional config: `col=fts(english).query`."""
    assert ids(rest, "name=fts.item%20%26%2012") == [12]
    assert ids(rest, "name=plfts(simple).item 13") == [13]
    assert ids(rest, "name=wfts.item 14") == [14]


def test_malformed_filters_are_pgrst100(rest: RestWorld) -> None:
    """Unparseable filters/logic trees/order → 400 PGRST100 (reference §3)."""
    with rest.http() as http:
        for query in ("id=foo.1", "or=(id.eq.1", "order=id.sideways", "id=in.1,2", "limit=x"):
            r = http.get(f"/conformance_items?{query}")
            assert r.status_code == 400, query
            assert r.json()["code"] == "PGRST100", query


def test_filter_on_unknown_column_is_postgres_42703(rest: RestWorld) -> None:
    """PostgREST leaves unknown columns to PostgreSQL: 400 with SQLSTATE 42703."""
    with rest.http() as http:
        r = http.get("/conformance_items?nope=eq.1")
    assert r.status_code == 400
    assert r.json()["code"] == "42703"
    assert r.json()["message"] == "column conformance_items.nope does not exist"


def test_bad_value_for_type_is_22p02(rest: RestWorld) -> None:
    """A value PostgreSQL cannot read as the column's type → 400 22P02."""
    with rest.http() as http:
        r = http.get("/conformance_items?id=eq.abc")
    assert r.status_code == 400
    assert r.json()["code"] == "22P02"


def test_values_are_never_sql(rest: RestWorld) -> None:
    """Injection attempts are just values (safe by construction)."""
    assert ids(rest, "name=eq.x'); drop table conformance_items; --") == []
    with rest.http() as http:
        r = http.get('/conformance_items?select=id&order=id"desc')
    assert r.status_code == 400
    assert ids(rest, "id=lt.2") == [1]
