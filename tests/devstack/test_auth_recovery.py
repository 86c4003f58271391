"""Auth conformance: password recovery and secure email change by e-mail, through the
official client (``reset_password_for_email``, ``verify_otp``, ``update_user``), and the
local mailer's inbox.

Expectations from GoTrue v2.186's internal/api/recover.go (an unknown address answers as
a known one), verify.go (``verifyPost``: a wrong or expired code is 403 otp_expired; a
code works once; secure email change needs both addresses' links), mailer templates (the
link to ``/verify?token=<hash>&type=...``, the 6-digit code) and crypto.GenerateTokenHash
(sha224 of the address and the code). Supabase's gateway lets ``/auth/v1/verify`` through
without an apikey (kong.yml's auth-v1-open).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import AuthApiError

from devstack.postgres import Database
from tests.stacks import Target

Gotrue = Callable[[], SyncGoTrueClient]
PASSWORD = "correct-horse-42"


def _inbox(stack: Target, to: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{stack.url}/auth/v1/_inbox.json", params={"to": to}, timeout=10)
    assert reply.status_code == 200
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


def _address() -> str:
    return f"recover-{uuid.uuid4().hex[:10]}@example.com"


def test_recovery_by_code(gotrue: Gotrue, auth_stack: Target, database: Database) -> None:
    email = _address()
    gotrue().sign_up({"email": email, "password": PASSWORD})
    client = gotrue()
    client.reset_password_for_email(_address())  # unknown: no error, no mail
    client.reset_password_for_email(email)
    [mail] = _inbox(auth_stack, email)
    assert mail["subject"] == "Reset Your Password"
    code = mail["code"]
    assert len(code) == 6
    with psycopg.connect(database.url) as conn:
        row = conn.execute(
            "select recovery_token, recovery_sent_at is not null from auth.users where email = %s",
            (email,),
        ).fetchone()
    assert row == (hashlib.sha224((email + code).encode()).hexdigest(), True)
    assert f"token={row[0]}" in mail["link"]
    assert "type=recovery" in mail["link"]

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises(AuthApiError) as caught:
        client.verify_otp({"type": "recovery", "email": email, "token": wrong})
    assert caught.value.status == 403
    assert caught.value.code == "otp_expired"
    answer = client.verify_otp({"type": "recovery", "email": email, "token": code})
    assert answer.session is not None
    client.update_user({"password": "a-new-password-7"})
    gotrue().sign_in_with_password({"email": email, "password": "a-new-password-7"})
    with pytest.raises(AuthApiError):
        gotrue().verify_otp({"type": "recovery", "email": email, "token": code})


def test_recovery_link_opens_without_an_apikey(gotrue: Gotrue, auth_stack: Target) -> None:
    email = _address()
    gotrue().sign_up({"email": email, "password": PASSWORD})
    gotrue().reset_password_for_email(email)
    link = _inbox(auth_stack, email)[0]["link"]
    opened = httpx.get(link, follow_redirects=False, timeout=10)
    assert opened.status_code == 303
    fragment = opened.headers["location"].split("#", 1)[1]
    assert "access_token=" in fragment
    assert "type=recovery" in fragment
    again = httpx.get(link, follow_redirects=False, timeout=10)
    assert "error_code=otp_expired" in again.headers["location"]


def test_secure_email_change_needs_both_addresses(gotrue: Gotrue, auth_stack: Target) -> None:
    old, new = _address(), _address()
    client = gotrue()
    client.sign_up({"email": old, "password": PASSWORD})
    user = client.update_user({"email": new}).user
    assert user.email == old
    assert user.new_email == new
    [to_old], [to_new] = _inbox(auth_stack, old), _inbox(auth_stack, new)
    first = gotrue().verify_otp({"type": "email_change", "email": old, "token": to_old["code"]})
    assert first.session is None  # "Confirmation link accepted ... the other email"
    second = gotrue().verify_otp({"type": "email_change", "email": new, "token": to_new["code"]})
    assert second.session is not None
    assert second.user is not None
    assert second.user.email == new
    gotrue().sign_in_with_password({"email": new, "password": PASSWORD})


def test_the_inbox_page_lists_the_mails(gotrue: Gotrue, auth_stack: Target) -> None:
    email = _address()
    gotrue().sign_up({"email": email, "password": PASSWORD})
    gotrue().reset_password_for_email(email)
    page = httpx.get(f"{auth_stack.url}/auth/v1/_inbox", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert email in page.text
    assert "Reset Your Password" in page.text
