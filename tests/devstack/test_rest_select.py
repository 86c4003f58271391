"""GET/HEAD through the PostgREST-compatible server: select, embedding, order, paging,
counts, singular and CSV responses — driven by the official ``postgrest`` client.

Expectations come from PostgREST as docs/devstack.md ("REST") describes it and PostgREST's
documentation ("Resource Embedding",
"Pagination and Count", "Singular or Plural", "Response Formats")."""

from __future__ import annotations

import pytest
from postgrest.exceptions import APIError

from tests.devstack.conftest import RestWorld


def test_select_columns_aliases_casts_and_json_paths(rest: RestWorld) -> None:
    """§2: `alias:col`, `col::type`, `j->k`, `j->>k`; the JSON key of a path is its last
    key (PostgREST docs, "JSON Columns"); numeric/date formats come from PostgreSQL."""
    with rest.client() as client:
        res = (
            client.table("conformance_items")
            .select(
                "id,label:name,price,cost:price::text,data->size,color:data->meta->>color,created"
            )
            .eq("id", 3)
            .execute()
        )
    assert res.data == [
        {
            "id": 3,
            "label": "item 3",
            "price": 3.75,
            "cost": "3.75",
            "size": 3,
            "color": "blue",
            "created": "2026-01-04",
        }
    ]


def test_star_and_array_json_types(rest: RestWorld) -> None:
    """`*` returns every column with PostgreSQL's JSON rendering of arrays and jsonb."""
    with rest.client() as client:
        res = client.table("conformance_items").select("*").eq("id", 5).execute()
    assert res.data == [
        {
            "id": 5,
            "name": "item 5",
            "category": "toys",
            "price": 6.25,
            "tags": ["t1", "all"],
            "data": {"meta": {"color": "blue"}, "size": 0},
            "created": "2026-01-06",
            "active": False,
            "note": None,
        }
    ]


def test_order_limit_offset_and_range(rest: RestWorld) -> None:
    """§2: `order=c.desc`, `.range(a, b)` sent as offset/limit; Content-Range reports the
    page (`2-4/*` without a count)."""
    with rest.client() as client:
        res = (
            client.table("conformance_items")
            .select("id")
            .order("id", desc=True)
            .range(2, 4)
            .execute()
        )
    assert [r["id"] for r in res.data] == [28, 27, 26]
    with rest.http() as http:
        r = http.get(
            "/conformance_items", params={"select": "id", "order": "id", "offset": 2, "limit": 3}
        )
    assert r.status_code == 200
    assert r.headers["content-range"] == "2-4/*"
    assert r.json() == [{"id": 3}, {"id": 4}, {"id": 5}]


def test_order_nulls_first_and_last(rest: RestWorld) -> None:
    """`order=note.desc.nullsfirst` / `.nullslast` (PostgREST docs, "Ordering")."""
    with rest.http() as http:
        first = http.get("/conformance_items?select=id&order=note.desc.nullsfirst,id&limit=2")
        last = http.get(
            "/conformance_items?select=id,note&order=note.asc.nullslast,id.desc&limit=40"
        )
    assert first.json() == [{"id": 5}, {"id": 10}]
    assert last.json()[-1] == {"id": 5, "note": None}


def test_range_header(rest: RestWorld) -> None:
    """PostgREST accepts `Range: 0-4` on GET (reference §2)."""
    with rest.http() as http:
        r = http.get("/conformance_items?select=id&order=id", headers={"Range": "0-4"})
    assert r.status_code == 200
    assert [x["id"] for x in r.json()] == [1, 2, 3, 4, 5]
    assert r.headers["content-range"] == "0-4/*"


