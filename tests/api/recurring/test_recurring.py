"""The recurring profiles routes (docs/api.md, "Recurring invoices"): list, create, get,
patch, delete, preview, issue now, pause, resume, cancel.

Each test makes its own person and organization (the owner) and clients, so lists and
counts are its own. Dates are fixed, or relative to the organization's today read from the
database: never a literal compared with now.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from tests.api.conftest import Api, Response, World

BASE = "/api/recurring-profiles"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_owner(world: World) -> tuple[str, str]:
    """A new person with an organization of their own: (name, organization id)."""
    name = unique("rec")
    person = world.add_person(name)
    return name, person.personal_org


def new_client(
    world: World, org: str, *, frequency: str = "monthly", mail: str | None = None
) -> str:
    rows = world.sql(
        "insert into public.clients (organization_id, company_name, currency, email,"
        " billing_frequency) values (%s, %s, 'USD', %s, %s) returning id::text",
        org,
        unique("Client"),
        mail,
        frequency,
    )
    return str(rows[0][0])


def org_today(world: World, org: str) -> dt.date:
    day = world.sql("select private.organization_today(%s)", org)[0][0]
    assert isinstance(day, dt.date)
    return day


def body(client: str, **fields: Any) -> dict[str, Any]:
    return {
        "client_id": client,
        "items": [{"description": "Hosting", "quantity": "1", "rate": "100.00"}],
        **fields,
    }


def create(api: Api, who: str, org: str, client: str, **fields: Any) -> Response:
    return api.post(BASE, as_=who, org=org, json_body=body(client, **fields))


def profiles(world: World, org: str) -> int:
    return int(
        world.sql("select count(*) from public.recurring_profiles where organization_id = %s", org)[
            0
        ][0]
    )


# =============================================================================
# Create, read, list
# =============================================================================


def test_create_read_and_list(any_api: Api, world: World) -> None:
    who, org = new_owner(world)
    client = new_client(world, org, frequency="quarterly")
    created = create(
        any_api, who, org, client, start_date="2025-01-31", name="Hosting", tax_rate="10"
    )
    assert created.status == 201, created.content
    profile = created.json()
    assert created.headers["location"] == f"{BASE}/{profile['id']}"
    assert profile["frequency"] == "quarterly", "the client's billing_frequency is the default"
    assert (profile["interval_unit"], profile["interval_count"], profile["billing_day"]) == (
        "month",
        3,
        31,
    )
    assert profile["first_billing_date"] == "2025-01-31"
    assert profile["subtotal"] == "100.00"
    assert [i["amount"] for i in profile["items"]] == ["100.00"]
    got = any_api.get(f"{BASE}/{profile['id']}", as_=who, org=org)
    assert got.status == 200
    assert got.json() == profile
    listed = any_api.get(BASE, as_=who, org=org, query={"status": "active", "q": "hosting"})
    assert listed.status == 200
    assert [row["id"] for row in listed.json()["data"]] == [profile["id"]]
    assert listed.json()["data"][0]["client_company_name"]


def test_list_filters_and_sorts(api: Api, world: World) -> None:
    who, org = new_owner(world)
    client = new_client(world, org)
    early = create(api, who, org, client, start_date="2030-01-05").json()
    late = create(api, who, org, client, start_date="2030-03-05", frequency="annually").json()
    rows = api.get(BASE, as_=who, org=org, query={"sort": "-next_billing_date"}).json()["data"]
    assert [r["id"] for r in rows] == [late["id"], early["id"]]
    rows = api.get(BASE, as_=who, org=org, query={"frequency": "annually"}).json()["data"]
    assert [r["id"] for r in rows] == [late["id"]]
    assert api.get(BASE, as_=who, org=org, query={"status": "nope"}).status == 422
    assert api.get(BASE, as_=who, org=org, query={"sort": "rate"}).status in (400, 422)
    assert api.get(BASE, as_=who, org=org, query={"colour": "red"}).status in (400, 422)


# =============================================================================
# Bad input: a clear 4xx naming the field, nothing written
# =============================================================================


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"colour": "red"}, "colour"),
        ({"frequency": "weekly"}, "frequency"),
        ({"interval_unit": "week", "interval_count": 60}, "interval_count"),
        ({"interval_unit": "week", "billing_day": 3}, "billing_day"),
        ({"frequency": "monthly", "interval_unit": "day"}, "interval_unit"),
        ({"billing_day": 32}, "billing_day"),
        ({"end_date": "2030-01-01", "max_cycles": 3}, "max_cycles"),
        ({"payment_terms": "custom"}, "due_days"),
        ({"tax_rate": "101"}, "tax_rate"),
        ({"start_date": "1800-01-01"}, "start_date"),
        ({"discount": "500"}, "discount"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    api: Api, world: World, fields: dict[str, Any], named: str
) -> None:
    who, org = new_owner(world)
    client = new_client(world, org)
    answer = create(api, who, org, client, **fields)
    assert answer.status == 422, answer.content
    error = answer.error
    details = error["details"] if isinstance(error["details"], list) else []
    named_fields = [d.get("field") for d in details]
    assert named in named_fields or error["message"].startswith(named), error
    assert profiles(world, org) == 0


def test_a_one_time_client_needs_an_interval(api: Api, world: World) -> None:
    who, org = new_owner(world)
    client = new_client(world, org, frequency="one-time")
    refused = create(api, who, org, client)
    assert refused.status == 422
    assert "frequency" in refused.error["message"]
    made = create(api, who, org, client, interval_unit="week", interval_count=2)
    assert made.status == 201
    assert made.json()["frequency"] == "custom"


def test_another_organizations_client_is_refused(api: Api, world: World) -> None:
    who, org = new_owner(world)
    _, other = new_owner(world)
    answer = create(api, who, org, new_client(world, other))
    assert answer.status == 422
    assert answer.error["code"] == "invalid_reference"
    assert profiles(world, org) == 0


# =============================================================================
# Roles: a viewer writing 403, a stranger's ids 404
# =============================================================================


def test_viewer_reads_but_does_not_write_and_a_stranger_sees_nothing(
    api: Api, world: World
) -> None:
    client = new_client(world, world.org_a)
    profile = create(api, "maria", world.org_a, client, start_date="2031-01-01").json()
    path = f"{BASE}/{profile['id']}"
    assert api.get(path, as_="victor").status == 200
    assert api.get(f"{path}/preview", as_="victor").status == 200
    assert create(api, "victor", world.org_a, client).status == 403
    assert api.request("PATCH", path, as_="victor", json_body={"notes": "x"}).status == 403
    assert api.delete(path, as_="victor").status == 403
    for action in ("issue", "pause", "resume", "cancel"):
        assert api.post(f"{path}/{action}", as_="victor").status == 403
    for method, suffix in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/preview"),
        ("POST", "/issue"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/cancel"),
    ]:
        answer = api.request(
            method,
            path + suffix,
            as_="bob",
            json_body={"notes": "x"} if method == "PATCH" else None,
        )
        assert answer.status == 404, (method, suffix, answer.status)
    assert api.get(f"{BASE}/not-a-uuid", as_="maria").status == 422


# =============================================================================
# Change, preview, issue now, pause/resume/cancel, delete
# =============================================================================


def test_patch_changes_the_template_and_freezes_the_schedule_once_issued(
    api: Api, world: World
) -> None:
    who, org = new_owner(world)
    client = new_client(world, org)
    profile = create(api, who, org, client, start_date="2031-03-31").json()
    path = f"{BASE}/{profile['id']}"
    changed = api.request(
        "PATCH",
        path,
        as_=who,
        org=org,
        json_body={
            "billing_day": 15,
            "notes": "Thank you",
            "items": [{"description": "Support", "quantity": "2", "rate": "40"}],
        },
    )
    assert changed.status == 200, changed.content
    assert changed.json()["first_billing_date"] == "2031-04-15"
    assert changed.json()["subtotal"] == "80.00"
    assert api.post(f"{path}/issue", as_=who, org=org).status == 201
    refused = api.request("PATCH", path, as_=who, org=org, json_body={"billing_day": 1})
    assert refused.status == 422
    assert "billing_day" in refused.error["message"]
    allowed = api.request("PATCH", path, as_=who, org=org, json_body={"tax_rate": "5"})
    assert allowed.status == 200
    assert api.request("PATCH", path, as_=who, org=org, json_body={}).status == 200
    assert api.request("PATCH", path, as_=who, org=org, json_body={"frequency": None}).status == 422


def test_preview_shows_the_next_invoices_without_writing(api: Api, world: World) -> None:
    who, org = new_owner(world)
    client = new_client(world, org)
    profile = create(
        api, who, org, client, start_date="2032-01-31", tax_rate="10", discount="10"
    ).json()
    answer = api.get(f"{BASE}/{profile['id']}/preview", as_=who, org=org, query={"count": 3})
    assert answer.status == 200, answer.content
    preview = answer.json()
    assert [p["issue_date"] for p in preview["invoices"]] == [
        "2032-01-31",
        "2032-02-29",
        "2032-03-31",
    ]
    first = preview["invoices"][0]
    assert (first["subtotal"], first["discount"], first["tax_amount"], first["total_amount"]) == (
        "100.00",
        "10.00",
        "9.00",
        "99.00",
    )
    assert first["due_date"] == "2032-03-01"  # a new organization's default terms: net30
    assert (
        world.sql(
            "select count(*) from public.invoices where recurring_profile_id = %s", profile["id"]
        )[0][0]
        == 0
    )
    for bad in ("0", "37", "x"):
        refused = api.get(f"{BASE}/{profile['id']}/preview", as_=who, org=org, query={"count": bad})
        assert refused.status == 422


def test_issue_now_takes_the_next_period_once(api: Api, world: World) -> None:
    who, org = new_owner(world)
    client = new_client(world, org, mail="ap@client.example")
    profile = create(api, who, org, client, start_date="2033-05-10", auto_send=True).json()
    path = f"{BASE}/{profile['id']}"
    first = api.post(f"{path}/issue", as_=who, org=org)
    assert first.status == 201, first.content
    invoice = first.json()["invoice"]
    assert invoice["status"] == "draft", "issue now makes a draft; the person sends it"
    assert (invoice["recurring_profile_id"], invoice["recurring_period_start"]) == (
        profile["id"],
        "2033-05-10",
    ), "the invoice remembers its profile and period"
    again = api.get(f"/api/invoices/{invoice['id']}", as_=who, org=org).json()
    assert again["recurring_profile_id"] == profile["id"]
    assert invoice["issue_date"] == str(org_today(world, org)), "a future period: issued today"
    second = api.post(f"{path}/issue", as_=who, org=org).json()
    assert second["profile"]["cycles_issued"] == 2
    periods = world.sql(
        "select recurring_period_start from public.invoices where recurring_profile_id = %s"
        " order by 1",
        profile["id"],
    )
    assert [str(p[0]) for p in periods] == ["2033-05-10", "2033-06-10"]
    assert second["profile"]["next_billing_date"] == "2033-07-10"


def test_pause_resume_without_backfill_and_cancel(api: Api, world: World) -> None:
    who, org = new_owner(world)
    client = new_client(world, org)
    today = org_today(world, org)
    start = today - dt.timedelta(days=70)
    profile = create(
        api, who, org, client, interval_unit="week", interval_count=1, start_date=str(start)
    ).json()
    path = f"{BASE}/{profile['id']}"
    paused = api.post(f"{path}/pause", as_=who, org=org)
    assert paused.status == 200
    assert paused.json()["status"] == "paused"
    assert api.post(f"{path}/pause", as_=who, org=org).json()["status"] == "paused"
    assert api.post(f"{path}/issue", as_=who, org=org).status == 422
    resumed = api.post(f"{path}/resume", as_=who, org=org).json()
    assert resumed["status"] == "active"
    next_date = dt.date.fromisoformat(resumed["next_billing_date"])
    assert today <= next_date < today + dt.timedelta(days=7), "no backfill of the pause"
    assert (next_date - start).days % 7 == 0, "still on the weekly schedule"
    cancelled = api.post(f"{path}/cancel", as_=who, org=org).json()
    assert (cancelled["status"], cancelled["ended_reason"]) == ("ended", "cancelled")
    assert api.post(f"{path}/resume", as_=who, org=org).status == 422
    assert api.request("PATCH", path, as_=who, org=org, json_body={"notes": "x"}).status == 422


def test_delete_removes_an_unused_profile_and_cancels_one_with_invoices(
    api: Api, world: World
) -> None:
    who, org = new_owner(world)
    client = new_client(world, org)
    unused = create(api, who, org, client, start_date="2034-01-01").json()
    assert api.delete(f"{BASE}/{unused['id']}", as_=who, org=org).status == 204
    assert api.get(f"{BASE}/{unused['id']}", as_=who, org=org).status == 404
    used = create(api, who, org, client, start_date="2034-01-01").json()
    assert api.post(f"{BASE}/{used['id']}/issue", as_=who, org=org).status == 201
    answer = api.delete(f"{BASE}/{used['id']}", as_=who, org=org)
    assert answer.status == 200
    assert (answer.json()["status"], answer.json()["ended_reason"]) == ("ended", "cancelled")
    assert answer.json()["invoice_count"] == 1


def test_deleting_a_client_without_invoices_deletes_its_profiles(api: Api, world: World) -> None:
    who, org = new_owner(world)
    client = new_client(world, org)
    profile = create(api, who, org, client, start_date="2035-01-01").json()
    assert api.delete(f"/api/clients/{client}", as_=who, org=org).status == 204
    assert api.get(f"{BASE}/{profile['id']}", as_=who, org=org).status == 404
    kept = new_client(world, org)
    used = create(api, who, org, kept, start_date="2035-01-01").json()
    assert api.post(f"{BASE}/{used['id']}/issue", as_=who, org=org).status == 201
    assert api.delete(f"/api/clients/{kept}", as_=who, org=org).status == 409
    assert api.get(f"{BASE}/{used['id']}", as_=who, org=org).status == 200
