"""The clients routes: list, create, get, update, delete, bulk delete.

The world is shared with other test files, so every test scopes what it asserts: by a
unique search term (a per-test tag in the company names) or by an organization of its
own (``world.add_person`` gives each new person a personal organization).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.formatting import minor_unit
from tests.api.conftest import Api, Person, Response, World

CLIENTS = "/api/clients"


def tag() -> str:
    return uuid.uuid4().hex[:10]


def create(api: Api, as_: str = "alice", **fields: Any) -> dict[str, Any]:
    reply = api.post(CLIENTS, as_=as_, json_body=fields)
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def fresh_owner(world: World, name: str) -> Person:
    """A new person owning a new organization: a place with no one else's clients."""
    return world.add_person(f"{name}-{tag()}")


def add_invoice(
    world: World,
    client: dict[str, Any],
    total: str,
    *,
    status: str = "sent",
    issued: date | None = None,
) -> str:
    """An invoice of ``total`` (one item, no tax) for ``client``, written as the superuser."""
    issued = issued or date.today()
    invoice_id: str = world.sql(
        "insert into public.invoices (organization_id, client_id, invoice_number, issue_date,"
        " due_date) values (%s, %s, %s, %s, %s) returning id::text",
        client["organization_id"],
        client["id"],
        f"T-{tag()}",
        issued,
        issued + timedelta(days=30),
    )[0][0]
    world.sql(
        "insert into public.invoice_items (invoice_id, description, quantity, rate)"
        " values (%s, 'work', 1, %s)",
        invoice_id,
        total,
    )
    if status != "draft":
        world.sql("update public.invoices set status = %s where id = %s", status, invoice_id)
    return invoice_id


def client_row(world: World, client_id: str) -> dict[str, Any] | None:
    rows = world.sql(
        "select company_name, email, currency, status, notes from public.clients where id = %s",
        client_id,
    )
    if not rows:
        return None
    keys = ("company_name", "email", "currency", "status", "notes")
    return dict(zip(keys, rows[0], strict=True))


def notes_of(world: World, client_id: str) -> Any:
    row = client_row(world, client_id)
    assert row is not None, "the client is gone"
    return row["notes"]


def request_id(reply: Response) -> str:
    """The request id of the X-Request-Id header (error replies carry the header twice,
    which transports join with a comma: a shared/api.py quirk reported upstream)."""
    ids = {part.strip() for part in reply.headers["x-request-id"].split(",")}
    assert len(ids) == 1
    return ids.pop()


def fields_of(reply: Response) -> list[str]:
    return [d["field"] for d in reply.error["details"]]


# ----------------------------------------------------------------------------- create


def test_create_answers_201_with_the_whole_client(api: Api, world: World) -> None:
    t = tag()
    reply = api.post(
        CLIENTS,
        as_="alice",
        json_body={
            "company_name": f"  Acme {t}  ",
            "contact_person": "Ada Lovelace",
            "email": "billing@acme.test",
            "phone": "+44 20 7946 0000",
            "address": "1 Main St",
            "notes": "pays on time",
            "currency": "EUR",
            "status": "pending",
            "billing_frequency": "quarterly",
            "avatar_url": "https://cdn.example.test/acme.png",
        },
    )
    assert reply.status == 201, reply.json()
    body = reply.json()
    created_at = body.pop("created_at")
    updated_at = body.pop("updated_at")
    client_id = body.pop("id")
    assert body == {
        "organization_id": world.org_a,
        "company_name": f"Acme {t}",
        "contact_person": "Ada Lovelace",
        "email": "billing@acme.test",
        "phone": "+44 20 7946 0000",
        "address": "1 Main St",
        "notes": "pays on time",
        "currency": "EUR",
        "status": "pending",
        "billing_frequency": "quarterly",
        "avatar_url": "https://cdn.example.test/acme.png",
        "total_billed": "0.00",
        "outstanding_balance": "0.00",
        "last_invoice_date": None,
        "created_by": world.people["alice"].id,
        # The buyer's fields (docs/api.md, "Parties"), none given.
        **dict.fromkeys(
            (
                "address_line1",
                "address_line2",
                "city",
                "postal_code",
                "subdivision",
                "country_code",
                "vat_id",
                "vat_id_hash",
                "legal_registration_id",
                "buyer_reference",
                "einvoice_format",
                "electronic_address",
                "electronic_address_scheme",
            )
        ),
    }
    assert created_at == updated_at
    assert created_at.endswith(("Z", "+00:00"))
    assert uuid.UUID(client_id)
    assert client_row(world, client_id) == {
        "company_name": f"Acme {t}",
        "email": "billing@acme.test",
        "currency": "EUR",
        "status": "pending",
        "notes": "pays on time",
    }
    # The timeline starts with a 'new' activity.
    assert world.sql(
        "select type, activity from public.client_activities where client_id = %s", client_id
    ) == [("new", f"Client Acme {t} created")]