def test_exact_count_partial_page_is_206(rest: RestWorld) -> None:
    """§3: with `Prefer: count=exact` the total appears in Content-Range and a partial
    page answers 206; the client reads the count from it."""
    with rest.client() as client:
        res = (
            client.table("conformance_items")
            .select("id", count="exact")
            .eq("category", "food")
            .order("id")
            .limit(3)
            .execute()
        )
    assert res.count == 10
    assert [r["id"] for r in res.data] == [1, 4, 7]
    with rest.http() as http:
        r = http.get(
            "/conformance_items?select=id&category=eq.food&limit=3",
            headers={"Prefer": "count=exact"},
        )
        whole = http.get(
            "/conformance_items?select=id&category=eq.food", headers={"Prefer": "count=exact"}
        )
    assert r.status_code == 206
    assert r.headers["content-range"] == "0-2/10"
    assert whole.status_code == 200
    assert whole.headers["content-range"] == "0-9/10"


def test_planned_and_estimated_counts_act_as_counts(rest: RestWorld) -> None:
    """`count=planned|estimated` give a number (exact here; the brief allows it)."""
    with rest.client() as client:
        for method in ("planned", "estimated"):
            res = client.table("conformance_items").select("id", count=method).limit(1).execute()
            assert res.count == 30


def test_head_has_count_and_no_body(rest: RestWorld) -> None:
    """`head=True` → HEAD: headers only (reference §3 "HEAD has no body")."""
    with rest.client() as client:
        res = client.table("conformance_items").select("*", count="exact", head=True).execute()
    assert res.count == 30
    assert res.data == []
    with rest.http() as http:
        r = http.head("/conformance_items", headers={"Prefer": "count=exact"})
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-range"] == "0-29/30"


def test_empty_result_content_range(rest: RestWorld) -> None:
    """An empty page: `*/0` with a count, `*/*` without (reference §3)."""
    with rest.http() as http:
        counted = http.get("/conformance_items?id=eq.999", headers={"Prefer": "count=exact"})
        plain = http.get("/conformance_items?id=eq.999")
    assert counted.status_code == 200
    assert counted.json() == []
    assert counted.headers["content-range"] == "*/0"
    assert plain.headers["content-range"] == "*/*"


def test_offset_past_the_end_is_416(rest: RestWorld) -> None:
    """§3: an offset past the total with a count → 416 PGRST103."""
    with rest.http() as http:
        r = http.get("/conformance_items?offset=40&limit=5", headers={"Prefer": "count=exact"})
    assert r.status_code == 416
    body = r.json()
    assert body["code"] == "PGRST103"
    assert body["message"] == "Requested range not satisfiable"
    assert set(body) == {"code", "message", "details", "hint"}


def test_max_rows_caps_pages(rest: RestWorld) -> None:
    """Supabase caps rows at db-max-rows (1000) — the cap applies to every page."""
    assert rest.config.db_max_rows == 1000
    with rest.http() as http:
        r = http.get("/conformance_items?select=id&limit=5000")
    assert len(r.json()) == 30


def test_single_returns_object_or_406(rest: RestWorld) -> None:
    """`.single()` sends `Accept: application/vnd.pgrst.object+json`: exactly one row,
    else 406 PGRST116 "The result contains N rows" (reference §2, §5.2)."""
    with rest.client() as client:
        one = client.table("conformance_items").select("id,name").eq("id", 2).single().execute()
        assert one.data == {"id": 2, "name": "item 2"}
        with pytest.raises(APIError) as none:
            client.table("conformance_items").select("id").eq("id", 999).single().execute()
        assert none.value.code == "PGRST116"
        assert none.value.details == "The result contains 0 rows"
        with pytest.raises(APIError) as many:
            client.table("conformance_items").select("id").lt("id", 3).single().execute()
        assert many.value.details == "The result contains 2 rows"
        maybe = (
            client.table("conformance_items").select("id").eq("id", 999).maybe_single().execute()
        )
        assert maybe is None
    with rest.http() as http:
        r = http.get(
            "/conformance_items?id=eq.2&select=id",
            headers={"Accept": "application/vnd.pgrst.object+json"},
        )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.pgrst.object+json")


def test_csv(rest: RestWorld) -> None:
    """`.csv()` → `Accept: text/csv`: a header line and one line per row (PostgREST docs,
    "Response Formats")."""
    with rest.client() as client:
        res = (
            client.table("conformance_items")
            .select("id,name,note")
            .lte("id", 2)
            .order("id")
            .csv()
            .execute()
        )
    assert res.data == 'id,name,note\n1,"item 1",n1\n2,"item 2",n2'


