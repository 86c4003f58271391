"""Invitations (docs/teams.md) against moto's SES: an admin invites an address, the e-mail
carries a single-use link whose token is stored only hashed, the public preview shows
minimal data, the invited user accepts (case-insensitive e-mail) and is a viewer who cannot
write; accepting twice, an expired, revoked or resent-away token, another user's invitation
are each their own refusal; pending invitations listed; revocation and resending."""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
import uuid
from email.message import EmailMessage
from typing import Any

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.api.conftest import Api, Person, World
from tests.api.organizations.test_organizations import person, role_of, team

pytestmark = pytest.mark.usefixtures("aws")


def mail_to(address: str) -> list[EmailMessage]:
    found = []
    for raw in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages:
        if address in getattr(raw, "destinations", []):
            data = raw.raw_data
            message = email.message_from_bytes(
                data.encode() if isinstance(data, str) else data, policy=email.policy.default
            )
            assert isinstance(message, EmailMessage)
            found.append(message)
    return found


def token_in(message: EmailMessage) -> str:
    text = message.get_body(("plain",))
    assert text is not None
    match = re.search(r"/invitations/accept\?token=([A-Za-z0-9_\-]+)", text.get_content())
    assert match, text.get_content()
    return match.group(1)


def invite(api: Api, org: str, as_: str, address: str, role: str = "viewer") -> Any:
    return api.post(
        f"/api/organizations/{org}/invitations",
        as_=as_,
        json_body={"email": address, "role": role},
    )


def accept(api: Api, as_: str, token: str) -> Any:
    return api.post("/api/invitations/accept", as_=as_, json_body={"token": token})


def newcomer(world: World) -> Person:
    """Someone with an account (their personal organization only)."""
    return person(world, "guest")


def test_invite_accept_and_the_viewer_cannot_write(any_api: Api, world: World) -> None:
    t = team(world)
    org = t["owner"].personal_org
    guest = newcomer(world)
    reply = invite(any_api, org, t["admin"].name, guest.email.upper())
    assert reply.status == 201, reply.json()
    invitation = reply.json()
    assert invitation["email"] == guest.email
    assert invitation["role"] == "viewer"
    assert invitation["status"] == "pending"
    assert invitation["email_message_id"]

    messages = mail_to(guest.email)
    assert len(messages) == 1
    message = messages[0]
    assert "invites you to" in message["Subject"]
    token = token_in(message)
    html = message.get_body(("html",))
    assert html is not None
    assert token in html.get_content()
    # Only the token's SHA-256 is stored.
    stored = world.sql("select token_hash from public.invitations where id = %s", invitation["id"])[
        0
    ][0]
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert world.sql("select 1 from public.invitations where token_hash = %s", token) == []

    # The public preview: minimal data, no login.
    preview = any_api.get(f"/api/invitations/{token}")
    assert preview.status == 200, preview.json()
    shown = preview.json()
    assert set(shown) == {"organization_name", "role", "invited_by", "email_hint", "expires_at"}
    assert shown["role"] == "viewer"
    assert guest.email not in preview.content.decode()
    assert shown["email_hint"].endswith("@" + guest.email.split("@")[1])
    assert any_api.get(f"/api/invitations/{'x' * 43}").status == 404

    # Pending list.
    pending = any_api.get(f"/api/organizations/{org}/invitations", as_=t["admin"].name)
    assert [i["id"] for i in pending.json()["data"]] == [invitation["id"]]

    accepted = accept(any_api, guest.name, token)
    assert accepted.status == 200, accepted.json()
    assert accepted.json()["membership"]["role"] == "viewer"
    assert accepted.json()["organization"]["id"] == org
    assert role_of(world, org, guest) == "viewer"
    assert (
        any_api.get(f"/api/organizations/{org}/invitations", as_=t["admin"].name).json()["data"]
        == []
    )

    # The colleague sees the organization and cannot write in it.
    listed = any_api.get("/api/organizations", as_=guest.name).json()["data"]
    assert {"id": org, "role": "viewer"}.items() <= next(
        o for o in listed if o["id"] == org
    ).items()
    assert any_api.get("/api/clients", as_=guest.name, org=org).status == 200
    write = any_api.post(
        "/api/clients",
        as_=guest.name,
        org=org,
        json_body={"company_name": "Viewer's client", "currency": "USD"},
    )
    assert write.status == 403

    # The link is spent: twice is a refusal, and so is the preview.
    again = accept(any_api, guest.name, token)
    assert again.status == 409
    assert again.error["code"] == "invitation_already_accepted"
    assert any_api.get(f"/api/invitations/{token}").status == 404
    # Who accepted is in the audit log.
    assert world.sql(
        "select changed_by::text from public.audit_log where table_name = 'public.memberships'"
        " and organization_id = %s and operation = 'INSERT' and new_record ->> 'user_id' = %s",
        org,
        guest.id,
    ) == [(guest.id,)]


