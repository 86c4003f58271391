"""The security matrix of the routes without login (docs/api.md, "The client page" and
"Online payment through Stripe"), every one serverless.yml lists under /p/ and Stripe's
webhook, in process and over HTTP: a made-up, malformed, overlong or hostile token gets
the same 404 (or a 4xx naming what is wrong), never a 5xx; every answer of the client
page carries its security headers; junk bodies are refused with a 4xx."""

from __future__ import annotations

import pytest

from devstack.functions import FunctionSpec, http_routes
from shared import portal
from tests.api.conftest import Api

NO_LOGIN = [s for s in http_routes() if (s.path or "").startswith(("/p/", "/api/webhooks/"))]
PAGE = [s for s in NO_LOGIN if (s.path or "").startswith("/p/")]
TOKENS = [
    portal.new_token(),
    "short",
    "x" * 199,
    "%2e%2e",
    "'%20or%201=1--",
    "%00",
    "<script>",
    "A" * 43 + "%0d%0aSet-Cookie:x",
]
HEADERS = ("content-security-policy", "referrer-policy", "x-robots-tag", "x-content-type-options")


def _ids(specs: list[FunctionSpec]) -> list[str]:
    return [s.route_key for s in specs]


def test_the_matrix_knows_every_route_without_login() -> None:
    keys = {s.route_key for s in NO_LOGIN}
    assert keys == {
        "GET /p/{token}",
        "GET /p/{token}/pdf",
        "GET /p/{token}/einvoice",
        "GET /p/{token}/logo",
        "POST /p/{token}/accept",
        "POST /p/{token}/decline",
        "POST /p/{token}/pay",
        "POST /api/webhooks/stripe/{endpoint}",
    }


@pytest.mark.parametrize("spec", PAGE, ids=_ids(PAGE))
@pytest.mark.parametrize("token", TOKENS)
def test_unknown_tokens_are_one_404(any_api: Api, spec: FunctionSpec, token: str) -> None:
    path = (spec.path or "").replace("{token}", token)
    reply = any_api.request(spec.method or "GET", path, headers={"accept": "application/json"})
    assert reply.status in (404, 422), (path, reply.status, reply.content[:200])
    if reply.status == 404:
        assert reply.error["code"] == "not_found"
        assert reply.error["message"] == portal.not_found().message
        for header in HEADERS:
            assert header in reply.headers, header


@pytest.mark.parametrize("spec", PAGE, ids=_ids(PAGE))
def test_the_404_page_is_the_same_html(any_api: Api, spec: FunctionSpec) -> None:
    path = (spec.path or "").replace("{token}", portal.new_token())
    reply = any_api.request(spec.method or "GET", path, headers={"accept": "text/html"})
    assert reply.status == 404
    assert b"This link is not valid" in reply.content
    assert reply.headers["x-robots-tag"].startswith("noindex")


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00", b"{", b"[" * 5000, b'{"amount": 1e400}', b"amount=NaN", b"a" * 20000],
)
def test_junk_bodies_are_refused(any_api: Api, body: bytes) -> None:
    pay = any_api.post(
        f"/p/{portal.new_token()}/pay",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
    )
    assert 400 <= pay.status < 500, pay.content[:200]
    hook = any_api.post(
        "/api/webhooks/stripe/" + "e" * 32,
        content=body,
        headers={"stripe-signature": "t=1,v1=00"},
    )
    assert hook.status == 404