def test_strip_nulls(rest: RestWorld) -> None:
    """`strip_nulls()` → `Accept: application/vnd.pgrst.array+json;nulls=stripped`."""
    with rest.client() as client:
        res = (
            client.table("conformance_items").select("id,note").eq("id", 5).strip_nulls().execute()
        )
    assert res.data == [{"id": 5}]


def test_unsupported_accept_is_406(rest: RestWorld) -> None:
    """An Accept PostgREST cannot produce → 406 PGRST107."""
    with rest.http() as http:
        r = http.get("/conformance_items", headers={"Accept": "application/xml"})
    assert r.status_code == 406
    assert r.json()["code"] == "PGRST107"


def test_view_is_readable(rest: RestWorld) -> None:
    """Views are resources like tables."""
    with rest.client() as client:
        res = client.table("conformance_cheap_items").select("id", count="exact").execute()
    assert res.count == 7


# ------------------------------------------------------------------------- embedding


def test_many_to_one_embed_is_object_or_null(rest: RestWorld) -> None:
    """Many-to-one → object, or null when the FK is null (reference §2); the hint picks
    the foreign key when two lead to the same table (`rel!fkey`)."""
    with rest.client() as client:
        res = (
            client.table("conformance_messages")
            .select(
                "id,sender:conformance_people!conformance_messages_sender_fkey(name),"
                "receiver:conformance_people!receiver_id(name)"
            )
            .order("id")
            .execute()
        )
    assert res.data == [
        {"id": 1, "sender": {"name": "ann"}, "receiver": {"name": "ben"}},
        {"id": 2, "sender": {"name": "ben"}, "receiver": {"name": "ann"}},
        {"id": 3, "sender": {"name": "ann"}, "receiver": None},
        {"id": 4, "sender": {"name": "cid"}, "receiver": {"name": "ann"}},
    ]


def test_one_to_many_embed_is_array_with_filters_order_limit(rest: RestWorld) -> None:
    """One-to-many → array (`[]` when empty); `rel.col=`, `rel.order=`, `rel.limit=`
    filter only the embedded rows (reference §2)."""
    with rest.http() as http:
        r = http.get(
            "/conformance_people",
            params={
                "select": "name,sent:conformance_messages!sender_id(id,body)",
                "sent.order": "id.desc",
                "sent.limit": "1",
                "order": "id",
            },
        )
        filtered = http.get(
            "/conformance_people",
            params={
                "select": "name,sent:conformance_messages!sender_id(id)",
                "sent.id": "eq.3",
                "order": "id",
            },
        )
    assert r.status_code == 200, r.text
    assert r.json() == [
        {"name": "ann", "sent": [{"id": 3, "body": "to nobody"}]},
        {"name": "ben", "sent": [{"id": 2, "body": "hi ann"}]},
        {"name": "cid", "sent": [{"id": 4, "body": "hello"}]},
    ]
    assert filtered.json() == [
        {"name": "ann", "sent": [{"id": 3}]},
        {"name": "ben", "sent": []},
        {"name": "cid", "sent": []},
    ]


def test_inner_embed_filters_parents(rest: RestWorld) -> None:
    """`rel!inner(...)` with an embedded filter drops parents without matches, and the
    count follows (PostgREST docs, "Top-level Filtering")."""
    with rest.client() as client:
        res = (
            client.table("conformance_people")
            .select("name,conformance_messages!sender_id!inner(id)", count="exact")
            .eq("conformance_messages.body", "hello")
            .execute()
        )
    assert res.data == [{"name": "cid", "conformance_messages": [{"id": 4}]}]
    assert res.count == 1


def test_one_to_one_embed_is_object(rest: RestWorld) -> None:
    """A FK whose columns are the child's primary key is one-to-one → object/null."""
    with rest.http() as http:
        r = http.get("/conformance_people?select=name,conformance_profiles(bio)&order=id")
    assert r.json() == [
        {"name": "ann", "conformance_profiles": {"bio": "ann bio"}},
        {"name": "ben", "conformance_profiles": None},
        {"name": "cid", "conformance_profiles": None},
    ]


