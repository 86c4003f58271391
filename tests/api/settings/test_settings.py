"""The settings routes: each section read and changed (partial updates, merges),
validation with field paths, the business guarded by the admin role, and the
all-or-nothing PUT /api/settings.

The people here are this module's own (a fresh organization with an owner, an admin,
a member and a viewer), so the session's shared world is left as it was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.conftest import Api, Person, World


@dataclass
class Team:
    org: str
    owner: Person
    admin: Person
    member: Person
    viewer: Person


@pytest.fixture(scope="module")
def team(world: World) -> Team:
    owner = world.add_person("settings_owner")
    org = owner.personal_org
    return Team(
        org=org,
        owner=owner,
        admin=world.add_person("settings_admin", org, "admin"),
        member=world.add_person("settings_member", org, "member"),
        viewer=world.add_person("settings_viewer", org, "viewer"),
    )


def call(api: Api, method: str, path: str, who: Person, team: Team, **kwargs: Any) -> Any:
    """As ``who``, acting in the team's organization."""
    return api.request(method, path, as_=who.name, org=team.org, **kwargs)


def fields(reply: Any) -> list[str]:
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    return [detail["field"] for detail in reply.error["details"]]


# -- GET /api/settings ---------------------------------------------------------------------


def test_get_all_settings_in_one_call(api: Api, world: World, team: Team) -> None:
    reply = call(api, "GET", "/api/settings", team.viewer, team)
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["profile"]["id"] == team.viewer.id
    assert body["profile"]["email"] == team.viewer.email
    assert body["notifications"]["email_notifications"] == {
        "paymentReceived": True,
        "invoiceOverdue": True,
        "paymentReminder": True,
        "newClient": True,
        "weeklyReport": True,
        "monthlyReport": True,
    }
    assert body["notifications"]["push_notifications"] == {
        "paymentReceived": True,
        "invoiceOverdue": True,
        "systemUpdates": True,
    }
    business = body["business"]
    assert business["organization_id"] == team.org
    assert business["business_email"] == team.owner.email
    assert business["default_tax_rate"] == "0.000"  # money-like numbers are strings
    reminders = business["reminder_settings"]  # the old defaults as levels (-7, +1, daily)
    assert [level["days"] for level in reminders["levels"]] == [-7, 1]
    assert (reminders["enabled"], reminders["repeatEveryDays"], reminders["lateFee"]) == (
        True,
        1,
        None,
    )
    assert business["next_invoice_number_preview"] == "INV-0001"


def test_settings_need_an_organization_for_members_of_several(api: Api, team: Team) -> None:
    reply = api.get("/api/settings", as_=team.admin.name)
    assert reply.status == 400
    assert reply.error["code"] == "organization_required"
    # Their own profile and preferences need none.
    assert api.get("/api/settings/profile", as_=team.admin.name).status == 200
    assert api.get("/api/settings/notifications", as_=team.admin.name).status == 200


def test_settings_need_a_token(api: Api) -> None:
    for path in ("/api/settings", "/api/settings/profile", "/api/settings/business"):
        reply = api.get(path)
        assert reply.status == 401
        assert reply.error["code"] == "missing_token"


def test_a_stranger_cannot_read_another_organizations_settings(
    api: Api, world: World, team: Team
) -> None:
    reply = api.get("/api/settings/business", as_="bob", org=team.org)
    assert reply.status == 403
    assert reply.error["code"] == "forbidden"


# -- profile ---------------------------------------------------------------------------------


def test_profile_partial_update(api: Api, team: Team) -> None:
    who = team.member
    reply = api.put(
        "/api/settings/profile",
        as_=who.name,
        json_body={"first_name": "  Mia ", "last_name": "Member", "phone": "+1 555 0101"},
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["first_name"] == "Mia"

    reply = api.put(
        "/api/settings/profile",
        as_=who.name,
        json_body={"phone": None, "avatar_url": "https://cdn.example.com/mia.png"},
    )
    assert reply.status == 200
    body = reply.json()
    assert (body["first_name"], body["last_name"], body["phone"]) == ("Mia", "Member", None)
    assert body["avatar_url"] == "https://cdn.example.com/mia.png"
    assert body["email"] == who.email

    got = api.get("/api/settings/profile", as_=who.name).json()
    assert got == body

    reply = api.put("/api/settings/profile", as_=who.name, json_body={"last_name": ""})
    assert reply.json()["last_name"] is None  # blank clears


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "new@example.com"}, "email"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"phone": "1" * 51}, "phone"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"avatar_url": "https://x/" + "a" * 2048}, "avatar_url"),
        ({"nickname": "M"}, "nickname"),
        ({"first_name": 7}, "first_name"),
    ],
)
def test_profile_validation(api: Api, team: Team, change: dict[str, Any], field: str) -> None:
    reply = api.put("/api/settings/profile", as_=team.viewer.name, json_body=change)
    assert fields(reply) == [field]


# -- notifications -------------------------------------------------------------------------


