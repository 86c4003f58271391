"""jobsSealFields (functions/jobs/seal_fields.py) over the real local stack, the sealed
fields' part: a write through the API while the job re-wraps the value wins (the update is
guarded on the value read; it was not); KMS away (a KMS endpoint in front of moto's that
drops every connection from a chosen request on: tests/api/jobs/kms_outage.py) stops a
re-wrap or a sealing run before the row at hand is written, and the next run resumes; a
bad target is refused before anything moves. The Stripe secrets' part:
tests/api/stripe/test_seal_fields_stripe.py."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.functions import FunctionHost
from shared import envelope, parties
from shared.jobs import JobInputError
from tests.api.conftest import Api, World
from tests.api.jobs import kms_outage as outage
from tests.api.jobs.kms_outage import KmsOutage, new_key

pytestmark = pytest.mark.usefixtures("aws")

IBAN = "DE89370400440532013000"


@pytest.fixture
def kms_outage(monkeypatch: pytest.MonkeyPatch) -> Iterator[KmsOutage]:
    with outage.kms_outage(monkeypatch) as found:
        yield found


def iban_seal(world: World, org: str) -> dict[str, Any]:
    found: dict[str, Any] = world.sql(
        "select iban_sealed from public.organization_settings where organization_id = %s", org
    )[0][0]
    return found


def test_a_write_while_the_fields_are_rewrapped_wins_and_kms_away_stops_the_run(
    api: Api, world: World, function_host: FunctionHost, kms_outage: KmsOutage
) -> None:
    """The organization's IBAN changes through the API while the job asks KMS to re-wrap
    the old one: the job's update is guarded on the value it read, so the new IBAN stays
    (it was overwritten by the old one's re-wrap). Then KMS goes away at a seal: the run
    stops, the next one finishes."""
    name = f"rewrap-{secrets.token_hex(4)}"
    org = world.add_person(name).personal_org
    envelope.forget_keys()  # the IBAN under a data key of its own
    reply = api.put("/api/settings/business", as_=name, json_body={"iban": IBAN})
    assert reply.status == 200, reply.json()
    old = iban_seal(world, org)
    envelope.forget_keys()
    other_iban = "FR1420041010050500013M02606"
    newer = parties.seal(other_iban, parties.iban_context(org))
    assert newer is not None

    def an_admin_writes() -> None:
        kms_outage.before = None  # once
        world.sql(
            "update public.organization_settings set iban_sealed = %s::jsonb"
            " where organization_id = %s",
            json.dumps(newer),
            org,
        )

    kms_outage.needle, kms_outage.before = old["dk"], an_admin_writes
    target = new_key("fields, next")
    result = function_host.invoke_by_name("jobsSealFields", {"rewrap_to": target})
    assert "unfinished" not in result, result
    assert iban_seal(world, org) == newer
    assert api.get("/api/settings/business", as_=name).json()["iban"] == other_iban

    kms_outage.go_away_at(newer["dk"])
    stopped = function_host.invoke_by_name("jobsSealFields", {"rewrap_to": target})
    assert stopped.get("unfinished") is True, stopped
    assert stopped.get("stopped") == "key_service_unavailable", stopped
    assert iban_seal(world, org) == newer

    kms_outage.restore()
    resumed = function_host.invoke_by_name("jobsSealFields", {"rewrap_to": target})
    assert "unfinished" not in resumed, resumed
    assert resumed["rewrapped"] >= 1, resumed
    assert iban_seal(world, org)["kid"] == target
    envelope.forget_keys()
    assert api.get("/api/settings/business", as_=name).json()["iban"] == other_iban


def test_the_clear_fields_stop_cleanly_when_kms_is_away(
    world: World, function_host: FunctionHost, kms_outage: KmsOutage
) -> None:
    """A value still in clear is sealed under a fresh data key: KMS away stops the run
    before that row is written (the clear value stays), and the next run seals it."""
    person = world.add_person(f"clear-{secrets.token_hex(4)}")
    org = person.personal_org
    world.sql(
        "update public.organization_settings set tax_id = 'FR61954506077'"
        " where organization_id = %s",
        org,
    )
    kms_outage.down = True  # away from the run's first request
    stopped = function_host.invoke_by_name("jobsSealFields", {})
    assert stopped.get("stopped") == "key_service_unavailable", stopped
    assert stopped.get("unfinished") is True, stopped
    row = world.sql(
        "select tax_id, tax_id_sealed from public.organization_settings where organization_id = %s",
        org,
    )[0]
    assert row == ("FR61954506077", None)

    kms_outage.restore()
    done = function_host.invoke_by_name("jobsSealFields", {})
    assert "unfinished" not in done, done
    row = world.sql(
        "select tax_id, tax_id_sealed from public.organization_settings where organization_id = %s",
        org,
    )[0]
    assert row[0] is None
    assert row[1]["kid"].startswith("arn:aws:kms:")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"rewrap_to": 7}, "rewrap_to must be a KMS key"),
        ({"rewrap_payment_keys_to": ""}, "rewrap_payment_keys_to must be a KMS key"),
        ({"rewrap_to": "alias/no-such-key"}, "rewrap_to: KMS refused .*NotFoundException"),
        ([], "the event must be a JSON object"),
    ],
)
def test_a_bad_target_is_refused_before_anything_moves(
    function_host: FunctionHost, event: Any, message: str
) -> None:
    with pytest.raises(JobInputError, match=message):
        function_host.invoke_by_name("jobsSealFields", event)