def test_create_defaults_currency_status_and_frequency(api: Api, world: World) -> None:
    owner = fresh_owner(world, "cl-defaults")
    world.sql(
        "update public.organization_settings set default_currency = 'GBP'"
        " where organization_id = %s",
        owner.personal_org,
    )
    body = create(api, as_=owner.name, company_name="Defaults Ltd", email="", contact_person=" ")
    assert {k: body[k] for k in ("currency", "status", "billing_frequency")} == {
        "currency": "GBP",
        "status": "active",
        "billing_frequency": "monthly",
    }
    # Blank optional text is no value.
    assert body["email"] is None
    assert body["contact_person"] is None
    assert body["organization_id"] == owner.personal_org


def test_create_presents_totals_at_the_currency_scale(api: Api) -> None:
    t = tag()
    jpy = create(api, company_name=f"Yen {t}", currency="JPY")
    kwd = create(api, company_name=f"Dinar {t}", currency="KWD")
    assert (jpy["total_billed"], jpy["outstanding_balance"]) == ("0", "0")
    assert (kwd["total_billed"], kwd["outstanding_balance"]) == ("0.000", "0.000")


def test_minor_units_match_the_database(world: World) -> None:
    codes = ["USD", "EUR", "JPY", "KRW", "CLP", "XOF", "KWD", "BHD", "TND", "GBP", "CHF"]
    rows = world.sql(
        "select c, private.currency_minor_unit(c) from unnest(%s::text[]) c order by c", codes
    )
    assert dict(rows) == {code: minor_unit(code) for code in codes}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"company_name": "X", "total_billed": 5},
            "total_billed",
            "Extra inputs are not permitted",
        ),
        (
            {"company_name": "X", "outstanding_balance": "0"},
            "outstanding_balance",
            "Extra inputs are not permitted",
        ),
        ({"company_name": "X", "organization_id": str(uuid.uuid4())}, "organization_id", None),
        (
            {"company_name": "X", "email": "not-an-email"},
            "email",
            "value is not a valid email address",
        ),
        ({"company_name": "X", "email": "a b@c.de"}, "email", "value is not a valid email address"),
        ({"company_name": "X", "status": "gone"}, "status", None),
        ({"company_name": "X", "billing_frequency": "weekly"}, "billing_frequency", None),
        ({"company_name": "X", "currency": "usd"}, "currency", None),
        ({"company_name": "X", "currency": "EURO"}, "currency", None),
        ({"company_name": ""}, "company_name", "String should have at least 1 character"),
        ({"company_name": "   "}, "company_name", "String should have at least 1 character"),
        ({"company_name": "x" * 201}, "company_name", "String should have at most 200 characters"),
        (
            {"company_name": "X", "phone": "1" * 51},
            "phone",
            "String should have at most 50 characters",
        ),
        ({"company_name": "X", "notes": "n" * 5001}, "notes", None),
        ({"company_name": None}, "company_name", None),
        ({"email": "a@b.cd"}, "company_name", "Field required"),
        ({"company_name": 12}, "company_name", None),
    ],
)
def test_create_validation(
    api: Api, world: World, body: dict[str, Any], field: str, message: str | None
) -> None:
    marker = f"validation-{tag()}"
    reply = api.post(CLIENTS, as_="alice", json_body={**body, "notes": body.get("notes", marker)})
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert fields_of(reply) == [field]
    assert reply.error["details"][0]["in"] == "body"
    if message is not None:
        assert reply.error["details"][0]["message"] == message
        assert reply.error["message"] == f"{field}: {message}"
    assert world.sql("select count(*) from public.clients where notes = %s", marker) == [(0,)]


def test_create_malformed_json_is_400(api: Api) -> None:
    reply = api.post(CLIENTS, as_="alice", content=b'{"company_name": "X",')
    assert reply.status == 400
    assert reply.error["code"] == "malformed_json"


def test_create_as_viewer_is_403_and_writes_nothing(api: Api, world: World) -> None:
    name = f"Viewer Made {tag()}"
    reply = api.post(CLIENTS, as_="victor", json_body={"company_name": name})
    assert reply.status == 403
    assert reply.error["code"] == "forbidden"
    assert world.sql("select count(*) from public.clients where company_name = %s", name) == [(0,)]


def test_create_as_member_is_201(api: Api, world: World) -> None:
    body = create(api, as_="maria", company_name=f"Maria's {tag()}")
    assert body["organization_id"] == world.org_a
    assert body["created_by"] == world.people["maria"].id


def test_create_without_token_is_401(api: Api) -> None:
    reply = api.post(CLIENTS, json_body={"company_name": "Nobody"})
    assert reply.status == 401
    assert reply.error["code"] == "missing_token"


# ------------------------------------------------------------------------------- list


