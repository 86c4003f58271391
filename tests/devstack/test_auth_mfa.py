"""Auth conformance: TOTP MFA (enroll, challenge, verify, unenroll) through the official
client's ``mfa`` API.

Expectations come from reference §4 and GoTrue v2.186's internal/api/mfa.go
(enrollTOTPFactor, challengeTOTPFactor, verifyTOTPFactor, UnenrollFactor), token.go
(updateMFASessionAndClaims) and internal/models/factor.go; TOTP is RFC 6238 with SHA-1,
6 digits and a 30 s step (pquerna/otp, skew 1).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import jwt
import psycopg
import pytest
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import AuthApiError

from devstack.auth.qr import encode
from devstack.auth.tokens import hotp, totp, verify_totp
from devstack.postgres import Database

Gotrue = Callable[[], SyncGoTrueClient]
PASSWORD = "correct-horse-42"


def _signed_in(gotrue: Gotrue) -> SyncGoTrueClient:
    client = gotrue()
    client.sign_up({"email": f"mfa-{uuid.uuid4().hex[:10]}@example.com", "password": PASSWORD})
    return client


def test_totp_matches_the_rfc_6238_test_vectors() -> None:
    """RFC 6238 appendix B (SHA-1, secret "12345678901234567890"), truncated to the 6
    digits GoTrue uses; codes one step either side are accepted, two steps are not."""
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of the RFC's ASCII secret
    assert totp(secret, 59) == "287082"
    assert totp(secret, 1111111109) == "081804"
    assert totp(secret, 1234567890) == "005924"
    assert totp(secret, 2000000000) == "279037"
    assert hotp(secret, 0) == "755224"  # RFC 4226 appendix D
    now = 1_700_000_000.0
    assert verify_totp(secret, totp(secret, now - 30), now)
    assert verify_totp(secret, totp(secret, now + 30), now)
    assert not verify_totp(secret, totp(secret, now - 90), now)


def test_enroll_challenge_verify_gives_aal2(gotrue: Gotrue, database: Database) -> None:
    """mfa.go: enroll returns {id, type "totp", friendly_name, totp {qr_code, secret,
    uri}} for an unverified factor; challenge returns {id, type, expires_at}; verify
    with the current code returns a Session whose access token has aal "aal2" and amr
    with totp before password; the session row is aal2 and bound to the factor; GET
    /user then lists the verified factor."""
    client = _signed_in(gotrue)
    enrolled = client.mfa.enroll(
        {"factor_type": "totp", "friendly_name": "phone app", "issuer": "InvoiceFlow"}
    )
    assert enrolled.type == "totp"
    assert enrolled.friendly_name == "phone app"
    assert enrolled.totp is not None
    assert enrolled.totp.qr_code.startswith("data:image/svg+xml;utf-8,<?xml")
    uri = urlsplit(enrolled.totp.uri)
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    query = parse_qs(uri.query)
    assert query["secret"] == [enrolled.totp.secret]
    assert query["algorithm"] == ["SHA1"]
    assert query["digits"] == ["6"]
    assert query["period"] == ["30"]
    assert query["issuer"] == ["InvoiceFlow"]
    assert len(enrolled.totp.secret) == 32

    before = client.mfa.list_factors()
    assert [(f.id, f.status) for f in before.all] == [(enrolled.id, "unverified")]
    assert before.totp == []

    challenge = client.mfa.challenge({"factor_id": enrolled.id})
    assert challenge.factor_type == "totp"
    assert challenge.expires_at > time.time()
    verified = client.mfa.verify(
        {
            "factor_id": enrolled.id,
            "challenge_id": challenge.id,
            "code": totp(enrolled.totp.secret),
        }
    )
    claims = jwt.decode(verified.access_token, options={"verify_signature": False})
    assert claims["aal"] == "aal2"
    assert claims["amr"][0]["method"] == "totp"
    assert {entry["method"] for entry in claims["amr"]} == {"totp", "password"}
    assert verified.token_type == "bearer"
    assert verified.user.factors is not None
    assert [(f.id, f.status) for f in verified.user.factors] == [(enrolled.id, "verified")]

    level = client.mfa.get_authenticator_assurance_level()
    assert level.current_level == "aal2"
    assert level.next_level == "aal2"
    fetched = client.get_user()
    assert fetched is not None
    assert fetched.user.factors is not None
    assert [(f.id, f.status, f.factor_type) for f in fetched.user.factors] == [
        (enrolled.id, "verified", "totp")
    ]
    assert [f.id for f in client.mfa.list_factors().totp] == [enrolled.id]
    with psycopg.connect(database.url) as conn:
        row = conn.execute(
            "select aal, factor_id::text from auth.sessions where id = %s",
            (claims["session_id"],),
        ).fetchone()
    assert row == ("aal2", enrolled.id)


def test_wrong_code_is_mfa_verification_failed(gotrue: Gotrue) -> None:
    """mfa.go verifyTOTPFactor: an invalid code is 422 mfa_verification_failed
    "Invalid TOTP code entered"; an unknown factor is 404 mfa_factor_not_found."""
    client = _signed_in(gotrue)
    enrolled = client.mfa.enroll({"factor_type": "totp"})
    assert enrolled.totp is not None
    challenge = client.mfa.challenge({"factor_id": enrolled.id})
    good = totp(enrolled.totp.secret)
    wrong = f"{(int(good) + 500_000) % 1_000_000:06d}"
    with pytest.raises(AuthApiError) as caught:
        client.mfa.verify({"factor_id": enrolled.id, "challenge_id": challenge.id, "code": wrong})
    assert caught.value.status == 422
    assert caught.value.code == "mfa_verification_failed"
    assert caught.value.message == "Invalid TOTP code entered"
    with pytest.raises(AuthApiError) as missing:
        client.mfa.challenge({"factor_id": str(uuid.uuid4())})
    assert missing.value.status == 404
    assert missing.value.code == "mfa_factor_not_found"


def test_unenroll_needs_aal2_for_a_verified_factor(gotrue: Gotrue) -> None:
    """mfa.go UnenrollFactor: an unverified factor can be removed at aal1 ({id}); a
    verified one needs an aal2 session (422 insufficient_aal otherwise); two factors
    with the same friendly name conflict (422 mfa_factor_name_conflict)."""
    client = _signed_in(gotrue)
    draft = client.mfa.enroll({"factor_type": "totp", "friendly_name": "draft"})
    with pytest.raises(AuthApiError) as conflict:
        client.mfa.enroll({"factor_type": "totp", "friendly_name": "draft"})
    assert conflict.value.code == "mfa_factor_name_conflict"
    assert client.mfa.unenroll({"factor_id": draft.id}).id == draft.id

    factor = client.mfa.enroll({"factor_type": "totp", "friendly_name": "main"})
    assert factor.totp is not None
    client.mfa.challenge_and_verify({"factor_id": factor.id, "code": totp(factor.totp.secret)})

    # A fresh aal1 sign-in cannot remove it.
    user = client.get_user()
    assert user is not None
    other = gotrue()
    other.sign_in_with_password({"email": user.user.email or "", "password": PASSWORD})
    with pytest.raises(AuthApiError) as caught:
        other.mfa.unenroll({"factor_id": factor.id})
    assert caught.value.status == 422
    assert caught.value.code == "insufficient_aal"
    assert client.mfa.unenroll({"factor_id": factor.id}).id == factor.id
    after = client.get_user()
    assert after is not None
    assert not after.user.factors


def test_enrolment_qr_code_encodes_the_uri() -> None:
    """mfa.go draws the otpauth URI as a QR Code (level H, smallest version): the
    encoder picks the ISO 18004 version and keeps the finder patterns in place."""
    modules = encode("otpauth://totp/127.0.0.1:3000:a@example.com?algorithm=SHA1&digits=6")
    size = len(modules)
    assert (size - 17) % 4 == 0
    for x, y in ((0, 0), (size - 7, 0), (0, size - 7)):
        assert all(modules[y][x + i] for i in range(7))
        assert all(modules[y + i][x] for i in range(7))
        assert not modules[y + 1][x + 1]
        assert modules[y + 3][x + 3]
