"""Forged asymmetric tokens cost one JWKS fetch, not one per request, and the fetch goes
through Supabase's gateway as every other call does (with the apikey header).

A project signing with its HS256 secret alone serves an empty JWKS: every forged
ES256/RS256 token used to fetch it again (an anonymous request fanned out to Auth), and
the local gateway refused the fetch without an apikey (a 503 for every such token)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from shared import auth
from shared.errors import ApiError
from shared.settings import Settings

USER = "00000000-0000-4000-8000-000000000001"


class _Counting(BaseHTTPRequestHandler):
    document: ClassVar[bytes] = b'{"keys": []}'
    status: ClassVar[int] = 200
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("apikey"))
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def jwks() -> Iterator[str]:
    _Counting.seen = []
    _Counting.status = 200
    _Counting.document = b'{"keys": []}'
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/auth/v1/.well-known/jwks.json"
    yield url
    server.shutdown()
    server.server_close()
    auth._jwks_not_before.pop(url, None)
    auth._jwks_clients.pop(url, None)


def _settings(url: str) -> Settings:
    return Settings(
        supabase_url="http://127.0.0.1:9",
        supabase_anon_key="the-anon-key",
        supabase_jwt_secret="s" * 40,
        supabase_jwks_url=url,
    )


def _forged(kid: str) -> str:
    claims = {
        "sub": USER,
        "role": "authenticated",
        "aud": "authenticated",
        "exp": int(time.time()) + 600,
    }
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


def test_an_empty_jwks_is_fetched_once_for_many_forged_tokens(jwks: str) -> None:
    config = _settings(jwks)
    for n in range(25):
        with pytest.raises(ApiError) as caught:
            auth.verify(_forged(f"forged-{n}"), config)
        assert (caught.value.status, caught.value.code) == (401, "invalid_token")
    assert len(_Counting.seen) == 1
    assert _Counting.seen == ["the-anon-key"], "the apikey header goes with the fetch"


def test_a_jwks_refusing_the_fetch_is_503_and_not_fetched_again_at_once(jwks: str) -> None:
    _Counting.status = 401
    _Counting.document = b'{"message": "No API key found in request"}'
    config = _settings(jwks)
    for _ in range(10):
        with pytest.raises(ApiError) as caught:
            auth.verify(_forged("k1"), config)
        assert caught.value.status == 503
    assert len(_Counting.seen) == 1


def test_keys_published_later_are_found_after_the_pause(
    jwks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The empty set is remembered for JWKS_EMPTY_SECONDS, not for ever: a project that
    moves to asymmetric keys is picked up."""
    monkeypatch.setattr(auth, "JWKS_EMPTY_SECONDS", 0.05)
    config = _settings(jwks)
    with pytest.raises(ApiError):
        auth.verify(_forged("k1"), config)
    key = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    _Counting.document = json.dumps({"keys": [public]}).encode()
    time.sleep(0.1)
    claims = {"sub": USER, "role": "authenticated", "aud": "authenticated"}
    token = jwt.encode(
        {**claims, "exp": int(time.time()) + 600}, key, algorithm="ES256", headers={"kid": "k1"}
    )
    assert str(auth.verify(token, config).user_id) == USER


def test_keys_fetched_before_still_verify_while_the_jwks_is_unreachable(jwks: str) -> None:
    """A failed fetch (a forged kid asking for a refresh while Auth is away) pauses the
    fetches, not the keys already known: a real user's token still verifies."""
    config = _settings(jwks)
    key = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    _Counting.document = json.dumps({"keys": [public]}).encode()
    claims = {"sub": USER, "role": "authenticated", "aud": "authenticated"}
    real = jwt.encode(
        {**claims, "exp": int(time.time()) + 600}, key, algorithm="ES256", headers={"kid": "k1"}
    )
    assert str(auth.verify(real, config).user_id) == USER
    auth._jwks_clients[jwks].cooldown_duration = 0  # the refetch cooldown over
    _Counting.status = 500
    with pytest.raises(ApiError) as caught:
        auth.verify(_forged("rotated-or-forged"), config)
    assert caught.value.status == 503
    fetches = len(_Counting.seen)
    assert str(auth.verify(real, config).user_id) == USER
    with pytest.raises(ApiError) as again:
        auth.verify(_forged("another"), config)
    assert again.value.status == 503
    assert len(_Counting.seen) == fetches, "no fetch while it is paused"