@pytest.fixture(scope="module")
def listed(api: Api, world: World) -> Iterator[dict[str, Any]]:
    """An organization of its own with five clients of known totals."""
    owner = fresh_owner(world, "cl-lister")
    specs = [
        ("Beta Works", "Bob Stone", "ops@beta.test", "active", "monthly"),
        ("Alpha Studio", "Carla Diaz", "hello@alpha.test", "pending", "quarterly"),
        ("Gamma 100% Pure", None, "gamma@pure.test", "inactive", "annually"),
        ("Delta_Co", "Ann Delta", None, "active", "one-time"),
        ("Epsilon", "Eve Adams", "eve@EXAMPLE.test", "active", "monthly"),
    ]
    clients: dict[str, dict[str, Any]] = {}
    for name, contact, email, status, frequency in specs:
        clients[name] = create(
            api,
            as_=owner.name,
            company_name=name,
            contact_person=contact,
            email=email,
            status=status,
            billing_frequency=frequency,
        )
    # Billed / outstanding: Beta 300 / 300, Alpha 50 / 50, Epsilon 1200.50 / 200.50
    # (1000 of it paid); Gamma and Delta were never invoiced.
    add_invoice(world, clients["Beta Works"], "300.00", issued=date(2026, 3, 1))
    add_invoice(world, clients["Alpha Studio"], "50.00", issued=date(2026, 1, 15))
    add_invoice(world, clients["Epsilon"], "1000.00", issued=date(2025, 12, 1))
    add_invoice(world, clients["Epsilon"], "200.50", issued=date(2026, 2, 1))
    world.sql(
        "insert into public.payments (invoice_id, amount) select id, 1000 from public.invoices"
        " where client_id = %s and total_amount = 1000",
        clients["Epsilon"]["id"],
    )
    yield {"owner": owner, "clients": clients}
    # The database is shared by the whole session, and some pgTAP files count every
    # payment in it (090-rls-payments.sql): leave none behind.
    world.sql(
        "delete from public.payments where invoice_id in"
        " (select id from public.invoices where client_id = %s)",
        clients["Epsilon"]["id"],
    )


def names(reply: Response) -> list[str]:
    assert reply.status == 200, reply.json()
    return [row["company_name"] for row in reply.json()["data"]]


def test_list_defaults_to_company_name_order_with_pagination(
    any_api: Api, listed: dict[str, Any]
) -> None:
    reply = any_api.get(CLIENTS, as_=listed["owner"].name)
    assert names(reply) == ["Alpha Studio", "Beta Works", "Delta_Co", "Epsilon", "Gamma 100% Pure"]
    assert reply.json()["pagination"] == {"page": 1, "page_size": 25, "total": 5, "total_pages": 1}


def test_list_rows_carry_totals_as_decimal_strings(api: Api, listed: dict[str, Any]) -> None:
    reply = api.get(CLIENTS, as_=listed["owner"].name, query={"q": "epsilon"})
    [row] = reply.json()["data"]
    assert row["id"] == listed["clients"]["Epsilon"]["id"]
    assert (row["total_billed"], row["outstanding_balance"], row["last_invoice_date"]) == (
        "1200.50",
        "200.50",
        "2026-02-01",
    )
    assert (row["email"], row["status"], row["billing_frequency"]) == (
        "eve@EXAMPLE.test",
        "active",
        "monthly",
    )


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("BETA", ["Beta Works"]),  # company name, any case
        ("carla", ["Alpha Studio"]),  # contact person
        ("example.TEST", ["Epsilon"]),  # email
        ("a", ["Alpha Studio", "Beta Works", "Delta_Co", "Epsilon", "Gamma 100% Pure"]),
        ("%", ["Gamma 100% Pure"]),  # a LIKE wildcard is searched for, not obeyed
        ("_", ["Delta_Co"]),
        ("a_c", ["Delta_Co"]),
        ("0% P", ["Gamma 100% Pure"]),
        ("  works  ", ["Beta Works"]),  # trimmed
        ("no such client", []),
        # Nothing is left of a term made only of PostgREST's reserved characters (and its
        # wildcard): no search at all.
        ("*", ["Alpha Studio", "Beta Works", "Delta_Co", "Epsilon", "Gamma 100% Pure"]),
        ("(,)", ["Alpha Studio", "Beta Works", "Delta_Co", "Epsilon", "Gamma 100% Pure"]),
    ],
)
def test_list_search(api: Api, listed: dict[str, Any], q: str, expected: list[str]) -> None:
    reply = api.get(CLIENTS, as_=listed["owner"].name, query={"q": q})
    assert names(reply) == expected
    assert reply.json()["pagination"]["total"] == len(expected)


def test_list_search_ignores_postgrest_grammar(api: Api, listed: dict[str, Any]) -> None:
    """Commas, parentheses and quotes cannot add conditions to the or=(...) filter."""
    reply = api.get(CLIENTS, as_=listed["owner"].name, query={"q": 'beta,status.eq.inactive)"(:\\'})
    assert names(reply) == []
    reply = api.get(CLIENTS, as_=listed["owner"].name, query={"q": "(Beta)"})
    assert names(reply) == ["Beta Works"]