def test_notifications_merge_key_by_key(api: Api, team: Team) -> None:
    who = team.viewer
    reply = api.put(
        "/api/settings/notifications",
        as_=who.name,
        json_body={"email_notifications": {"weeklyReport": False, "newClient": False}},
    )
    assert reply.status == 200, reply.json()
    reply = api.put(
        "/api/settings/notifications",
        as_=who.name,
        json_body={
            "email_notifications": {"newClient": True},
            "push_notifications": {"systemUpdates": False},
        },
    )
    body = reply.json()
    assert body["email_notifications"]["weeklyReport"] is False
    assert body["email_notifications"]["newClient"] is True
    assert body["email_notifications"]["monthlyReport"] is True
    assert body["push_notifications"] == {
        "paymentReceived": True,
        "invoiceOverdue": True,
        "systemUpdates": False,
    }
    assert api.get("/api/settings/notifications", as_=who.name).json() == body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email_notifications": {"weeklyReport": "no"}}, "email_notifications.weeklyReport"),
        ({"email_notifications": {"weeklyReport": 0}}, "email_notifications.weeklyReport"),
        ({"email_notifications": {"weeklyReport": None}}, "email_notifications.weeklyReport"),
        ({"email_notifications": {"spam": True}}, "email_notifications.spam"),
        ({"push_notifications": {"newClient": True}}, "push_notifications.newClient"),
        ({"push_notifications": None}, "push_notifications"),
        ({"sms_notifications": {}}, "sms_notifications"),
    ],
)
def test_notifications_validation(api: Api, team: Team, change: dict[str, Any], field: str) -> None:
    reply = api.put("/api/settings/notifications", as_=team.viewer.name, json_body=change)
    assert fields(reply) == [field]


# -- business ----------------------------------------------------------------------------------