def test_refusals_each_have_their_code(api: Api, world: World) -> None:
    t = team(world)
    org = t["owner"].personal_org
    guest = newcomer(world)
    other = newcomer(world)

    reply = invite(api, org, t["admin"].name, guest.email)
    token = token_in(mail_to(guest.email)[-1])
    wrong = accept(api, other.name, token)
    assert wrong.status == 403
    assert wrong.error["code"] == "invitation_for_another_user"
    missing = accept(api, guest.name, "A" * 43)
    assert missing.status == 404
    assert missing.error["code"] == "invitation_not_found"

    world.sql(
        "update public.invitations set expires_at = now() - interval '1 second' where id = %s",
        reply.json()["id"],
    )
    expired = accept(api, guest.name, token)
    assert expired.status == 410
    assert expired.error["code"] == "invitation_expired"
    assert api.get(f"/api/invitations/{token}").status == 404

    # Resending an expired invitation: a new token, the old one dead.
    resent = api.post(
        f"/api/organizations/{org}/invitations/{reply.json()['id']}/resend", as_=t["admin"].name
    )
    assert resent.status == 200, resent.json()
    assert resent.json()["status"] == "pending"
    assert resent.json()["send_count"] == 2
    new_token = token_in(mail_to(guest.email)[-1])
    assert new_token != token
    assert accept(api, guest.name, token).error["code"] == "invitation_not_found"

    revoked = api.delete(
        f"/api/organizations/{org}/invitations/{reply.json()['id']}", as_=t["admin"].name
    )
    assert revoked.status == 200
    assert revoked.json()["status"] == "revoked"
    refused = accept(api, guest.name, new_token)
    assert refused.status == 410
    assert refused.error["code"] == "invitation_revoked"
    assert role_of(world, org, guest) is None

    # Already a member: the address cannot be invited.
    again = invite(api, org, t["admin"].name, t["member"].email)
    assert again.status == 409
    # A pending invitation is not duplicated.
    assert invite(api, org, t["admin"].name, other.email).status == 201
    duplicate = invite(api, org, t["admin"].name, other.email)
    assert duplicate.status == 409
    assert "pending invitation" in duplicate.error["message"]


def test_who_may_invite_and_bad_input(api: Api, world: World) -> None:
    t = team(world)
    org = t["owner"].personal_org
    address = f"someone-{uuid.uuid4().hex[:6]}@example.com"
    assert invite(api, org, t["member"].name, address).status == 403
    reply = invite(api, org, t["admin"].name, address, role="owner")
    assert reply.status == 403
    assert "only owners invite owners" in reply.error["message"]
    assert invite(api, org, t["owner"].name, address, role="owner").status == 201
    assert invite(api, org, "bob", address).status == 404
    bad = invite(api, org, t["admin"].name, "not an address")
    assert bad.status == 422
    assert bad.error["details"][0]["field"] == "email"
    bad_role = invite(api, org, t["admin"].name, address, role="king")
    assert bad_role.status == 422
    assert bad_role.error["details"][0]["field"] == "role"
    short = accept(api, t["member"].name, "")
    assert short.status == 422
    assert short.error["details"][0]["field"] == "token"
    # An admin cannot revoke an owner's invitation.
    owners = api.get(f"/api/organizations/{org}/invitations", as_=t["admin"].name).json()["data"]
    assert (
        api.delete(
            f"/api/organizations/{org}/invitations/{owners[0]['id']}", as_=t["admin"].name
        ).status
        == 403
    )
    assert (
        api.delete(
            f"/api/organizations/{org}/invitations/{uuid.uuid4()}", as_=t["admin"].name
        ).status
        == 404
    )


def test_failed_accepts_are_rate_limited(api: Api, world: World) -> None:
    guest = newcomer(world)
    codes = [accept(api, guest.name, f"{i:043d}").status for i in range(11)]
    assert codes[:10] == [404] * 10
    assert codes[10] == 429


def test_a_new_person_signs_up_then_accepts(api: Api, world: World) -> None:
    t = team(world)
    org = t["owner"].personal_org
    address = f"New.Person-{uuid.uuid4().hex[:6]}@Example.com"
    assert invite(api, org, t["admin"].name, address, role="member").status == 201
    token = token_in(mail_to(address.lower())[-1])
    signup = api.post(
        "/api/auth/signup",
        json_body={
            "email": address,
            "password": "a-long-password-1",
            "first_name": "New",
            "last_name": "Person",
        },
    )
    assert signup.status == 201, signup.json()
    access = signup.json()["session"]["access_token"]
    reply = api.post("/api/invitations/accept", token=access, json_body={"token": token})
    assert reply.status == 200, reply.json()
    assert reply.json()["membership"]["role"] == "member"
