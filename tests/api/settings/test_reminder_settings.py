"""The reminder levels and the late fee in the business settings (PUT/GET
/api/settings/business; docs/api.md, "Reminder levels and late fees"): set, read back and
merged key by key; every malformed value a 422 naming the field, whether the model or
the database (the settings merged with the stored ones) finds it; only admins change
them.

This module's own organization (an owner and a viewer), so the session's world stays as
it was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.conftest import Api, Person, World


@dataclass
class Team:
    org: str
    owner: Person
    viewer: Person


@pytest.fixture(scope="module")
def team(world: World) -> Team:
    owner = world.add_person("reminder_settings_owner")
    return Team(
        org=owner.personal_org,
        owner=owner,
        viewer=world.add_person("reminder_settings_viewer", owner.personal_org, "viewer"),
    )


def put(api: Api, team: Team, reminders: Any, who: Person | None = None) -> Any:
    return api.request(
        "PUT",
        "/api/settings/business",
        as_=(who or team.owner).name,
        org=team.org,
        json_body={"reminder_settings": reminders},
    )


def fields(reply: Any) -> list[str]:
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    return [detail["field"] for detail in reply.error["details"]]


def level(days: int, subject: str = "Invoice {invoice_number}", message: str = "Pay.") -> Any:
    return {"days": days, "subject": subject, "message": message}


LEVELS = [
    level(-5, "Soon: {invoice_number}", "Dear {client_name}, {amount_due} is due {due_date}."),
    level(3, "Late: {invoice_number}", "{days_overdue} days late: {amount_due} of {total}."),
    level(14, "Final: {invoice_number}", "Please pay {amount_due} now."),
]


def test_levels_and_a_late_fee_are_set_read_back_and_merged(api: Api, team: Team) -> None:
    reply = put(
        api,
        team,
        {
            "levels": LEVELS,
            "repeatEveryDays": 7,
            "lateFee": {"type": "percent", "amount": "1.5", "levels": [2, 3]},
        },
    )
    assert reply.status == 200, reply.json()
    reminders = reply.json()["reminder_settings"]
    assert reminders["levels"] == LEVELS
    assert (reminders["enabled"], reminders["repeatEveryDays"]) == (True, 7)
    assert reminders["lateFee"] == {"type": "percent", "amount": "1.5", "levels": [2, 3]}

    # Key by key: the levels stay when the repeat and the fee are turned off.
    reply = put(api, team, {"repeatEveryDays": None, "lateFee": None})
    assert reply.status == 200, reply.json()
    reminders = reply.json()["reminder_settings"]
    assert reminders["levels"] == LEVELS
    assert (reminders["repeatEveryDays"], reminders["lateFee"]) == (None, None)
    got = api.request("GET", "/api/settings/business", as_=team.viewer.name, org=team.org)
    assert got.json()["reminder_settings"] == reminders


too_long = "x" * 201


@pytest.mark.parametrize(
    ("reminders", "field"),
    [
        ({"levels": [level(1), level(2), level(3), level(4)]}, "reminder_settings.levels"),
        ({"levels": [level(366)]}, "reminder_settings.levels[0].days"),
        ({"levels": [level(-91)]}, "reminder_settings.levels[0].days"),
        ({"levels": [level(1), level(1)]}, "reminder_settings.levels"),
        ({"levels": [level(5), level(2)]}, "reminder_settings.levels"),
        ({"levels": [level(1, subject="Hi {name}")]}, "reminder_settings.levels[0].subject"),
        ({"levels": [level(1, subject="a\nb")]}, "reminder_settings.levels[0].subject"),
        ({"levels": [level(1, subject=too_long)]}, "reminder_settings.levels[0].subject"),
        ({"levels": [level(1, message="")]}, "reminder_settings.levels[0].message"),
        ({"levels": [level(1, message="{amount}")]}, "reminder_settings.levels[0].message"),
        ({"levels": [{**level(1), "tone": "firm"}]}, "reminder_settings.levels[0].tone"),
        ({"levels": None}, "reminder_settings.levels"),
        ({"repeatEveryDays": 0}, "reminder_settings.repeatEveryDays"),
        ({"repeatEveryDays": "7"}, "reminder_settings.repeatEveryDays"),
        (
            {"lateFee": {"type": "flat", "amount": 5, "levels": [2]}},
            "reminder_settings.lateFee.type",
        ),
        (
            {"lateFee": {"type": "percent", "amount": 150, "levels": [2]}},
            "reminder_settings.lateFee.amount",
        ),
        (
            {"lateFee": {"type": "fixed", "amount": 0, "levels": [2]}},
            "reminder_settings.lateFee.amount",
        ),
        (
            {"lateFee": {"type": "fixed", "amount": "1.2345", "levels": [2]}},
            "reminder_settings.lateFee.amount",
        ),
        (
            {"lateFee": {"type": "fixed", "amount": 5, "levels": [4]}},
            "reminder_settings.lateFee.levels[0]",
        ),
        (
            {"lateFee": {"type": "fixed", "amount": 5, "levels": []}},
            "reminder_settings.lateFee.levels",
        ),
        (
            {"levels": [level(-2)], "lateFee": {"type": "fixed", "amount": 5, "levels": [1]}},
            "reminder_settings.lateFee",
        ),
        (
            {"levels": [level(2)], "lateFee": {"type": "fixed", "amount": 5, "levels": [2]}},
            "reminder_settings.lateFee",
        ),
        ({"daysBeforeDue": 7}, "reminder_settings.daysBeforeDue"),
        ({"overdueFrequency": "weekly"}, "reminder_settings.overdueFrequency"),
    ],
)
def test_bad_reminder_settings_are_refused_naming_the_field(
    api: Api, team: Team, reminders: dict[str, Any], field: str
) -> None:
    assert fields(put(api, team, reminders)) == [field]


def test_the_settings_merged_with_the_stored_ones_are_checked(api: Api, team: Team) -> None:
    """Two levels stored; a late fee for level 3 alone passes the model (it cannot see the
    stored levels) and the database refuses it, naming the field: 422, nothing written."""
    assert put(api, team, {"levels": LEVELS[:2], "lateFee": None}).status == 200
    reply = put(api, team, {"lateFee": {"type": "fixed", "amount": 10, "levels": [3]}})
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert reply.error["message"] == (
        "business.reminder_settings.lateFee.levels: there is no level 3 (2 levels)"
    )
    reply = put(api, team, {"levels": [LEVELS[0]]})  # would orphan nothing: no fee stored
    assert reply.status == 200, reply.json()
    assert put(api, team, {"lateFee": {"type": "fixed", "amount": 10, "levels": [1]}}).error[
        "message"
    ] == (
        "business.reminder_settings.lateFee.levels: level 1 is on day -5;"
        " a late fee applies after the due date (days above 0)"
    )


def test_a_viewer_cannot_change_reminders(api: Api, team: Team) -> None:
    reply = put(api, team, {"enabled": False}, who=team.viewer)
    assert reply.status == 403
