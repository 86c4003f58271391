"""The business settings of issue 15: the time zone, the overpayment choice and the
numbering patterns per document type, through PUT and GET /api/settings/business, and
what they do to invoices created through POST /api/invoices.

Each test works in an organization of its own (a new person's), so the patterns and
counters it sets touch no other test. No assertion depends on the day the tests run:
issue dates are given, or compared with the database's own clock."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import uuid4

import pytest

from tests.api.conftest import Api, Response, World


def person(world: World, role_in: str | None = None, role: str | None = None) -> str:
    name = f"numbering_{uuid4().hex[:10]}"
    world.add_person(name, role_in, role)
    return name


def org_of(world: World, name: str) -> str:
    return world.people[name].personal_org


def put(api: Api, who: str, org: str, body: dict[str, Any]) -> Response:
    return api.request("PUT", "/api/settings/business", as_=who, org=org, json_body=body)


def get(api: Api, who: str, org: str) -> Response:
    return api.request("GET", "/api/settings/business", as_=who, org=org)


def ok(reply: Response) -> dict[str, Any]:
    assert reply.status == 200, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def fields(reply: Response) -> list[str]:
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    return [detail["field"] for detail in reply.error["details"]]


def new_invoice(api: Api, world: World, who: str, org: str, **fields: Any) -> dict[str, Any]:
    client = world.sql(
        "insert into public.clients (organization_id, company_name) values (%s, %s)"
        " returning id::text",
        org,
        f"Client {uuid4().hex[:6]}",
    )[0][0]
    reply = api.request(
        "POST",
        "/api/invoices",
        as_=who,
        org=org,
        json_body={
            "client_id": client,
            "items": [{"description": "Work", "quantity": "1", "rate": "10"}],
            "payment_terms": "net30",
            **fields,
        },
    )
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


# -- reading ------------------------------------------------------------------------------


def test_a_new_organization_reads_utc_refuse_and_the_default_patterns(
    api: Api, world: World
) -> None:
    owner = person(world)
    org = org_of(world, owner)
    viewer = person(world, org, "viewer")
    body = ok(get(api, viewer, org))
    assert (body["time_zone"], body["overpayment"]) == ("UTC", "refuse")
    assert body["numbering"] == {
        "invoice": {"pattern": "INV-{SEQ:4}", "reset": "never", "preview": "INV-0001"},
        "quote": {"pattern": "QUO-{SEQ:4}", "reset": "never", "preview": "QUO-0001"},
        "credit_note": {"pattern": "CN-{SEQ:4}", "reset": "never", "preview": "CN-0001"},
    }
    assert body["next_invoice_number_preview"] == "INV-0001"
    assert "invoice_number_pattern" not in body
    # GET /api/settings answers the same business section.
    whole = api.request("GET", "/api/settings", as_=viewer, org=org)
    assert whole.status == 200
    assert whole.json()["business"] == body


# -- the time zone ------------------------------------------------------------------------


def test_the_time_zone_is_stored_and_dates_new_invoices(api: Api, world: World) -> None:
    """Kiritimati is UTC+14 and Pago Pago UTC-11: whatever the hour, an invoice created
    at the same moment without an issue date is dated a day or two later in the first."""
    east, west = person(world), person(world)
    assert ok(put(api, east, org_of(world, east), {"time_zone": "Pacific/Kiritimati"}))[
        "time_zone"
    ] == ("Pacific/Kiritimati")
    ok(put(api, west, org_of(world, west), {"time_zone": "Pacific/Pago_Pago"}))
    early = new_invoice(api, world, east, org_of(world, east))
    late = new_invoice(api, world, west, org_of(world, west))
    gap = dt.date.fromisoformat(early["issue_date"]) - dt.date.fromisoformat(late["issue_date"])
    assert gap in (dt.timedelta(days=1), dt.timedelta(days=2))
    # The due date follows the terms from that local date.
    assert dt.date.fromisoformat(early["due_date"]) - dt.date.fromisoformat(
        early["issue_date"]
    ) == dt.timedelta(days=30)
    # And the local date is the database's organization_today.
    today = world.sql("select private.organization_today(%s)::text", org_of(world, east))[0][0]
    assert early["issue_date"] in (today, str(dt.date.fromisoformat(today) - dt.timedelta(1)))


@pytest.mark.parametrize(
    "zone",
    [
        "EST",
        "CET",
        "+05",
        "UTC+3",
        "EST5EDT",
        "GMT",
        "Mars/Olympus",
        "europe/paris",
        "posix/Europe/Paris",
        "",
        "Europe/Paris "[:-1] + "/",
        5,
    ],
)
def test_a_time_zone_that_is_not_an_iana_name_is_refused(api: Api, world: World, zone: Any) -> None:
    owner = person(world)
    org = org_of(world, owner)
    assert fields(put(api, owner, org, {"time_zone": zone})) == ["time_zone"]
    assert ok(get(api, owner, org))["time_zone"] == "UTC"


def test_the_time_zone_cannot_be_null(api: Api, world: World) -> None:
    owner = person(world)
    assert fields(put(api, owner, org_of(world, owner), {"time_zone": None})) == ["time_zone"]


# -- overpayment ----------------------------------------------------------------------------


def test_overpayment_is_refuse_or_credit(api: Api, world: World) -> None:
    owner = person(world)
    org = org_of(world, owner)
    assert ok(put(api, owner, org, {"overpayment": "credit"}))["overpayment"] == "credit"
    assert ok(get(api, owner, org))["overpayment"] == "credit"
    assert fields(put(api, owner, org, {"overpayment": "keep"})) == ["overpayment"]
    assert fields(put(api, owner, org, {"overpayment": None})) == ["overpayment"]


# -- numbering ------------------------------------------------------------------------------


def test_a_yearly_pattern_numbers_invoices_by_their_issue_year(api: Api, world: World) -> None:
    owner = person(world)
    org = org_of(world, owner)
    body = ok(
        put(
            api,
            owner,
            org,
            {"numbering": {"invoice": {"pattern": "INV-{YYYY}-{SEQ:4}", "reset": "yearly"}}},
        )
    )
    assert body["numbering"]["invoice"]["pattern"] == "INV-{YYYY}-{SEQ:4}"
    assert body["numbering"]["invoice"]["reset"] == "yearly"
    year = world.sql("select to_char(private.organization_today(%s), 'YYYY')", org)[0][0]
    assert body["numbering"]["invoice"]["preview"] == f"INV-{year}-0001"
    # The other types are untouched; the old fields follow the pattern.
    assert body["numbering"]["quote"]["pattern"] == "QUO-{SEQ:4}"
    assert (body["invoice_prefix"], body["invoice_number_padding"]) == ("INV-", 4)

    numbers = [
        new_invoice(api, world, owner, org, issue_date=day)["invoice_number"]
        for day in ("2031-12-30", "2031-12-31", "2032-01-01", "2031-06-15", "2032-01-01")
    ]
    assert numbers == [
        "INV-2031-0001",
        "INV-2031-0002",
        "INV-2032-0001",
        "INV-2031-0003",
        "INV-2032-0002",
    ]


def test_a_monthly_pattern_resets_each_month(api: Api, world: World) -> None:
    owner = person(world)
    org = org_of(world, owner)
    ok(
        put(
            api,
            owner,
            org,
            {"numbering": {"invoice": {"pattern": "{YY}{MM}/{SEQ:3}", "reset": "monthly"}}},
        )
    )
    numbers = [
        new_invoice(api, world, owner, org, issue_date=day)["invoice_number"]
        for day in ("2031-01-31", "2031-02-01", "2031-02-28", "2031-01-01")
    ]
    assert numbers == ["3101/001", "3102/001", "3102/002", "3101/002"]


def test_the_never_reset_counter_continues_across_a_pattern_change(api: Api, world: World) -> None:
    owner = person(world)
    org = org_of(world, owner)
    assert new_invoice(api, world, owner, org)["invoice_number"] == "INV-0001"
    body = ok(put(api, owner, org, {"numbering": {"invoice": {"pattern": "F{YY}-{SEQ}"}}}))
    assert body["numbering"]["invoice"]["reset"] == "never"
    assert (body["invoice_prefix"], body["invoice_number_padding"]) == ("F", 1)
    assert new_invoice(api, world, owner, org, issue_date="2031-05-01")["invoice_number"] == (
        "F31-2"
    )


def test_the_old_prefix_and_padding_still_set_the_invoice_pattern(api: Api, world: World) -> None:
    owner = person(world)
    org = org_of(world, owner)
    body = ok(put(api, owner, org, {"invoice_prefix": "ACME/", "invoice_number_padding": 6}))
    assert body["numbering"]["invoice"]["pattern"] == "ACME/{SEQ:6}"
    assert body["next_invoice_number_preview"] == "ACME/000001"
    ok(put(api, owner, org, {"numbering": {"invoice": {"pattern": "X-{YYYY}-{SEQ:3}"}}}))
    body = ok(put(api, owner, org, {"invoice_prefix": "Y-"}))
    assert body["numbering"]["invoice"]["pattern"] == "Y-{YYYY}-{SEQ:3}"
    assert body["invoice_number_padding"] == 3
    body = ok(put(api, owner, org, {"next_invoice_number": 42}))
    year = world.sql("select to_char(private.organization_today(%s), 'YYYY')", org)[0][0]
    assert body["numbering"]["invoice"]["preview"] == f"Y-{year}-042"


def test_quote_and_credit_note_patterns_are_set_on_their_own(api: Api, world: World) -> None:
    owner = person(world)
    org = org_of(world, owner)
    body = ok(
        put(
            api,
            owner,
            org,
            {
                "numbering": {
                    "quote": {"pattern": "Q{YYYY}{MM}-{SEQ:2}", "reset": "monthly"},
                    "credit_note": {"reset": "never", "pattern": "CR-{SEQ:5}"},
                }
            },
        )
    )
    assert body["numbering"]["quote"]["reset"] == "monthly"
    assert body["numbering"]["credit_note"]["preview"] == "CR-00001"
    assert body["numbering"]["invoice"]["pattern"] == "INV-{SEQ:4}"
    # A type given with one field keeps the other.
    body = ok(put(api, owner, org, {"numbering": {"quote": {"pattern": "{YY}{MM}Q{SEQ}"}}}))
    assert body["numbering"]["quote"] == {
        "pattern": "{YY}{MM}Q{SEQ}",
        "reset": "monthly",
        "preview": body["numbering"]["quote"]["preview"],
    }


@pytest.mark.parametrize(
    ("numbering", "field"),
    [
        ({"invoice": {"pattern": "INV-{YYYY}"}}, "numbering.invoice.pattern"),
        ({"invoice": {"pattern": "INV-{SEQ}-{SEQ}"}}, "numbering.invoice.pattern"),
        ({"invoice": {"pattern": "INV-{YYYYY}-{SEQ}"}}, "numbering.invoice.pattern"),
        ({"invoice": {"pattern": "INV-{DD}-{SEQ}"}}, "numbering.invoice.pattern"),
        ({"invoice": {"pattern": "INV-{SEQ:13}"}}, "numbering.invoice.pattern"),
        ({"invoice": {"pattern": "INV-{SEQ:0}"}}, "numbering.invoice.pattern"),
        ({"invoice": {"pattern": "INV}-{SEQ}"}}, "numbering.invoice.pattern"),
        ({"invoice": {"pattern": "A" * 36 + "{SEQ}"}}, "numbering.invoice.pattern"),
        ({"invoice": {"pattern": "A\x01{SEQ}"}}, "numbering.invoice.pattern"),
        ({"invoice": {"pattern": None}}, "numbering.invoice.pattern"),
        ({"quote": {"reset": "weekly"}}, "numbering.quote.reset"),
        ({"credit_note": {"prefix": "CN"}}, "numbering.credit_note.prefix"),
        ({"order": {"pattern": "{SEQ}"}}, "numbering.order"),
        ({"invoice": "INV-{SEQ}"}, "numbering.invoice"),
    ],
)
def test_a_bad_pattern_or_reset_is_refused_naming_the_field(
    api: Api, world: World, numbering: dict[str, Any], field: str
) -> None:
    owner = person(world)
    org = org_of(world, owner)
    assert fields(put(api, owner, org, {"numbering": numbering})) == [field]
    assert ok(get(api, owner, org))["numbering"]["invoice"]["pattern"] == "INV-{SEQ:4}"


def test_a_pattern_without_the_period_its_reset_needs_is_refused(api: Api, world: World) -> None:
    """The database decides (it knows the stored pattern when only the reset is given)."""
    owner = person(world)
    org = org_of(world, owner)
    reply = put(api, owner, org, {"numbering": {"invoice": {"reset": "yearly"}}})
    assert reply.status == 422, reply.json()
    assert reply.error["message"].startswith("business.numbering.invoice.reset: ")
    assert "{YYYY}" in reply.error["message"]
    reply = put(
        api, owner, org, {"numbering": {"quote": {"pattern": "Q{YYYY}-{SEQ}", "reset": "monthly"}}}
    )
    assert reply.status == 422, reply.json()
    assert reply.error["message"].startswith("business.numbering.quote.pattern: ")
    assert "{MM}" in reply.error["message"]
    body = ok(get(api, owner, org))
    assert body["numbering"]["invoice"]["reset"] == "never"
    assert body["numbering"]["quote"]["reset"] == "never"


def test_the_pattern_and_the_old_prefix_cannot_change_together(api: Api, world: World) -> None:
    owner = person(world)
    org = org_of(world, owner)
    reply = put(
        api,
        owner,
        org,
        {"invoice_prefix": "A-", "numbering": {"invoice": {"pattern": "B-{SEQ}"}}},
    )
    assert fields(reply) == ["numbering"]
    assert "give the pattern alone" in reply.error["message"]
    reply = put(
        api, owner, org, {"invoice_prefix": "", "numbering": {"invoice": {"pattern": "B-{SEQ}"}}}
    )
    assert fields(reply) == ["numbering"]
    assert ok(get(api, owner, org))["numbering"]["invoice"]["pattern"] == "INV-{SEQ:4}"


def test_an_unknown_business_key_is_refused(api: Api, world: World) -> None:
    owner = person(world)
    assert fields(put(api, owner, org_of(world, owner), {"timezone": "UTC"})) == ["timezone"]


# -- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_only_admins_change_numbering_and_the_time_zone(api: Api, world: World, role: str) -> None:
    owner = person(world)
    org = org_of(world, owner)
    someone = person(world, org, role)
    for body in (
        {"time_zone": "Europe/Paris"},
        {"overpayment": "credit"},
        {"numbering": {"invoice": {"pattern": "Z-{SEQ}"}}},
    ):
        reply = put(api, someone, org, body)
        assert reply.status == 403, reply.json()
    admin = person(world, org, "admin")
    assert ok(put(api, admin, org, {"time_zone": "Europe/Paris"}))["time_zone"] == "Europe/Paris"
    after = ok(get(api, someone, org))
    assert (after["overpayment"], after["numbering"]["invoice"]["pattern"]) == (
        "refuse",
        "INV-{SEQ:4}",
    )


def test_a_stranger_reads_nothing_of_another_organization(api: Api, world: World) -> None:
    owner, stranger = person(world), person(world)
    reply = get(api, stranger, org_of(world, owner))
    assert reply.status == 403, reply.json()
