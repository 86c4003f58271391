"""MFA through the API on Supabase Auth's MFA endpoints (the local Auth): list, enroll
TOTP, challenge, verify (an aal2 session), unenroll (a verified factor needs aal2); and
the refusals: bad input 4xx, no or forged token 401, another user's factor 404."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from devstack.auth.tokens import totp
from tests.api.auth.test_auth import PASSWORD, new_email
from tests.api.conftest import Api


def signed_up(api: Api) -> dict[str, Any]:
    email = new_email("mfa")
    reply = api.post(
        "/api/auth/signup",
        json_body={"email": email, "password": PASSWORD, "first_name": "Tia", "last_name": "Otp"},
    )
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    body["email"] = email
    return body


def login(api: Api, email: str, password: str = PASSWORD) -> str:
    reply = api.post("/api/auth/login", json_body={"email": email, "password": password})
    assert reply.status == 200, reply.json()
    token: str = reply.json()["session"]["access_token"]
    return token


def enroll_and_verify(api: Api, token: str, name: str = "phone") -> tuple[str, str, str]:
    """(factor id, secret, aal2 access token)."""
    enrolled = api.post("/api/auth/mfa/enroll", token=token, json_body={"friendly_name": name})
    assert enrolled.status == 201, enrolled.json()
    factor = enrolled.json()
    secret = factor["totp"]["secret"]
    verified = api.post(
        "/api/auth/mfa/verify",
        token=token,
        json_body={"factor_id": factor["id"], "code": totp(secret)},
    )
    assert verified.status == 200, verified.json()
    return factor["id"], secret, verified.json()["session"]["access_token"]


def test_enroll_challenge_verify_gives_an_aal2_session(any_api: Api) -> None:
    account = signed_up(any_api)
    token = account["session"]["access_token"]

    listed = any_api.get("/api/auth/mfa/factors", token=token)
    assert listed.status == 200, listed.json()
    assert listed.json() == {"factors": [], "current_level": "aal1", "next_level": "aal1"}

    enrolled = any_api.post(
        "/api/auth/mfa/enroll", token=token, json_body={"friendly_name": "phone"}
    )
    assert enrolled.status == 201, enrolled.json()
    factor = enrolled.json()
    assert factor["factor_type"] == "totp"
    assert factor["status"] == "unverified"
    assert factor["friendly_name"] == "phone"
    assert factor["totp"]["qr_code"].startswith("data:image/svg+xml;utf-8,<?xml")
    uri = urlsplit(factor["totp"]["uri"])
    assert uri.scheme == "otpauth"
    assert parse_qs(uri.query)["secret"] == [factor["totp"]["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["InvoiceFlow"]

    challenge = any_api.post(
        "/api/auth/mfa/challenge", token=token, json_body={"factor_id": factor["id"]}
    )
    assert challenge.status == 201, challenge.json()
    good = totp(factor["totp"]["secret"])
    wrong = f"{(int(good) + 500_000) % 1_000_000:06d}"
    refused = any_api.post(
        "/api/auth/mfa/verify",
        token=token,
        json_body={
            "factor_id": factor["id"],
            "challenge_id": challenge.json()["id"],
            "code": wrong,
        },
    )
    assert refused.status == 422, refused.json()
    assert refused.json()["error"]["code"] == "mfa_verification_failed"

    verified = any_api.post(
        "/api/auth/mfa/verify",
        token=token,
        json_body={"factor_id": factor["id"], "challenge_id": challenge.json()["id"], "code": good},
    )
    assert verified.status == 200, verified.json()
    session = verified.json()["session"]
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert claims["aal"] == "aal2"
    assert verified.json()["aal"] == "aal2"
    assert session["refresh_token"]

    after = any_api.get("/api/auth/mfa/factors", token=session["access_token"]).json()
    assert [(f["id"], f["status"]) for f in after["factors"]] == [(factor["id"], "verified")]
    assert after["current_level"] == "aal2"
    assert after["next_level"] == "aal2"


def test_unenroll_a_verified_factor_needs_aal2(any_api: Api) -> None:
    account = signed_up(any_api)
    factor_id, _, aal2 = enroll_and_verify(any_api, account["session"]["access_token"])
    aal1 = login(any_api, account["email"])
    refused = any_api.delete(f"/api/auth/mfa/factors/{factor_id}", token=aal1)
    assert refused.status == 403, refused.json()
    assert refused.json()["error"]["code"] == "mfa_required"
    removed = any_api.delete(f"/api/auth/mfa/factors/{factor_id}", token=aal2)
    assert removed.status == 200, removed.json()
    assert removed.json() == {"id": factor_id}
    assert any_api.get("/api/auth/mfa/factors", token=aal2).json()["factors"] == []


def test_an_unverified_factor_is_removed_at_aal1(api: Api) -> None:
    token = signed_up(api)["session"]["access_token"]
    draft = api.post("/api/auth/mfa/enroll", token=token, json_body={}).json()
    assert api.delete(f"/api/auth/mfa/factors/{draft['id']}", token=token).status == 200


def test_bad_input_and_other_users_factors(api: Api) -> None:
    mine = signed_up(api)["session"]["access_token"]
    theirs = signed_up(api)["session"]["access_token"]
    their_factor = api.post("/api/auth/mfa/enroll", token=theirs, json_body={}).json()["id"]

    def error(reply: Any) -> tuple[int, str]:
        return reply.status, reply.json()["error"]["code"]

    assert error(
        api.post("/api/auth/mfa/challenge", token=mine, json_body={"factor_id": "nope"})
    ) == (422, "validation_failed")
    assert error(
        api.post("/api/auth/mfa/challenge", token=mine, json_body={"factor_id": their_factor})
    ) == (404, "not_found")
    assert error(
        api.post(
            "/api/auth/mfa/verify",
            token=mine,
            json_body={"factor_id": str(uuid.uuid4()), "code": "12ab56"},
        )
    ) == (422, "validation_failed")
    assert error(
        api.post(
            "/api/auth/mfa/verify",
            token=mine,
            json_body={"factor_id": str(uuid.uuid4()), "code": "123456"},
        )
    ) == (404, "not_found")
    assert error(api.delete(f"/api/auth/mfa/factors/{their_factor}", token=mine)) == (
        404,
        "not_found",
    )
    assert error(api.delete("/api/auth/mfa/factors/not-a-uuid", token=mine)) == (404, "not_found")
    assert error(
        api.post("/api/auth/mfa/enroll", token=mine, json_body={"factor_type": "phone"})
    ) == (422, "validation_failed")
    assert (
        error(
            api.post("/api/auth/mfa/enroll", token=mine, json_body={"friendly_name": "a", "x": 1})
        )[0]
        == 422
    )
    first = api.post("/api/auth/mfa/enroll", token=mine, json_body={"friendly_name": "same"})
    assert first.status == 201
    assert error(
        api.post("/api/auth/mfa/enroll", token=mine, json_body={"friendly_name": "same"})
    ) == (422, "validation_failed")
    # Their factor is still there.
    assert [f["id"] for f in api.get("/api/auth/mfa/factors", token=theirs).json()["factors"]] == [
        their_factor
    ]


def test_tokens_are_checked(api: Api, world: Any) -> None:
    for method, path in (
        ("GET", "/api/auth/mfa/factors"),
        ("POST", "/api/auth/mfa/enroll"),
        ("POST", "/api/auth/mfa/challenge"),
        ("POST", "/api/auth/mfa/verify"),
        ("DELETE", f"/api/auth/mfa/factors/{uuid.uuid4()}"),
    ):
        assert api.request(method, path, json_body={}).status == 401, path
        forged = world.token("alice") + "x"
        assert api.request(method, path, token=forged, json_body={}).status == 401, path
        expired = world.token("alice", exp=1)
        assert api.request(method, path, token=expired, json_body={}).status == 401, path
