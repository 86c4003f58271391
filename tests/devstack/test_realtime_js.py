"""The product's realtime design through supabase-js in Node (the version package.json
pins, with `ws` as Node 20's WebSocket): tests/devstack/realtime_js/conformance.mjs runs
the scenarios against the local stack or a real Supabase (SUPABASE_URL and its keys) and
prints what it observed; the tests here judge it. The same people and organizations as
the Python client's tests (test_realtime_clients.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.devstack.test_realtime_clients import World, world

__all__ = ["world"]

pytestmark = pytest.mark.slow  # about 20 s: Node, websockets, 1,000 changes

SCRIPT = Path(__file__).resolve().parent / "realtime_js" / "conformance.mjs"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def observed(world: World) -> dict[str, dict[str, Any]]:
    node = shutil.which("node")
    assert node, "Node is needed (make package installs the same one)"
    assert (ROOT / "node_modules" / "@supabase" / "supabase-js").is_dir(), "run npm ci"
    people = {
        name: {
            "token": world.token(name),
            "org": person.org,
            "client": world.clients.get(name, world.clients["alice"]),
        }
        for name, person in world.people.items()
    }
    keys = world.stack.config.keys
    config = {
        "url": world.stack.url,
        "anonKey": keys.anon_key,
        "serviceKey": keys.service_role_key,
        "people": people,
        "expiredToken": world.token("alice", exp=int(time.time()) - 10),
    }
    done = subprocess.run(
        [node, str(SCRIPT), json.dumps(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {line["scenario"]: line for line in lines}


def test_two_organizations_a_thousand_changes_and_none_crosses(
    observed: dict[str, dict[str, Any]],
) -> None:
    """250 inserts, 150 updates and 100 deletes per organization through supabase-js's
    REST client: each organization's subscribers receive their own, filtered by the
    organization or (inserts, updates) unfiltered under RLS, and nothing of the other's;
    a DELETE carries the primary key alone."""
    tenants = observed["tenants"]
    assert all(s == {"status": "SUBSCRIBED", "ready": True} for s in tenants["statuses"])
    assert tenants["phases"] == [True, True, True]
    for key in ("a", "b"):
        assert tenants["counts"][key] == {
            "INSERT": 250,
            "UPDATE": 150,
            "DELETE": 100,
            "unfiltered": 400,
        }
        assert tenants["crossing"][key] == 0
        assert tenants["without_organization"][key] == 0  # every row shows whose it is
        assert tenants["deletes_shape"][key] == ["id"]


def test_a_filter_narrows_the_changes(observed: dict[str, dict[str, Any]]) -> None:
    filters = observed["filters"]
    assert filters["status"] == {"status": "SUBSCRIBED", "ready": True}
    assert filters["payments"] == ["payment", "payment"]


def test_the_database_broadcasts_to_members_and_viewers_and_refuses_a_stranger(
    observed: dict[str, dict[str, Any]], world: World
) -> None:
    broadcast = observed["database_broadcast"]
    assert broadcast["statuses"]["alice"]["status"] == "SUBSCRIBED"
    assert broadcast["statuses"]["vera"]["status"] == "SUBSCRIBED"
    assert broadcast["statuses"]["bob"]["status"] == "CHANNEL_ERROR"
    assert "Unauthorized" in broadcast["statuses"]["bob"]["error"]
    for name in ("alice", "vera"):
        (signal,) = broadcast["heard"][name]  # the broadcast's payload
        assert signal["organization_id"] == world.people["alice"].org
        assert signal["source"] == "vendor_invoices"


def test_members_broadcast_on_the_team_channel_and_a_viewer_only_listens(
    observed: dict[str, dict[str, Any]],
) -> None:
    team = observed["team_broadcast"]
    assert {s["status"] for s in team["statuses"].values()} == {"SUBSCRIBED"}
    assert team["sent"]["mia"] == "ok"
    assert team["heard"]["alice"] == [{"text": "from mia"}]
    assert team["heard"]["vera"] == [{"text": "from mia"}]
    assert team["heard"]["mia"] == []  # self: false


def test_presence_shows_members_not_viewers(observed: dict[str, dict[str, Any]]) -> None:
    presence = observed["presence"]
    assert {s["status"] for s in presence["statuses"].values()} == {"SUBSCRIBED"}
    assert presence["tracked"]["alice"] == "ok"
    assert presence["tracked"]["mia"] == "ok"
    assert presence["seen"] == {"alice": "alice,mia", "vera": "alice,mia"}
    assert presence["looking"] == ["invoice of mia"]
    assert presence["after_untrack"] == "alice"


def test_an_expired_token_cannot_join(observed: dict[str, dict[str, Any]]) -> None:
    result = observed["expired_token"]["result"]
    assert result["status"] == "CHANNEL_ERROR"
    assert "expired" in result["error"].lower()
