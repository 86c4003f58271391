"""Sessions and the account through the API: refresh with rotation (a reused refresh
token is refused and ends its session), sign out everywhere, change of password with
the current one, password reset by e-mail (always 202; the local Auth's inbox), change
of e-mail confirmed from both addresses."""

from __future__ import annotations

from typing import Any

import httpx

from devstack.auth.tokens import totp
from tests.api.auth.test_auth import PASSWORD, new_email
from tests.api.auth.test_mfa import enroll_and_verify, login, signed_up
from tests.api.conftest import Api, World

NEW_PASSWORD = "another correct horse 77"


def inbox(world: World, to: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{world.stack.url}/auth/v1/_inbox.json", params={"to": to}, timeout=10)
    assert reply.status_code == 200
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


def session_of(api: Api, email: str, password: str = PASSWORD) -> dict[str, Any]:
    reply = api.post("/api/auth/login", json_body={"email": email, "password": password})
    assert reply.status == 200, reply.json()
    session: dict[str, Any] = reply.json()["session"]
    return session


def test_refresh_rotates_and_a_reused_token_ends_the_session(any_api: Api, world: World) -> None:
    account = signed_up(any_api)
    first = account["session"]["refresh_token"]
    second = any_api.post("/api/auth/refresh", json_body={"refresh_token": first})
    assert second.status == 200, second.json()
    new = second.json()["session"]
    assert new["refresh_token"] != first
    assert new["access_token"]
    assert second.json()["user"]["email"] == account["email"]
    third = any_api.post("/api/auth/refresh", json_body={"refresh_token": new["refresh_token"]})
    assert third.status == 200, third.json()
    latest = third.json()["session"]["refresh_token"]
    # The first token used again after Auth's reuse interval: refused, and the session
    # (its newest token too) ends.
    world.sql(
        "update auth.refresh_tokens set updated_at = now() - interval '1 hour' where token = %s",
        first,
    )
    reused = any_api.post("/api/auth/refresh", json_body={"refresh_token": first})
    assert reused.status == 401, reused.json()
    assert reused.json()["error"]["code"] == "invalid_token"
    # Its family was revoked: once the reuse interval has passed since (aged here, as in
    # the previous step), the newest token is refused too.
    world.sql(
        "update auth.refresh_tokens set updated_at = now() - interval '1 hour'"
        " where session_id = (select session_id from auth.refresh_tokens where token = %s)",
        first,
    )
    assert any_api.post("/api/auth/refresh", json_body={"refresh_token": latest}).status == 401


def test_refresh_bad_input(api: Api) -> None:
    assert api.post("/api/auth/refresh", json_body={}).status == 422
    assert api.post("/api/auth/refresh", json_body={"refresh_token": ""}).status == 422
    unknown = api.post("/api/auth/refresh", json_body={"refresh_token": "abcdefghijkl"})
    assert unknown.status == 401
    assert api.post("/api/auth/refresh", content=b"{not json").status == 400


def test_sign_out_everywhere(api: Api) -> None:
    account = signed_up(api)
    other = session_of(api, account["email"])
    out = api.post(
        "/api/auth/logout", token=account["session"]["access_token"], query={"scope": "global"}
    )
    assert out.status == 204
    for token in (account["session"]["refresh_token"], other["refresh_token"]):
        assert api.post("/api/auth/refresh", json_body={"refresh_token": token}).status == 401


# The account routes that call Auth as the caller (functions/auth/mfa.py's Person). Each
# body is invalid on purpose: the ended session is answered first, not the body.
ACCOUNT_ROUTES = [
    ("GET", "/api/auth/mfa/factors", None),
    ("POST", "/api/auth/mfa/enroll", {"friendly_name": 7}),
    ("POST", "/api/auth/mfa/challenge", {}),
    ("POST", "/api/auth/mfa/verify", {}),
    ("DELETE", "/api/auth/mfa/factors/00000000-0000-4000-8000-000000000000", None),
    ("POST", "/api/auth/password", {}),
    ("POST", "/api/auth/email", {}),
]


def test_a_signed_out_session_is_401_session_ended_on_the_account_routes(any_api: Api) -> None:
    """As on every other route (api_context): not 401 invalid_token from Auth, nor 422
    for the body (reliability/test_security.py found both)."""
    account = signed_up(any_api)
    token = account["session"]["access_token"]
    assert any_api.get("/api/auth/mfa/factors", token=token).status == 200
    assert any_api.post("/api/auth/logout", token=token).status == 204
    answers = {}
    for method, path, body in ACCOUNT_ROUTES:
        reply = any_api.request(method, path, token=token, json_body=body)
        code = reply.json()["error"]["code"] if reply.content else None
        answers[f"{method} {path}"] = (reply.status, code, reply.headers.get("www-authenticate"))
    assert answers == {
        f"{method} {path}": (401, "session_ended", "Bearer") for method, path, _ in ACCOUNT_ROUTES
    }


def test_change_password_with_the_current_one(any_api: Api) -> None:
    account = signed_up(any_api)
    token = account["session"]["access_token"]
    other = session_of(any_api, account["email"])

    def error(body: dict[str, Any]) -> tuple[int, str]:
        reply = any_api.post("/api/auth/password", token=token, json_body=body)
        return reply.status, reply.json()["error"]["message"]

    status, message = error({"current_password": "wrong password", "new_password": NEW_PASSWORD})
    assert (status, message.split(":")[0]) == (422, "current_password")
    status, message = error({"current_password": PASSWORD, "new_password": "short"})
    assert (status, message.split(":")[0]) == (422, "new_password")
    status, message = error({"current_password": PASSWORD, "new_password": PASSWORD})
    assert (status, message.split(":")[0]) == (422, "new_password")
    assert any_api.post("/api/auth/password", json_body={}).status == 401

    changed = any_api.post(
        "/api/auth/password",
        token=token,
        json_body={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status == 204
    assert (
        any_api.post(
            "/api/auth/login", json_body={"email": account["email"], "password": PASSWORD}
        ).status
        == 401
    )
    session_of(any_api, account["email"], NEW_PASSWORD)
    # The other sessions ended; this one goes on.
    assert (
        any_api.post(
            "/api/auth/refresh", json_body={"refresh_token": other["refresh_token"]}
        ).status
        == 401
    )
    assert (
        any_api.post(
            "/api/auth/refresh", json_body={"refresh_token": account["session"]["refresh_token"]}
        ).status
        == 200
    )


def test_change_password_with_mfa_needs_aal2(api: Api) -> None:
    account = signed_up(api)
    _, _, aal2 = enroll_and_verify(api, account["session"]["access_token"])
    aal1 = login(api, account["email"])
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    refused = api.post("/api/auth/password", token=aal1, json_body=body)
    assert refused.status == 403, refused.json()
    assert refused.json()["error"]["code"] == "mfa_required"
    assert api.post("/api/auth/password", token=aal2, json_body=body).status == 204


def test_password_reset_by_mail(any_api: Api, world: World) -> None:
    account = signed_up(any_api)
    email = account["email"]
    unknown = any_api.post("/api/auth/recover", json_body={"email": new_email("nobody")})
    known = any_api.post("/api/auth/recover", json_body={"email": email.upper()})
    assert unknown.status == known.status == 202
    assert unknown.json() == known.json()
    assert any_api.post("/api/auth/recover", json_body={"email": "not-an-address"}).status == 202
    assert any_api.post("/api/auth/recover", json_body={}).status == 422

    [mail] = inbox(world, email)
    assert mail["subject"] == "Reset Your Password"
    assert "/auth/v1/verify?token=" in mail["link"]
    code = mail["code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = any_api.post(
        "/api/auth/recover/complete",
        json_body={"email": email, "code": wrong, "new_password": NEW_PASSWORD},
    )
    assert refused.status == 422, refused.json()
    assert refused.json()["error"]["code"] == "invalid_code"
    done = any_api.post(
        "/api/auth/recover/complete",
        json_body={"email": email, "code": code, "new_password": NEW_PASSWORD},
    )
    assert done.status == 200, done.json()
    assert done.json()["session"]["access_token"]
    session_of(any_api, email, NEW_PASSWORD)
    again = any_api.post(
        "/api/auth/recover/complete",
        json_body={"email": email, "code": code, "new_password": "yet another one 99"},
    )
    assert again.status == 422, "a code works once"


def test_password_reset_with_mfa_needs_the_totp_code(api: Api, world: World) -> None:
    account = signed_up(api)
    email = account["email"]
    _, secret, _ = enroll_and_verify(api, account["session"]["access_token"])
    assert api.post("/api/auth/recover", json_body={"email": email}).status == 202
    code = inbox(world, email)[0]["code"]
    body = {"email": email, "code": code, "new_password": NEW_PASSWORD}
    refused = api.post("/api/auth/recover/complete", json_body=body)
    assert refused.status == 403, refused.json()
    assert refused.json()["error"]["code"] == "mfa_required"
    world.sql(
        "update auth.users set recovery_sent_at = now() - interval '1 minute' where email = %s",
        email,
    )
    assert api.post("/api/auth/recover", json_body={"email": email}).status == 202
    code = inbox(world, email)[0]["code"]
    done = api.post(
        "/api/auth/recover/complete", json_body={**body, "code": code, "mfa_code": totp(secret)}
    )
    assert done.status == 200, done.json()
    session_of(api, email, NEW_PASSWORD)


def test_change_email_confirmed_from_both_addresses(api: Api, world: World) -> None:
    account = signed_up(api)
    token = account["session"]["access_token"]
    old, new = account["email"], new_email("moved")
    assert api.post("/api/auth/email", token=token, json_body={"email": "nope"}).status == 422
    assert api.post("/api/auth/email", token=token, json_body={"email": old}).status == 422
    taken = signed_up(api)["email"]
    assert api.post("/api/auth/email", token=token, json_body={"email": taken}).status == 409
    assert api.post("/api/auth/email", json_body={"email": new}).status == 401

    accepted = api.post("/api/auth/email", token=token, json_body={"email": new.upper()})
    assert accepted.status == 202, accepted.json()
    [to_old] = inbox(world, old)
    [to_new] = inbox(world, new)
    assert to_old["subject"] == to_new["subject"] == "Confirm Email Change"
    # Until both links are followed, the address stays.
    first = httpx.get(to_old["link"], follow_redirects=False, timeout=10)
    assert first.status_code == 303
    assert "message=Confirmation" in first.headers["location"]
    session_of(api, old)
    second = httpx.get(to_new["link"], follow_redirects=False, timeout=10)
    assert second.status_code == 303
    assert "access_token=" in second.headers["location"]
    session_of(api, new)
    assert api.post("/api/auth/login", json_body={"email": old, "password": PASSWORD}).status == 401