def test_list_filters(api: Api, listed: dict[str, Any]) -> None:
    owner = listed["owner"].name
    assert names(api.get(CLIENTS, as_=owner, query={"status": "active"})) == [
        "Beta Works",
        "Delta_Co",
        "Epsilon",
    ]
    assert names(api.get(CLIENTS, as_=owner, query={"status": "pending, inactive"})) == [
        "Alpha Studio",
        "Gamma 100% Pure",
    ]
    assert names(
        api.get(CLIENTS, as_=owner, query={"status": "active", "billing_frequency": "monthly"})
    ) == ["Beta Works", "Epsilon"]
    assert names(
        api.get(CLIENTS, as_=owner, query={"billing_frequency": "one-time,annually", "q": "delta"})
    ) == ["Delta_Co"]
    reply = api.get(CLIENTS, as_=owner, query={"outstanding_balance_from": "200.50"})
    assert names(reply) == ["Beta Works", "Epsilon"]
    reply = api.get(
        CLIENTS,
        as_=owner,
        query={"total_billed_from": "50", "total_billed_to": "300", "sort": "total_billed"},
    )
    assert names(reply) == ["Alpha Studio", "Beta Works"]
    reply = api.get(
        CLIENTS,
        as_=owner,
        query={"last_invoice_date_from": "2026-01-15", "last_invoice_date_to": "2026-02-28"},
    )
    assert names(reply) == ["Alpha Studio", "Epsilon"]
    # An empty filter is no filter.
    assert api.get(CLIENTS, as_=owner, query={"status": ""}).json()["pagination"]["total"] == 5


def test_list_sorts(api: Api, listed: dict[str, Any]) -> None:
    owner = listed["owner"].name
    by_total = names(api.get(CLIENTS, as_=owner, query={"sort": "-total_billed,company_name"}))
    assert by_total == ["Epsilon", "Beta Works", "Alpha Studio", "Delta_Co", "Gamma 100% Pure"]
    by_total = names(api.get(CLIENTS, as_=owner, query={"sort": "total_billed,-company_name"}))
    assert by_total == ["Gamma 100% Pure", "Delta_Co", "Alpha Studio", "Beta Works", "Epsilon"]
    reply = api.get(CLIENTS, as_=owner, query={"sort": "-outstanding_balance,company_name"})
    assert names(reply)[:3] == ["Beta Works", "Epsilon", "Alpha Studio"]
    # Clients never invoiced come last either way.
    for sort in ("last_invoice_date", "-last_invoice_date"):
        got = names(api.get(CLIENTS, as_=owner, query={"sort": sort}))
        assert sorted(got[3:]) == ["Delta_Co", "Gamma 100% Pure"]
        dated = ["Beta Works", "Epsilon", "Alpha Studio"]  # 2026-03-01, 02-01, 01-15
        assert got[:3] == (dated if sort.startswith("-") else dated[::-1])
    created = names(api.get(CLIENTS, as_=owner, query={"sort": "created_at"}))
    assert created == ["Beta Works", "Alpha Studio", "Gamma 100% Pure", "Delta_Co", "Epsilon"]
    assert names(api.get(CLIENTS, as_=owner, query={"sort": "-created_at"})) == created[::-1]


def test_list_sort_by_total_exactly(api: Api, listed: dict[str, Any]) -> None:
    reply = api.get(CLIENTS, as_=listed["owner"].name, query={"sort": "-total_billed,company_name"})
    rows = [(r["company_name"], r["total_billed"]) for r in reply.json()["data"]]
    assert rows[:3] == [
        ("Epsilon", "1200.50"),
        ("Beta Works", "300.00"),
        ("Alpha Studio", "50.00"),
    ]
    assert rows[3:] == [("Delta_Co", "0.00"), ("Gamma 100% Pure", "0.00")]


def test_list_pages(api: Api, listed: dict[str, Any]) -> None:
    owner = listed["owner"].name
    query = {"sort": "created_at", "page_size": 2}
    pages = [
        api.get(CLIENTS, as_=owner, query={**query, "page": page}).json() for page in (1, 2, 3)
    ]
    assert [[r["company_name"] for r in p["data"]] for p in pages] == [
        ["Beta Works", "Alpha Studio"],
        ["Gamma 100% Pure", "Delta_Co"],
        ["Epsilon"],
    ]
    assert pages[2]["pagination"] == {"page": 3, "page_size": 2, "total": 5, "total_pages": 3}
    past = api.get(CLIENTS, as_=owner, query={**query, "page": 9})
    assert past.status == 200
    assert past.json() == {
        "data": [],
        "pagination": {"page": 9, "page_size": 2, "total": 5, "total_pages": 3},
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "first"}, "page"),
        ({"sort": "email"}, "sort"),
        ({"sort": "-company_name,password"}, "sort"),
        ({"sort": "a,b,c,d"}, "sort"),
        ({"status": "active,gone"}, "status"),
        ({"billing_frequency": "weekly"}, "billing_frequency"),
        ({"q": "x" * 201}, "q"),
        ({"total_billed_from": "lots"}, "total_billed_from"),
        ({"last_invoice_date_to": "2026-13-01"}, "last_invoice_date_to"),
    ],
)
def test_list_validation(api: Api, query: dict[str, Any], field: str) -> None:
    reply = api.get(CLIENTS, as_="alice", query=query)
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert fields_of(reply) == [field]


