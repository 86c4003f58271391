"""jobsSealFields over the real local stack, the Stripe secrets' part: moved under the
payment keys' next KMS key (``rewrap_payment_keys_to``; the fields' ``rewrap_to`` leaves
them, their key is their own), first-format values converted on the way, each still bound
to its column and organization; KMS going away in the middle of an account (the second of
its three secrets) stops the run with nothing of that account written, and the next run
resumes; no secret in the logs."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.functions import FunctionHost
from shared import envelope, stripe_keys
from tests.api.conftest import Api, World
from tests.api.jobs import kms_outage as outage
from tests.api.jobs.kms_outage import KmsOutage, new_key
from tests.api.jobs.test_seal_fields import IBAN, iban_seal
from tests.api.portal.helpers import sent_invoice
from tests.api.stripe.helpers import connect, intent_event, post_event
from tests.api.stripe.test_sealed_keys import first_format, stored

pytestmark = pytest.mark.usefixtures("aws")

COLUMNS = stripe_keys.COLUMNS


@pytest.fixture
def kms_outage(monkeypatch: pytest.MonkeyPatch) -> Iterator[KmsOutage]:
    with outage.kms_outage(monkeypatch) as found:
        yield found


def connected_organizations(api: Api, world: World, count: int) -> list[str]:
    """``count`` organizations with Stripe connected, each sealed under a data key of its
    own (nothing cached between them), in the order the job walks them (by id)."""
    found = []
    for _ in range(count):
        name = f"rewrap-{secrets.token_hex(4)}"
        person = world.add_person(name)
        envelope.forget_keys()
        connect(api, as_=name)
        found.append(person.personal_org)
    return sorted(found)


def clear_secrets(world: World, org: str) -> dict[str, str]:
    values = stored(world, org)
    return {c: stripe_keys.unseal(values[c], org, c) for c in COLUMNS}


def to_first_format(world: World, org: str) -> dict[str, str]:
    """The account's secrets as stripe_keys' first format stored them; what is stored."""
    clear = clear_secrets(world, org)
    old: dict[str, str] = {c: first_format(clear[c], org) for c in COLUMNS}
    world.sql(
        "update private.stripe_accounts set secret_key_sealed = %s, webhook_secret_sealed = %s,"
        " handler_key_sealed = %s where organization_id = %s",
        old["secret_key_sealed"],
        old["webhook_secret_sealed"],
        old["handler_key_sealed"],
        org,
    )
    return old


def test_rewrap_moves_the_fields_and_the_stripe_secrets_each_under_their_own_key(
    api: Api,
    world: World,
    function_host: FunctionHost,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    name = f"rewrap-{secrets.token_hex(4)}"
    org = world.add_person(name).personal_org
    connect(api, as_=name)
    reply = api.put("/api/settings/business", as_=name, json_body={"iban": IBAN})
    assert reply.status == 200, reply.json()
    legacy = connected_organizations(api, world, 1)[0]
    clear = {org: clear_secrets(world, org), legacy: clear_secrets(world, legacy)}
    to_first_format(world, legacy)
    fields_before, stripe_before = iban_seal(world, org), stored(world, org)
    fields_next, payments_next = new_key("fields, next"), new_key("payment keys, next")

    # The fields' key: every sealed column, not the Stripe secrets (their own key).
    result = function_host.invoke_by_name("jobsSealFields", {"rewrap_to": fields_next})
    assert result["rewrapped"] >= 1, result
    assert result["rewrap_failed"] == 0, result
    assert "unfinished" not in result, result
    moved = iban_seal(world, org)
    assert moved["kid"] == fields_next
    assert (moved["c"], moved["n"]) == (fields_before["c"], fields_before["n"])
    assert stored(world, org) == stripe_before

    # The payment keys' key: the Stripe secrets, the first format converted.
    result = function_host.invoke_by_name(
        "jobsSealFields", {"rewrap_payment_keys_to": payments_next}
    )
    assert result["stripe_accounts_rewrapped"] >= 2, result
    assert result["stripe_accounts_failed"] == 0, result
    assert "unfinished" not in result, result
    envelope.forget_keys()
    for account in (org, legacy):
        after = stored(world, account)
        for column in COLUMNS:
            sealed = json.loads(after[column])
            assert sealed["kid"] == payments_next, (account, column)
            assert "k" not in sealed
            assert stripe_keys.unseal(after[column], account, column) == clear[account][column]
    for column in COLUMNS:  # re-wrapped: the same ciphertext, bound to the same context
        assert json.loads(stored(world, org)[column])["c"] == json.loads(stripe_before[column])["c"]
    with pytest.raises(stripe_keys.SealError):
        stripe_keys.unseal(stored(world, org)["secret_key_sealed"], legacy, "secret_key_sealed")
    assert iban_seal(world, org) == moved

    again = function_host.invoke_by_name(
        "jobsSealFields", {"rewrap_to": fields_next, "rewrap_payment_keys_to": payments_next}
    )
    assert (again["rewrapped"], again["stripe_accounts_rewrapped"]) == (0, 0), again

    # The webhook opens its signing secret under the new key; the settings their IBAN.
    invoice = sent_invoice(world, org)
    posted = post_event(api, world, org, intent_event(invoice, 2500))
    assert posted.status == 200, posted.json()
    assert posted.json()["status"] == "processed"
    assert api.get("/api/settings/business", as_=name).json()["iban"] == IBAN

    out, err = capsys.readouterr()
    logged = out + err + caplog.text
    for secrets_of in clear.values():
        for value in secrets_of.values():
            assert value not in logged


@pytest.mark.parametrize("mode", ["reseal", "rewrap"])
def test_kms_away_in_the_middle_of_an_account_stops_the_run_and_the_next_resumes(  # noqa: PLR0917
    api: Api,
    world: World,
    function_host: FunctionHost,
    kms_outage: KmsOutage,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    """Three accounts; KMS goes away while the job is at the second one's second secret
    (its first already opened or re-wrapped). The run stops, says so, and has written the
    first account whole and nothing of the second and third; once KMS is back the next
    run does the rest, and a third finds nothing (chunks of 2: the keyset resumes across
    them)."""
    monkeypatch.setattr(stripe_keys, "RESEAL_CHUNK", 2)
    first, middle, last = connected_organizations(api, world, 3)
    clear = {org: clear_secrets(world, org) for org in (first, middle, last)}
    if mode == "reseal":
        before = {org: to_first_format(world, org) for org in (first, middle, last)}
        # A data key per value in the first format: KMS goes at the second one's unwrap.
        kms_outage.go_away_at(json.loads(before[middle]["webhook_secret_sealed"])["k"])
        event: dict[str, Any] = {}
        done = "stripe_accounts_resealed"
    else:
        before = {org: stored(world, org) for org in (first, middle, last)}
        # An account's three values share its data key: KMS goes at the second ReEncrypt.
        kms_outage.go_away_at(json.loads(before[middle]["webhook_secret_sealed"])["dk"], 2)
        target = new_key("payment keys, next")
        event = {"rewrap_payment_keys_to": target}
        done = "stripe_accounts_rewrapped"
    envelope.forget_keys()

    result = function_host.invoke_by_name("jobsSealFields", event)
    assert result.get("unfinished") is True, result
    assert result.get("stopped") == "key_service_unavailable", result
    assert result["stripe_accounts_failed"] == 0, result
    assert kms_outage.dropped >= 1
    assert stored(world, middle) == before[middle]  # not half written
    assert stored(world, last) == before[last]
    done_first = stored(world, first)
    assert done_first != before[first]
    assert all("kid" in json.loads(done_first[c]) for c in COLUMNS)

    kms_outage.restore()
    resumed = function_host.invoke_by_name("jobsSealFields", event)
    assert "unfinished" not in resumed, resumed
    assert resumed[done] >= 2, resumed
    assert resumed["stripe_accounts_failed"] == 0, resumed
    assert function_host.invoke_by_name("jobsSealFields", event)[done] == 0
    envelope.forget_keys()
    for org in (first, middle, last):
        after = stored(world, org)
        for column in COLUMNS:
            sealed = json.loads(after[column])
            assert set(sealed) == {"v", "kid", "dk", "n", "c"}
            if mode == "rewrap":
                assert sealed["kid"] == target
            assert stripe_keys.unseal(after[column], org, column) == clear[org][column]