def test_nested_embeds(rest: RestWorld) -> None:
    """Embeds nest: people → messages → receiver."""
    with rest.http() as http:
        r = http.get(
            "/conformance_people",
            params={
                "select": (
                    "name,conformance_messages!sender_id("
                    "id,to:conformance_people!receiver_id(name,conformance_profiles(bio)))"
                ),
                "id": "eq.1",
                "conformance_messages.order": "id",
            },
        )
    assert r.json() == [
        {
            "name": "ann",
            "conformance_messages": [
                {"id": 1, "to": {"name": "ben", "conformance_profiles": None}},
                {"id": 3, "to": None},
            ],
        }
    ]


def test_ambiguous_embed_is_300_pgrst201(rest: RestWorld) -> None:
    """Two FKs between the same tables without a hint → 300 PGRST201 with the
    candidates in details (PostgREST docs, "Errors")."""
    with rest.http() as http:
        r = http.get("/conformance_messages?select=*,conformance_people(*)")
    assert r.status_code == 300
    body = r.json()
    assert body["code"] == "PGRST201"
    assert len(body["details"]) == 2
    assert "conformance_people!conformance_messages_sender_fkey" in body["hint"]


def test_no_relationship_is_400_pgrst200(rest: RestWorld) -> None:
    """Embedding unrelated tables → 400 PGRST200."""
    with rest.client() as client, pytest.raises(APIError) as exc:
        client.table("conformance_items").select("*,conformance_people(*)").execute()
    assert exc.value.code == "PGRST200"
    assert exc.value.message == (
        "Could not find a relationship between 'conformance_items' and "
        "'conformance_people' in the schema cache"
    )


def test_embedding_real_schema_through_composite_keys(rest: RestWorld) -> None:
    """The project's own tables: invoices → clients over the composite FK
    (organization_id, client_id, currency) and clients → invoices back."""
    alice = rest.users["alice"]
    rest.sql(
        "insert into public.invoices (organization_id, client_id, invoice_number, due_date)"
        " values (%s, %s, 'EMB-1', current_date + 30) on conflict do nothing",
        alice["org"],
        alice["client"],
    )
    with rest.client(rest.token("alice")) as client:
        res = (
            client.table("invoices")
            .select("invoice_number,clients(company_name),organizations(name)")
            .eq("invoice_number", "EMB-1")
            .execute()
        )
        back = (
            client.table("clients")
            .select("company_name,invoices(invoice_number)")
            .eq("id", alice["client"])
            .execute()
        )
    assert res.data[0]["clients"] == {"company_name": "alice client"}
    assert res.data[0]["organizations"]["name"]
    assert {"invoice_number": "EMB-1"} in back.data[0]["invoices"]


def test_spread_null_filter_and_related_order(rest: RestWorld) -> None:
    """`...rel(col)` lifts a to-one embed's columns into the parent (PostgREST v12);
    `rel=not.is.null` keeps rows whose embed exists; `order=rel(col)` orders by a to-one
    embed's column (PostgREST docs, "Spread embedded resource", "Null filtering on
    Embedded Resources", "Ordering")."""
    with rest.http() as http:
        spread = http.get(
            "/conformance_messages?select=id,...conformance_people!sender_id(sender:name)"
            "&order=id&id=lt.3"
        )
        nonnull = http.get(
            "/conformance_messages?select=id,r:conformance_people!receiver_id(name)"
            "&r=not.is.null&order=id"
        )
        ordered = http.get(
            "/conformance_messages?select=id,s:conformance_people!sender_id(name)"
            "&order=s(name).desc,id"
        )
    assert spread.json() == [{"id": 1, "sender": "ann"}, {"id": 2, "sender": "ben"}]
    assert [row["id"] for row in nonnull.json()] == [1, 2, 4]
    assert [row["id"] for row in ordered.json()] == [4, 2, 1, 3]