def test_business_is_read_by_every_member_and_changed_by_admins(api: Api, team: Team) -> None:
    for who in (team.viewer, team.member, team.admin, team.owner):
        assert call(api, "GET", "/api/settings/business", who, team).status == 200

    for who in (team.viewer, team.member):
        reply = call(
            api, "PUT", "/api/settings/business", who, team, json_body={"business_name": "Nope"}
        )
        assert reply.status == 403
        assert reply.error["code"] == "forbidden"

    reply = call(
        api,
        "PUT",
        "/api/settings/business",
        team.admin,
        team,
        json_body={
            "business_name": "Settings Test Ltd",
            "website": "https://settings.example.com",
            "default_currency": "eur",
            "default_tax_rate": "19.5",
            "default_template": "modern",
            "default_payment_terms": "net15",
            "invoice_prefix": "ST/2026/",
            "invoice_number_padding": 6,
            "reminder_settings": {"repeatEveryDays": 3},
            "tax_id": "",
        },
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["business_name"] == "Settings Test Ltd"
    assert body["default_currency"] == "EUR"
    assert body["default_tax_rate"] == "19.500"
    assert body["default_template"] == "modern"
    assert body["default_payment_terms"] == "net15"
    assert body["tax_id"] is None
    assert body["reminder_settings"]["repeatEveryDays"] == 3  # merged: the levels stay
    assert [level["days"] for level in body["reminder_settings"]["levels"]] == [-7, 1]
    assert body["next_invoice_number_preview"] == "ST/2026/000001"
    assert call(api, "GET", "/api/settings/business", team.viewer, team).json() == body


def test_invoice_counter_only_goes_up(api: Api, team: Team) -> None:
    reply = call(
        api,
        "PUT",
        "/api/settings/business",
        team.owner,
        team,
        json_body={"next_invoice_number": 500},
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["next_invoice_number"] == 500
    reply = call(
        api,
        "PUT",
        "/api/settings/business",
        team.owner,
        team,
        json_body={"next_invoice_number": 499},
    )
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "only go up" in reply.error["message"]
    assert "500" in reply.error["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"default_tax_rate": "100.001"}, "default_tax_rate"),
        ({"default_tax_rate": -1}, "default_tax_rate"),
        ({"default_tax_rate": "7.1234"}, "default_tax_rate"),
        ({"default_template": "fancy"}, "default_template"),
        ({"default_payment_terms": "custom"}, "default_payment_terms"),
        ({"default_currency": "EURO"}, "default_currency"),
        ({"default_currency": None}, "default_currency"),
        ({"invoice_prefix": "<script>"}, "invoice_prefix"),
        ({"invoice_prefix": "A" * 21}, "invoice_prefix"),
        ({"invoice_prefix": "INV -"}, "invoice_prefix"),
        ({"invoice_number_padding": 0}, "invoice_number_padding"),
        ({"invoice_number_padding": 13}, "invoice_number_padding"),
        ({"invoice_number_padding": "4"}, "invoice_number_padding"),
        ({"next_invoice_number": 0}, "next_invoice_number"),
        ({"tax_label": ""}, "tax_label"),
        ({"tax_label": None}, "tax_label"),
        ({"business_email": "not-an-email"}, "business_email"),
        ({"website": "ftp://example.com"}, "website"),
        ({"business_name": "x" * 201}, "business_name"),
        ({"reminder_settings": {"daysBeforeDue": 7}}, "reminder_settings.daysBeforeDue"),
        ({"reminder_settings": {"repeatEveryDays": 1.5}}, "reminder_settings.repeatEveryDays"),
        ({"reminder_settings": {"enabled": "yes"}}, "reminder_settings.enabled"),
        ({"reminder_settings": {"snooze": True}}, "reminder_settings.snooze"),
        ({"reminder_settings": None}, "reminder_settings"),
        ({"organization_id": "00000000-0000-0000-0000-000000000000"}, "organization_id"),
    ],
)
def test_business_validation(api: Api, team: Team, change: dict[str, Any], field: str) -> None:
    reply = call(api, "PUT", "/api/settings/business", team.owner, team, json_body=change)
    assert fields(reply) == [field]


# -- PUT /api/settings: all or nothing ------------------------------------------------------------


def test_put_settings_changes_every_section_at_once(api: Api, team: Team) -> None:
    reply = call(
        api,
        "PUT",
        "/api/settings",
        team.owner,
        team,
        json_body={
            "profile": {"first_name": "Olga"},
            "business": {"tax_label": "VAT"},
            "notifications": {"push_notifications": {"invoiceOverdue": False}},
        },
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["profile"]["first_name"] == "Olga"
    assert body["business"]["tax_label"] == "VAT"
    assert body["notifications"]["push_notifications"]["invoiceOverdue"] is False
    assert call(api, "GET", "/api/settings", team.owner, team).json() == body


def test_put_settings_refused_by_the_database_changes_nothing(
    api: Api, world: World, team: Team
) -> None:
    counter = call(api, "GET", "/api/settings/business", team.owner, team).json()
    raised = counter["next_invoice_number"] + 10
    reply = call(
        api,
        "PUT",
        "/api/settings/business",
        team.owner,
        team,
        json_body={"next_invoice_number": raised},
    )
    assert reply.status == 200
    before = call(api, "GET", "/api/settings", team.owner, team).json()
    reply = call(
        api,
        "PUT",
        "/api/settings",
        team.owner,
        team,
        json_body={
            "profile": {"first_name": "Changed"},
            "notifications": {"email_notifications": {"paymentReceived": False}},
            "business": {"business_name": "Changed Ltd", "next_invoice_number": raised - 1},
        },
    )
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert call(api, "GET", "/api/settings", team.owner, team).json() == before


def test_put_settings_with_one_invalid_section_changes_nothing(api: Api, team: Team) -> None:
    before = call(api, "GET", "/api/settings", team.owner, team).json()
    reply = call(
        api,
        "PUT",
        "/api/settings",
        team.owner,
        team,
        json_body={
            "profile": {"first_name": "Changed"},
            "business": {"default_tax_rate": "150"},
        },
    )
    assert fields(reply) == ["business.default_tax_rate"]
    assert call(api, "GET", "/api/settings", team.owner, team).json() == before


def test_put_settings_business_section_needs_admin(api: Api, team: Team) -> None:
    before = call(api, "GET", "/api/settings", team.member, team).json()
    reply = call(
        api,
        "PUT",
        "/api/settings",
        team.member,
        team,
        json_body={"profile": {"first_name": "Sneaky"}, "business": {"business_name": "Mine"}},
    )
    assert reply.status == 403
    assert call(api, "GET", "/api/settings", team.member, team).json() == before

    reply = call(
        api, "PUT", "/api/settings", team.member, team, json_body={"profile": {"first_name": "Max"}}
    )
    assert reply.status == 200
    assert reply.json()["profile"]["first_name"] == "Max"


def test_put_settings_is_not_for_viewers(api: Api, team: Team) -> None:
    """The combined PUT writes in the organization: viewers use the per-user routes."""
    reply = call(
        api, "PUT", "/api/settings", team.viewer, team, json_body={"profile": {"phone": "1"}}
    )
    assert reply.status == 403
    assert reply.error["code"] == "forbidden"
    reply = api.put("/api/settings/profile", as_=team.viewer.name, json_body={"phone": "1"})
    assert reply.status == 200
    assert reply.json()["phone"] == "1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"profile": None}, "profile"),
        ({"profile": {"email": "x@example.com"}}, "profile.email"),
        (
            {"notifications": {"email_notifications": {"x": True}}},
            "notifications.email_notifications.x",
        ),
        (
            {"business": {"reminder_settings": {"repeatEveryDays": 0}}},
            "business.reminder_settings.repeatEveryDays",
        ),
        ({"theme": "dark"}, "theme"),
    ],
)
def test_put_settings_validation_paths(
    api: Api, team: Team, body: dict[str, Any], field: str
) -> None:
    reply = call(api, "PUT", "/api/settings", team.owner, team, json_body=body)
    assert fields(reply) == [field]


def test_malformed_json_is_400(api: Api, team: Team) -> None:
    reply = call(api, "PUT", "/api/settings/profile", team.owner, team, content=b"{nope")
    assert reply.status == 400
    assert reply.error["code"] == "malformed_json"