def test_list_unknown_sort_field_names_the_allowed_ones(api: Api) -> None:
    reply = api.get(CLIENTS, as_="alice", query={"sort": "-email"})
    assert reply.error["message"] == (
        "sort: unknown sort field 'email'; use one of ['company_name', 'created_at', "
        "'last_invoice_date', 'outstanding_balance', 'total_billed']"
    )


def test_list_is_scoped_to_the_organization(api: Api, world: World) -> None:
    t = tag()
    create(api, company_name=f"Scoped {t} One")
    create(api, as_="maria", company_name=f"Scoped {t} Two")
    for person in ("alice", "maria", "victor"):
        reply = api.get(CLIENTS, as_=person, query={"q": f"scoped {t}"})
        assert names(reply) == [f"Scoped {t} One", f"Scoped {t} Two"]
        assert reply.json()["pagination"]["total"] == 2
    reply = api.get(CLIENTS, as_="bob", query={"q": f"scoped {t}"})
    assert reply.json() == {
        "data": [],
        "pagination": {"page": 1, "page_size": 25, "total": 0, "total_pages": 0},
    }


def test_list_for_another_organization_of_the_user(api: Api, world: World) -> None:
    """Victor is owner of his personal organization and viewer in A: the header picks."""
    t = tag()
    create(api, company_name=f"Header {t}")
    victor = world.people["victor"]
    mine = api.get(CLIENTS, as_="victor", org=victor.personal_org, query={"q": f"header {t}"})
    assert names(mine) == []
    theirs = api.get(CLIENTS, as_="victor", org=world.org_a, query={"q": f"header {t}"})
    assert names(theirs) == [f"Header {t}"]
    stranger = api.get(CLIENTS, as_="victor", org=world.org_b)
    assert stranger.status == 403


# -------------------------------------------------------------------------------- get


def test_get_returns_the_client_with_recent_invoices_and_activities(api: Api, world: World) -> None:
    client = create(api, company_name=f"Detail {tag()}", currency="EUR")
    invoices = []
    for day in range(12):
        status = "draft" if day == 11 else "sent"
        invoices.append(
            add_invoice(
                world, client, f"{100 + day}.25", status=status, issued=date(2026, 1, 1 + day)
            )
        )
    # The calls come after every activity the API itself records now (the client's
    # creation, the invoices): from tomorrow on, whatever day the test runs.
    calls_from = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    world.sql(
        "insert into public.client_activities (organization_id, client_id, activity, timestamp,"
        " type, metadata) select %s, %s, 'call ' || n, %s + n * interval"
        " '1 hour', 'communication', jsonb_build_object('n', n) from generate_series(1, 25) n",
        client["organization_id"],
        client["id"],
        calls_from,
    )
    reply = api.get(f"{CLIENTS}/{client['id']}", as_="victor")
    assert reply.status == 200, reply.json()
    body = reply.json()
    recent_invoices = body.pop("recent_invoices")
    recent_activities = body.pop("recent_activities")
    assert body["id"] == client["id"]
    assert body["company_name"] == client["company_name"]
    # 11 sent invoices of 100.25 .. 110.25 (the draft is not billed).
    assert body["total_billed"] == "1157.75"
    assert body["outstanding_balance"] == "1157.75"
    assert body["last_invoice_date"] == "2026-01-11"
    assert len(recent_invoices) == 10
    assert recent_invoices[0] == {
        "id": invoices[11],
        "invoice_number": recent_invoices[0]["invoice_number"],
        "status": "draft",
        "issue_date": "2026-01-12",
        "due_date": "2026-02-11",
        "total": "111.25",
        "balance_due": "111.25",
        "currency": "EUR",
    }
    assert [i["id"] for i in recent_invoices] == invoices[::-1][:10]
    assert [i["total"] for i in recent_invoices[1:3]] == ["110.25", "109.25"]
    assert len(recent_activities) == 20
    assert [a["activity"] for a in recent_activities] == [f"call {n}" for n in range(25, 5, -1)]
    first = recent_activities[0]
    assert (first["type"], first["metadata"], first["timestamp"][:19]) == (
        "communication",
        {"n": 25},
        (calls_from + timedelta(hours=25)).isoformat()[:19],
    )


