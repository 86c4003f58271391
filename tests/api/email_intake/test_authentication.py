"""The sender's authentication (docs/payables.md, "The sender"): the mail worker trusts
only the Authentication-Results header SES prepends (the topmost of the stage's
authserv-id) and its spam and virus verdicts; the allowed senders and the members' own
addresses are matched only for an authenticated From. The raw messages carry SES's
headers as SES stores them (devstack.ses)."""

from __future__ import annotations

import uuid
from typing import Any

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from tests.api.conftest import Api, World
from tests.api.email_intake.helpers import deliver, invoices_csv, messages
from tests.api.email_intake.test_email_intake import allow, fresh, send, vendor_invoices

FORGED = {"spf": "fail", "dkim": "fail", "dmarc": "fail"}


def csv(number: str) -> list[tuple[str, str, bytes]]:
    return [("inv.csv", "text/csv", invoices_csv("Auth Supplies Ltd", number))]


def test_a_forged_from_of_an_allowed_sender_is_quarantined_with_the_reason(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "@vendor.example")
    number = f"FG-{uuid.uuid4().hex[:6]}"
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="billing@vendor.example",
        attachments=csv(number),
        ses=FORGED,
    )
    assert got["status"] == "quarantined"
    assert got["reason"] == (
        "the sender billing@vendor.example is not authenticated: "
        "DMARC fails for vendor.example (dmarc=fail)"
    )
    assert got["authentication"]["dmarc"] == "fail"
    assert got["authentication"]["authenticated"] is False
    assert got["attachments"] == []
    assert vendor_invoices(api, who, number) == []
    assert [m["id"] for m in messages(api, who, status="quarantined")] == [got["id"]]


def test_spf_and_dkim_both_failing_without_dmarc_is_quarantined(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "ap@vendor.example")
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="ap@vendor.example",
        attachments=csv(f"SD-{uuid.uuid4().hex[:6]}"),
        ses={"spf": "softfail", "dkim": "fail", "dmarc": "none"},
    )
    assert got["status"] == "quarantined"
    assert "neither SPF (softfail for vendor.example) nor DKIM" in got["reason"]


def test_a_sender_s_own_authentication_results_lower_down_is_not_trusted(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """The sender writes a passing header of SES's id into the message; SES's own,
    prepended above it, says fail: the topmost one decides."""
    who = fresh(world)
    allow(api, who, "@vendor.example")
    own = (
        "amazonses.com; spf=pass envelope-from=ap@vendor.example; "
        "dkim=pass header.i=@vendor.example; dmarc=pass header.from=vendor.example"
    )
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="ap@vendor.example",
        attachments=csv(f"OW-{uuid.uuid4().hex[:6]}"),
        extra_headers={"Authentication-Results": own, "X-SES-Virus-Verdict": "PASS"},
        ses={"spf": "fail", "dkim": "fail", "dmarc": None},
    )
    assert got["status"] == "quarantined"
    assert "neither SPF (fail" in got["reason"]


def test_dkim_alone_aligned_authenticates_a_forwarded_path(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """SPF fails (the message came through a forwarder) but the vendor's DKIM signature
    passes for its domain: authenticated, imported. A DKIM pass for another domain is
    not enough."""
    who = fresh(world)
    allow(api, who, "@vendor.example")
    number = f"DK-{uuid.uuid4().hex[:6]}"
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="ap@vendor.example",
        attachments=csv(number),
        ses={"spf": "fail", "dkim": "pass", "dmarc": None, "envelope_from": "fwd@relay.example"},
    )
    assert got["status"] == "imported", got["reason"]
    assert len(vendor_invoices(api, who, number)) == 1
    other = send(
        api,
        aws,
        function_host,
        who,
        sender="ap@vendor.example",
        attachments=csv(f"DK2-{uuid.uuid4().hex[:6]}"),
        ses={"spf": "fail", "dkim": "pass", "dmarc": None, "dkim_domain": "relay.example"},
    )
    assert other["status"] == "quarantined"


def test_a_forged_member_address_is_not_the_importer_until_an_admin_releases_it(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """A member's own address is allowed (and becomes the importer, who then cannot
    approve) only when authenticated: forged, it is quarantined and attributed to
    nobody; released, the admin is its importer."""
    owner = fresh(world)
    org = world.people[owner].personal_org
    member = f"{owner}-m"
    world.add_person(member, org, "member")
    number = f"FM-{uuid.uuid4().hex[:6]}"
    got = send(
        api,
        aws,
        function_host,
        owner,
        sender=world.people[member].email,
        attachments=csv(number),
        ses=FORGED,
    )
    assert got["status"] == "quarantined"
    assert got["imported_by"] is None
    reply = api.post(f"/api/payables/inbound/messages/{got['id']}/release", as_=owner)
    assert reply.status == 200, reply.json()
    assert deliver(function_host, aws) == []
    done = api.get(f"/api/payables/inbound/messages/{got['id']}", as_=owner).json()
    assert done["status"] == "imported"
    assert done["imported_by"] == world.people[owner].id
    assert len(vendor_invoices(api, owner, number)) == 1


def test_a_virus_is_rejected_whoever_sent_it_and_cannot_be_released(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "@vendor.example")
    for sender in ("ap@vendor.example", "someone@elsewhere.example"):
        got = send(
            api,
            aws,
            function_host,
            who,
            sender=sender,
            attachments=csv(f"VI-{uuid.uuid4().hex[:6]}"),
            ses={"virus": "FAIL"},
        )
        assert got["status"] == "rejected", sender
        assert "virus" in got["reason"]
        release = api.post(f"/api/payables/inbound/messages/{got['id']}/release", as_=who)
        assert release.status == 422


def test_a_message_without_ses_verdicts_or_with_spam_is_quarantined(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "@vendor.example")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"omit": True}, "has no Authentication-Results from amazonses.com"),
        ({"spam": "FAIL"}, "spam verdict is FAIL"),
    ]
    for ses, reason in cases:
        got = send(
            api,
            aws,
            function_host,
            who,
            sender="ap@vendor.example",
            attachments=csv(f"NV-{uuid.uuid4().hex[:6]}"),
            ses=ses,
        )
        assert got["status"] == "quarantined", ses
        assert reason in got["reason"]


def test_an_authenticated_allowed_sender_is_imported_with_its_verdicts(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    who = fresh(world)
    allow(api, who, "@vendor.example")
    got = send(
        api,
        aws,
        function_host,
        who,
        sender="Billing <billing@vendor.example>",
        attachments=csv(f"OK-{uuid.uuid4().hex[:6]}"),
    )
    assert got["status"] == "imported"
    auth = got["authentication"]
    assert (auth["authserv_id"], auth["spf"], auth["dmarc"], auth["spam"], auth["virus"]) == (
        "amazonses.com",
        "pass",
        "pass",
        "PASS",
        "PASS",
    )
    assert auth["dkim"] == [{"result": "pass", "domain": "vendor.example"}]
    assert auth["authenticated"] is True
