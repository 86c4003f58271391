"""shared.auth.verify: the HS256 check written with the standard library, and the
asymmetric path through PyJWT and a real JWKS served over HTTP, refuse what PyJWT
refuses and accept what it accepts."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from shared.auth import Caller, verify
from shared.errors import ApiError
from shared.settings import Settings

SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
USER = str(uuid.uuid4())


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "supabase_url": "http://127.0.0.1:9",
        "supabase_anon_key": "anon",
        "supabase_jwt_secret": SECRET,
    }
    values.update(overrides)
    return Settings.model_validate(values)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": USER,
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 600,
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refused(token: str, code: str = "invalid_token", config: Settings | None = None) -> None:
    with pytest.raises(ApiError) as caught:
        verify(token, config or settings())
    assert caught.value.status == 401
    assert caught.value.code == code


def test_valid_hs256_token_names_its_user() -> None:
    caller = verify(hs256(claims(email="a@example.com")), settings())
    assert isinstance(caller, Caller)
    assert str(caller.user_id) == USER
    assert caller.email == "a@example.com"


def test_audience_may_be_a_list() -> None:
    assert verify(hs256(claims(aud=["other", "authenticated"])), settings())


def test_wrong_secret_is_refused() -> None:
    refused(hs256(claims(), secret="another-secret-of-at-least-32-characters!!"))


def test_tampered_payload_is_refused() -> None:
    head, _, signature = hs256(claims()).split(".")
    forged = b64(json.dumps(claims(sub=str(uuid.uuid4()))).encode())
    refused(f"{head}.{forged}.{signature}")


def test_alg_none_and_other_algorithms_are_refused() -> None:
    head = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    refused(f"{head}.{body}.")
    long_secret = SECRET * 2  # PyJWT warns about short HS384/HS512 keys
    refused(
        jwt.encode(claims(), long_secret, algorithm="HS512"),
        config=settings(supabase_jwt_secret=long_secret),
    )
    refused(
        jwt.encode(claims(), long_secret, algorithm="HS384"),
        config=settings(supabase_jwt_secret=long_secret),
    )


def test_hs256_is_refused_without_a_secret() -> None:
    refused(hs256(claims()), config=settings(supabase_jwt_secret=None))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.???.***",
        b64(b"[1,2]") + "." + b64(b"{}") + ".x",
        b64(b'{"alg":"HS256"}') + "." + b64(b"not json") + ".x",
        "x" * 20_000,
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    refused(token)


def test_payload_that_is_not_an_object_is_refused() -> None:
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(b"[1, 2, 3]")
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    sig = b64(hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    refused(f"{head}.{body}.{sig}")


def test_expired_token_is_token_expired_with_five_seconds_leeway() -> None:
    now = int(time.time())
    refused(hs256(claims(exp=now - 60, iat=now - 3600)), code="token_expired")
    assert verify(hs256(claims(exp=now - 2)), settings())


def test_future_nbf_is_refused_within_leeway_accepted() -> None:
    now = int(time.time())
    refused(hs256(claims(nbf=now + 600)))
    assert verify(hs256(claims(nbf=now + 2)), settings())


@pytest.mark.parametrize(
    "change",
    [
        {"exp": None},
        {"sub": None},
        {"aud": None},
        {"aud": "somebody-else"},
        {"exp": "tomorrow"},
        {"exp": True},
        {"nbf": "now"},
        {"iat": "yesterday"},
        {"role": "service_role"},
        {"role": "anon"},
        {"role": None},
        {"sub": "not-a-uuid"},
    ],
)
def test_missing_or_wrong_claims_are_refused(change: dict[str, Any]) -> None:
    refused(hs256(claims(**change)))


# --- asymmetric keys through a JWKS -------------------------------------------------


class _Jwks(BaseHTTPRequestHandler):
    document: bytes = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def es256() -> Iterator[tuple[Any, str]]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    _Jwks.document = json.dumps({"keys": [jwk]}).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield key, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def test_es256_token_from_the_jwks_is_accepted(es256: tuple[Any, str]) -> None:
    key, url = es256
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
    caller = verify(token, settings(supabase_jwks_url=url))
    assert str(caller.user_id) == USER


def test_es256_expired_and_foreign_keys_are_refused(es256: tuple[Any, str]) -> None:
    key, url = es256
    config = settings(supabase_jwks_url=url)
    now = int(time.time())
    expired = jwt.encode(claims(exp=now - 60), key, algorithm="ES256", headers={"kid": "k1"})
    refused(expired, code="token_expired", config=config)
    other = ec.generate_private_key(ec.SECP256R1())
    refused(jwt.encode(claims(), other, algorithm="ES256", headers={"kid": "k1"}), config=config)
    refused(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "nope"}), config=config)


def test_unreachable_jwks_is_503() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
    with pytest.raises(ApiError) as caught:
        verify(token, settings(supabase_jwks_url="http://127.0.0.1:9/jwks.json"))
    assert caught.value.status == 503