def test_get_new_client_has_empty_invoices_and_the_new_activity(api: Api) -> None:
    client = create(api, company_name=f"Empty {tag()}")
    body = api.get(f"{CLIENTS}/{client['id']}", as_="alice").json()
    assert body["recent_invoices"] == []
    assert [(a["type"], a["activity"]) for a in body["recent_activities"]] == [
        ("new", f"Client {client['company_name']} created")
    ]
    assert body["recent_activities"][0]["created_by"] == client["created_by"]


def test_get_unknown_or_foreign_is_404(api: Api) -> None:
    client = create(api, company_name=f"Private {tag()}")
    for path, person in (
        (f"{CLIENTS}/{client['id']}", "bob"),
        (f"{CLIENTS}/{uuid.uuid4()}", "alice"),
    ):
        reply = api.get(path, as_=person)
        assert reply.status == 404
        assert reply.error == {
            "code": "not_found",
            "message": "client not found",
            "details": None,
            "request_id": request_id(reply),
        }


def test_get_non_uuid_is_422(api: Api) -> None:
    reply = api.get(f"{CLIENTS}/not-a-uuid", as_="alice")
    assert reply.status == 422
    assert reply.error["details"][0]["in"] == "path"
    assert fields_of(reply) == ["id"]


# ----------------------------------------------------------------------------- update


def test_update_changes_only_the_fields_given(api: Api, world: World) -> None:
    client = create(
        api,
        company_name=f"Partial {tag()}",
        contact_person="Old Contact",
        email="old@partial.test",
        notes="keep me",
    )
    reply = api.put(
        f"{CLIENTS}/{client['id']}",
        as_="maria",
        json_body={"email": "new@partial.test", "contact_person": None, "status": "inactive"},
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    expected = {
        **client,
        "email": "new@partial.test",
        "contact_person": None,
        "status": "inactive",
    }
    assert body["updated_at"] > client["updated_at"]
    assert {k: v for k, v in body.items() if k != "updated_at"} == {
        k: v for k, v in expected.items() if k != "updated_at"
    }
    assert client_row(world, client["id"]) == {
        "company_name": client["company_name"],
        "email": "new@partial.test",
        "currency": "USD",
        "status": "inactive",
        "notes": "keep me",
    }


def test_update_currency_without_invoices(api: Api) -> None:
    client = create(api, company_name=f"Switch {tag()}", currency="USD")
    reply = api.put(f"{CLIENTS}/{client['id']}", as_="alice", json_body={"currency": "JPY"})
    assert reply.status == 200, reply.json()
    assert (reply.json()["currency"], reply.json()["total_billed"]) == ("JPY", "0")


def test_update_currency_with_invoices_is_409_and_writes_nothing(api: Api, world: World) -> None:
    client = create(api, company_name=f"Locked {tag()}", currency="USD", notes="before")
    add_invoice(world, client, "10.00", status="draft")
    reply = api.put(
        f"{CLIENTS}/{client['id']}",
        as_="alice",
        json_body={"currency": "EUR", "notes": "after"},
    )
    assert reply.status == 409, reply.json()
    assert reply.error["code"] == "conflict"
    assert "currency cannot change" in reply.error["message"]
    assert client_row(world, client["id"]) == {
        "company_name": client["company_name"],
        "email": None,
        "currency": "USD",
        "status": "active",
        "notes": "before",
    }
    # The same currency is no change.
    same = api.put(f"{CLIENTS}/{client['id']}", as_="alice", json_body={"currency": "USD"})
    assert same.status == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"total_billed": "1.00"}, "total_billed"),
        ({"last_invoice_date": "2026-01-01"}, "last_invoice_date"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"company_name": None}, "company_name"),
        ({"status": None}, "status"),
        ({"currency": None}, "currency"),
        ({"email": "nope"}, "email"),
        ({"status": "archived"}, "status"),
        ({"company_name": ""}, "company_name"),
        ({}, "body"),
    ],
)
def test_update_validation_writes_nothing(
    api: Api, world: World, body: dict[str, Any], field: str
) -> None:
    client = create(api, company_name=f"Guarded {tag()}", notes="untouched")
    reply = api.put(
        f"{CLIENTS}/{client['id']}",
        as_="alice",
        json_body={"notes": "changed", **body} if body else {},
    )
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert fields_of(reply) == [field]
    assert notes_of(world, client["id"]) == "untouched"


def test_update_empty_body_message(api: Api) -> None:
    client = create(api, company_name=f"Nothing {tag()}")
    reply = api.put(f"{CLIENTS}/{client['id']}", as_="alice", json_body={})
    assert reply.error["message"] == "body: give at least one field to change"


def test_update_malformed_json_is_400(api: Api) -> None:
    client = create(api, company_name=f"Broken {tag()}")
    reply = api.put(f"{CLIENTS}/{client['id']}", as_="alice", content=b"{notes: 1}")
    assert reply.status == 400
    assert reply.error["code"] == "malformed_json"


