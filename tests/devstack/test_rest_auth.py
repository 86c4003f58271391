"""Authentication and the per-request transaction settings (reference §1; PostgREST
docs, "Authentication", "Transaction-scoped settings"; PostgREST's Auth/Jwt.hs
messages)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
import supabase
from cryptography.hazmat.primitives.asymmetric import ec

from devstack.stack import serve
from tests.devstack.conftest import RestWorld
from tests.stacks import local_only


def whoami(rest: RestWorld, authorization: str | None, **kwargs: Any) -> Any:
    headers = {"apikey": rest.anon_key, **kwargs.pop("headers", {})}
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.post(rest.rest_url + "/rpc/conformance_whoami", json={}, headers=headers, **kwargs)


def test_no_token_is_anon(rest: RestWorld) -> None:
    """No Authorization → role anon, claims {"role": "anon"}; auth.uid() is NULL."""
    r = httpx.post(
        rest.rest_url + "/rpc/conformance_whoami",
        json={},
        headers={"apikey": rest.anon_key, "Cookie": "a=1; b=two"},
    )
    # the gateway passes the API key on as the bearer token when none was sent
    body = r.json()
    assert body["role"] == "anon"
    assert body["uid"] is None
    assert body["claims"]["role"] == "anon"
    assert body["method"] == "POST"
    assert body["path"] == "/rpc/conformance_whoami"
    assert body["cookies"] == {"a": "1", "b": "two"}
    assert "cookie" not in body["headers"]
    assert body["headers"]["apikey"] == rest.anon_key
    assert body["search_path"].startswith('"public"')
    assert body["timeout"] == "3s"  # the anon role's own statement_timeout


def test_user_token_sets_role_and_claims(rest: RestWorld) -> None:
    """A user token → role authenticated, request.jwt.claims = its payload."""
    token = rest.token("alice")
    with rest.client(token) as client:
        body = client.rpc("conformance_whoami", {}).execute().data
    assert body["role"] == "authenticated"
    assert body["uid"] == rest.users["alice"]["id"]
    assert body["claims"]["email"] == rest.users["alice"]["email"]
    assert body["claims"]["aud"] == "authenticated"
    assert body["timeout"] == "8s"


def test_service_role_bypasses_rls(rest: RestWorld) -> None:
    """The service_role key → role service_role (BYPASSRLS): sees every organization."""
    with rest.client(rest.service_key) as client:
        res = client.table("organizations").select("id").execute()
    orgs = {row["id"] for row in res.data}
    assert {rest.users["alice"]["org"], rest.users["bob"]["org"]} <= orgs


def _error(r: Any) -> tuple[int, str, str, str]:
    body = r.json()
    assert set(body) == {"code", "message", "details", "hint"}
    return r.status_code, body["code"], body["message"], r.headers.get("www-authenticate", "")


def test_expired_token_is_401_pgrst303(rest: RestWorld) -> None:
    """exp more than 30 s in the past → 401 PGRST303 "JWT expired" with the RFC 6750
    challenge."""
    token = rest.token("alice", exp=int(time.time()) - 31)
    status, code, message, challenge = _error(whoami(rest, f"Bearer {token}"))
    assert (status, code, message) == (401, "PGRST303", "JWT expired")
    assert challenge == 'Bearer error="invalid_token", error_description="JWT expired"'


def test_clock_skew_of_30_seconds_is_tolerated(rest: RestWorld) -> None:
    """exp/nbf/iat are checked with 30 s of skew."""
    now = int(time.time())
    token = rest.token("alice", exp=now - 20, iat=now + 20, nbf=now + 20)
    assert whoami(rest, f"Bearer {token}").status_code == 200


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"nbf": 4102444800}, "JWT not yet valid"),
        ({"iat": 4102444800}, "JWT issued at future"),
        ({"exp": "soon"}, "The JWT 'exp' claim must be a number"),
    ],
)
def test_bad_time_claims_are_pgrst303(
    rest: RestWorld, claims: dict[str, Any], message: str
) -> None:
    token = rest.token("alice", **claims)
    assert _error(whoami(rest, f"Bearer {token}"))[:3] == (401, "PGRST303", message)


def test_wrong_secret_is_401_pgrst301(rest: RestWorld) -> None:
    token = jwt.encode({"role": "authenticated"}, "another-secret-of-enough-length-000", "HS256")
    status, code, message, challenge = _error(whoami(rest, f"Bearer {token}"))
    assert (status, code) == (401, "PGRST301")
    assert message == "JWT cryptographic operation failed"
    assert challenge.startswith('Bearer error="invalid_token"')


def test_garbage_and_empty_tokens_are_pgrst301(rest: RestWorld) -> None:
    """Not three parts → "Expected 3 parts in JWT; got N"; `Bearer ` with nothing →
    "Empty JWT is sent in Authorization header" (reference §1)."""
    assert _error(whoami(rest, "Bearer abc"))[:3] == (
        401,
        "PGRST301",
        "Expected 3 parts in JWT; got 1",
    )
    assert _error(whoami(rest, "Bearer"))[:3] == (
        401,
        "PGRST301",
        "Empty JWT is sent in Authorization header",
    )


def test_scheme_is_case_insensitive(rest: RestWorld) -> None:
    token = rest.token("bob")
    assert whoami(rest, f"bearer {token}").json()["uid"] == rest.users["bob"]["id"]


def test_token_without_role_is_anon(rest: RestWorld) -> None:
    """No role claim → anon, and the claims passed on carry role=anon."""
    sub = rest.users["bob"]["id"]
    token = jwt.encode({"sub": sub}, rest.config.keys.jwt_secret, "HS256")
    body = whoami(rest, f"Bearer {token}").json()
    assert body["role"] == "anon"
    assert body["claims"] == {"sub": sub, "role": "anon"}


def _b64(n: int, size: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()


def test_jwks_asymmetric_keys_with_kid(request: pytest.FixtureRequest, rest: RestWorld) -> None:
    """Asymmetric signing keys from a JWKS (as Supabase's ES256 keys): the `kid` picks
    the key; an unknown kid → 401 PGRST301."""
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "kid": "key-1",
        "alg": "ES256",
        "x": _b64(numbers.x, 32),
        "y": _b64(numbers.y, 32),
        "use": "sig",
    }
    local_only("a second gateway configured with a JWKS")
    server = serve(rest.database.url, jwks={"keys": [jwk]})
    request.addfinalizer(server.stop)
    claims = {"sub": rest.users["bob"]["id"], "role": "authenticated", "exp": int(time.time()) + 60}
    good = jwt.encode(claims, private, "ES256", headers={"kid": "key-1"})
    other = jwt.encode(claims, private, "ES256", headers={"kid": "key-2"})

    def call(token: str) -> httpx.Response:
        return httpx.post(
            server.url + "/rest/v1/rpc/conformance_whoami",
            json={},
            headers={"apikey": rest.anon_key, "Authorization": f"Bearer {token}"},
        )

    assert call(good).json()["uid"] == rest.users["bob"]["id"]
    bad = call(other)
    assert bad.status_code == 401
    assert bad.json()["code"] == "PGRST301"
    # the HS256 secret keeps working next to the JWKS
    assert call(rest.token("alice")).json()["uid"] == rest.users["alice"]["id"]
    assert json.loads(json.dumps(jwk))["kid"] == "key-1"


def test_pooled_connection_never_leaks_claims(rest_single_connection: RestWorld) -> None:
    """§5.6: with one pooled connection, a user's request followed by an anonymous one
    sees auth.uid() NULL — GUCs set with set_config(..., true) end with the transaction."""
    world = rest_single_connection
    with world.client(world.token("alice")) as client:
        assert (
            client.rpc("conformance_whoami", {}).execute().data["uid"] == world.users["alice"]["id"]
        )
    with world.client() as client:
        body = client.rpc("conformance_whoami", {}).execute().data
    assert body["uid"] is None
    assert body["role"] == "anon"
    # and an error mid-transaction does not poison the connection either
    with world.http(world.token("bob")) as http:
        assert http.post("/rpc/conformance_fail", json={"code": "P0001"}).status_code == 400
    with world.client() as client:
        assert client.rpc("conformance_whoami", {}).execute().data["uid"] is None


def test_profiles_other_than_public_are_406(rest: RestWorld) -> None:
    """Accept-Profile/Content-Profile naming an unexposed schema → 406 PGRST106."""
    with rest.http() as http:
        r = http.get("/conformance_items", headers={"Accept-Profile": "auth"})
        w = http.post("/conformance_writes", json={}, headers={"Content-Profile": "private"})
        ok = http.get("/conformance_items?limit=1", headers={"Accept-Profile": "public"})
    assert r.status_code == 406
    assert r.json() == {
        "code": "PGRST106",
        "details": None,
        "hint": "Only the following schemas are exposed: public",
        "message": "Invalid schema: auth",
    }
    assert w.status_code == 406
    assert ok.status_code == 200


def test_supabase_client_end_to_end(rest: RestWorld) -> None:
    """`supabase.create_client(url, anon_key)` with `.postgrest.auth(token)` reads the
    user's rows through the same server (the client gets our httpx session so the test
    can close it)."""
    with httpx.Client() as session:
        client = supabase.create_client(
            rest.url, rest.anon_key, options=supabase.ClientOptions(httpx_client=session)
        )
        anon = client.table("conformance_items").select("id").eq("id", 1).execute()
        assert anon.data == [{"id": 1}]
        client.postgrest.auth(rest.token("alice"))
        res = client.table("organizations").select("id").execute()
    seen = [row["id"] for row in res.data if isinstance(row, dict)]
    assert rest.users["alice"]["org"] in seen
    assert rest.users["bob"]["org"] not in seen