def test_update_by_stranger_or_unknown_id_is_404(api: Api, world: World) -> None:
    client = create(api, company_name=f"Theirs {tag()}", notes="mine")
    reply = api.put(f"{CLIENTS}/{client['id']}", as_="bob", json_body={"notes": "hacked"})
    assert reply.status == 404
    assert reply.error["code"] == "not_found"
    missing = api.put(f"{CLIENTS}/{uuid.uuid4()}", as_="alice", json_body={"notes": "x"})
    assert missing.status == 404
    assert notes_of(world, client["id"]) == "mine"


def test_update_as_viewer_is_403(api: Api, world: World) -> None:
    client = create(api, company_name=f"Read Only {tag()}", notes="mine")
    reply = api.put(f"{CLIENTS}/{client['id']}", as_="victor", json_body={"notes": "viewer"})
    assert reply.status == 403
    assert reply.error["code"] == "forbidden"
    assert notes_of(world, client["id"]) == "mine"


def test_update_non_uuid_is_422(api: Api) -> None:
    reply = api.put(f"{CLIENTS}/12345", as_="alice", json_body={"notes": "x"})
    assert reply.status == 422
    assert fields_of(reply) == ["id"]


# ----------------------------------------------------------------------------- delete


def test_delete_a_client_without_invoices(api: Api, world: World) -> None:
    client = create(api, company_name=f"Gone {tag()}")
    reply = api.delete(f"{CLIENTS}/{client['id']}", as_="maria")
    assert reply.status == 204
    assert reply.content == b""
    assert client_row(world, client["id"]) is None
    assert world.sql(
        "select count(*) from public.client_activities where client_id = %s", client["id"]
    ) == [(0,)]
    assert world.sql(
        "select count(*) from public.audit_log where table_name = 'public.clients'"
        " and operation = 'DELETE' and record_id = %s",
        client["id"],
    ) == [(1,)]
    assert api.get(f"{CLIENTS}/{client['id']}", as_="alice").status == 404
    again = api.delete(f"{CLIENTS}/{client['id']}", as_="maria")
    assert again.status == 404


@pytest.mark.parametrize("status", ["draft", "sent", "cancelled"])
def test_delete_a_client_with_invoices_is_409(api: Api, world: World, status: str) -> None:
    client = create(api, company_name=f"Kept {tag()}")
    add_invoice(world, client, "25.00", status=status)
    reply = api.delete(f"{CLIENTS}/{client['id']}", as_="alice")
    assert reply.status == 409
    assert reply.error == {
        "code": "conflict",
        "message": "the client has invoices and is kept with its financial records; "
        "set its status to inactive instead",
        "details": None,
        "request_id": request_id(reply),
    }
    assert client_row(world, client["id"]) is not None


def test_delete_by_stranger_viewer_or_unknown(api: Api, world: World) -> None:
    client = create(api, company_name=f"Protected {tag()}")
    assert api.delete(f"{CLIENTS}/{client['id']}", as_="bob").status == 404
    viewer = api.delete(f"{CLIENTS}/{client['id']}", as_="victor")
    assert (viewer.status, viewer.error["code"]) == (403, "forbidden")
    assert api.delete(f"{CLIENTS}/{uuid.uuid4()}", as_="alice").status == 404
    bad = api.delete(f"{CLIENTS}/nope", as_="alice")
    assert (bad.status, fields_of(bad)) == (422, ["id"])
    assert client_row(world, client["id"]) is not None


# ------------------------------------------------------------------------ bulk delete


def test_bulk_delete_reports_each_id(api: Api, world: World) -> None:
    t = tag()
    free = create(api, company_name=f"Bulk Free {t}")
    free_too = create(api, as_="maria", company_name=f"Bulk Free Too {t}")
    billed = create(api, company_name=f"Bulk Billed {t}")
    add_invoice(world, billed, "99.99")
    foreign = create(api, as_="bob", company_name=f"Bulk Foreign {t}")
    missing = str(uuid.uuid4())
    ids = [billed["id"], free["id"], foreign["id"], missing, free_too["id"]]
    reply = api.post(f"{CLIENTS}/bulk-delete", as_="maria", json_body={"ids": ids})
    assert reply.status == 200, reply.json()
    has_invoices = (
        "the client has invoices and is kept with its financial records;"
        " set its status to inactive instead"
    )
    assert reply.json() == {
        "results": [
            {"id": billed["id"], "status": "has_invoices", "message": has_invoices},
            {"id": free["id"], "status": "deleted", "message": "the client was deleted"},
            {
                "id": foreign["id"],
                "status": "not_found",
                "message": "no such client in this organization",
            },
            {
                "id": missing,
                "status": "not_found",
                "message": "no such client in this organization",
            },
            {"id": free_too["id"], "status": "deleted", "message": "the client was deleted"},
        ],
        "summary": {"requested": 5, "deleted": 2, "not_found": 2, "has_invoices": 1},
    }
    assert client_row(world, free["id"]) is None
    assert client_row(world, free_too["id"]) is None
    assert client_row(world, billed["id"]) is not None
    assert client_row(world, foreign["id"]) is not None
    # Bob sees his client untouched.
    assert api.get(f"{CLIENTS}/{foreign['id']}", as_="bob").status == 200


def test_bulk_delete_by_a_stranger_touches_nothing(api: Api, world: World) -> None:
    client = create(api, company_name=f"Bulk Target {tag()}")
    reply = api.post(f"{CLIENTS}/bulk-delete", as_="bob", json_body={"ids": [client["id"]]})
    assert reply.status == 200
    assert [r["status"] for r in reply.json()["results"]] == ["not_found"]
    assert client_row(world, client["id"]) is not None


def test_bulk_delete_as_viewer_is_403(api: Api, world: World) -> None:
    client = create(api, company_name=f"Bulk Viewer {tag()}")
    reply = api.post(f"{CLIENTS}/bulk-delete", as_="victor", json_body={"ids": [client["id"]]})
    assert reply.status == 403
    assert reply.error["code"] == "forbidden"
    assert client_row(world, client["id"]) is not None


@pytest.mark.parametrize(
    ("make_body", "field", "message"),
    [
        (
            lambda real: {"ids": []},
            "ids",
            "List should have at least 1 item after validation, not 0",
        ),
        (
            lambda real: {"ids": [real] + [str(uuid.uuid4()) for _ in range(500)]},
            "ids",
            "List should have at most 500 items after validation, not 501",
        ),
        (
            lambda real: {"ids": [real, real]},
            "ids",
            "ids must be unique; {real} is repeated",
        ),
        (lambda real: {"ids": [real, "not-a-uuid"]}, "ids[1]", None),
        (lambda real: {"ids": real}, "ids", None),
        (lambda real: {"ids": [real], "force": True}, "force", "Extra inputs are not permitted"),
        (lambda real: {}, "ids", "Field required"),
    ],
)
def test_bulk_delete_validation_deletes_nothing(
    api: Api, world: World, make_body: Any, field: str, message: str | None
) -> None:
    client = create(api, company_name=f"Bulk Invalid {tag()}")
    reply = api.post(f"{CLIENTS}/bulk-delete", as_="alice", json_body=make_body(client["id"]))
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert fields_of(reply) == [field]
    if message is not None:
        assert reply.error["details"][0]["message"] == message.format(real=client["id"])
    assert client_row(world, client["id"]) is not None


def test_bulk_delete_500_ids_is_accepted(api: Api, world: World) -> None:
    client = create(api, company_name=f"Bulk Max {tag()}")
    ids = [client["id"]] + [str(uuid.uuid4()) for _ in range(499)]
    reply = api.post(f"{CLIENTS}/bulk-delete", as_="alice", json_body={"ids": ids})
    assert reply.status == 200, reply.json()
    assert reply.json()["summary"] == {
        "requested": 500,
        "deleted": 1,
        "not_found": 499,
        "has_invoices": 0,
    }
    assert reply.json()["results"][0] == {
        "id": client["id"],
        "status": "deleted",
        "message": "the client was deleted",
    }
    assert client_row(world, client["id"]) is None


def test_bulk_delete_malformed_json_is_400(api: Api) -> None:
    reply = api.post(f"{CLIENTS}/bulk-delete", as_="alice", content=b'{"ids": [')
    assert reply.status == 400
    assert reply.error["code"] == "malformed_json"


# ------------------------------------------------------------ the organization filter


def test_routes_act_only_in_the_named_organization(api: Api, world: World) -> None:
    """Maria is a member of A and owner of her personal organization; RLS lets her reach
    both, so only the routes' organization filter keeps A's client out of a request made
    for her personal organization."""
    client = create(api, company_name=f"Other Org {tag()}", notes="as created")
    personal = world.people["maria"].personal_org
    path = f"{CLIENTS}/{client['id']}"
    assert api.get(path, as_="maria", org=personal).status == 404
    assert api.put(path, as_="maria", org=personal, json_body={"notes": "x"}).status == 404
    assert api.delete(path, as_="maria", org=personal).status == 404
    bulk = api.post(
        f"{CLIENTS}/bulk-delete", as_="maria", org=personal, json_body={"ids": [client["id"]]}
    )
    assert [r["status"] for r in bulk.json()["results"]] == ["not_found"]
    listed = api.get(CLIENTS, as_="maria", org=personal, query={"q": client["company_name"]})
    assert listed.json()["pagination"]["total"] == 0
    assert notes_of(world, client["id"]) == "as created"
    # In A, the same requests reach it.
    assert api.get(path, as_="maria", org=world.org_a).status == 200
    created = api.post(CLIENTS, as_="maria", org=personal, json_body={"company_name": "Mine"})
    assert created.json()["organization_id"] == personal
