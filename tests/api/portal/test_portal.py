"""The client page (docs/api.md, "The client page"): links made, listed and revoked by
members; the page read without signing in as HTML and JSON, its PDF, a quote's answer;
the same 404 for a wrong, revoked, expired or malformed token; the security headers; each
view on the client's timeline; the rate windows per token and per address."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

import pytest

from shared import portal
from tests.api.conftest import Api, World
from tests.api.portal.helpers import link, path_of, sent_invoice, sent_quote


@pytest.fixture(autouse=True)
def _portal_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_URL", "https://pay.example.test")
    portal.config.cache_clear()


def test_member_makes_a_link_and_only_its_hash_is_kept(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a)
    made = link(api, "invoice", invoice, as_="maria")
    assert made["url"].startswith("https://pay.example.test/p/")
    token = made["url"].rsplit("/", 1)[1]
    assert len(token) >= 43
    stored = world.sql("select token_hash from public.client_links where id = %s", made["id"])
    assert stored[0][0] == hashlib.sha256(token.encode()).hexdigest()
    assert made["active"] is True
    assert made["view_count"] == 0
    listed = api.get(
        "/api/client-links",
        as_="victor",
        query={"document_type": "invoice", "document_id": invoice},
    )
    assert listed.status == 200
    assert [row["id"] for row in listed.json()["data"]] == [made["id"]]
    assert "url" not in listed.json()["data"][0]


def test_viewer_cannot_make_or_revoke_a_link(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a)
    refused = api.post(
        "/api/client-links",
        as_="victor",
        json_body={"document_type": "invoice", "document_id": invoice},
    )
    assert refused.status == 403
    made = link(api, "invoice", invoice)
    assert api.post(f"/api/client-links/{made['id']}/revoke", as_="victor").status == 403


def test_stranger_and_draft_get_no_link(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a)
    stranger = api.post(
        "/api/client-links",
        as_="bob",
        json_body={"document_type": "invoice", "document_id": invoice},
    )
    assert stranger.status == 404
    world.sql("update public.invoices set status = 'draft' where false")
    draft = world.sql(
        "insert into public.invoices (organization_id, client_id, currency)"
        " select organization_id, client_id, currency from public.invoices where id = %s"
        " returning id::text",
        invoice,
    )[0][0]
    refused = api.post(
        "/api/client-links",
        as_="alice",
        json_body={"document_type": "invoice", "document_id": draft},
    )
    assert refused.status == 422
    bad = api.post(
        "/api/client-links", as_="alice", json_body={"document_type": "receipt", "document_id": "x"}
    )
    assert bad.status == 422
    assert {d["field"] for d in bad.json()["error"]["details"]} == {"document_type", "document_id"}


def test_the_page_shows_the_invoice_with_its_headers(any_api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a, currency="EUR", rate="1234.5")
    path = path_of(link(any_api, "invoice", invoice)["url"])
    page = any_api.get(path, headers={"accept": "text/html"})
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.content.decode()
    assert "€1,234.50" in html
    assert "Design work" in html
    assert "Awaiting payment" in html
    headers = page.headers
    assert headers["referrer-policy"] == "no-referrer"
    assert "noindex" in headers["x-robots-tag"]
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    activity = world.sql(
        "select activity from public.client_activities"
        " where metadata ->> 'document_id' = %s and metadata ->> 'event' = 'client_link_viewed'",
        invoice,
    )
    assert len(activity) == 1
    assert "viewed by the client" in activity[0][0]


def test_the_page_as_json(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a, currency="JPY", rate="1500", qty="3")
    path = path_of(link(api, "invoice", invoice)["url"])
    reply = api.get(path, headers={"accept": "application/json"})
    assert reply.status == 200
    body = reply.json()
    assert body["document_type"] == "invoice"
    assert Decimal(body["total_amount"]) == Decimal(4500)
    assert Decimal(body["balance_due"]) == Decimal(4500)
    # pay depends on whether the organization connected Stripe (tests/api/stripe)
    assert {k: v for k, v in body["actions"].items() if k != "pay"} == {
        "partial_payments": False,
        "accept": False,
        "decline": False,
    }
    assert "organization_id" not in body
    assert "client_id" not in body


def test_wrong_revoked_expired_and_other_tokens_are_the_same_404(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a)
    revoked = link(api, "invoice", invoice)
    expired = link(api, "invoice", invoice)
    assert api.post(f"/api/client-links/{revoked['id']}/revoke", as_="maria").status == 200
    world.sql(
        "update public.client_links set expires_at = now() - interval '1 second' where id = %s",
        expired["id"],
    )
    made_up = "/p/" + portal.new_token()
    answers = [
        api.get(path, headers={"accept": "text/html"})
        for path in (path_of(revoked["url"]), path_of(expired["url"]), made_up, "/p/short")
    ]
    assert {a.status for a in answers} == {404}
    assert len({a.content for a in answers}) == 1
    as_json = api.get(made_up, headers={"accept": "application/json"})
    assert as_json.status == 404
    assert as_json.json()["error"]["code"] == "not_found"


def test_the_pdf(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a)
    path = path_of(link(api, "invoice", invoice)["url"])
    reply = api.get(path + "/pdf")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.content.startswith(b"%PDF")
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert api.get("/p/" + portal.new_token() + "/pdf").status == 404


def test_the_client_accepts_a_quote_once(any_api: Api, world: World) -> None:
    quote = sent_quote(world, world.org_a)
    path = path_of(link(any_api, "quote", quote)["url"])
    page = any_api.get(path, headers={"accept": "text/html"}).content.decode()
    assert "Accept quote" in page
    assert "Decline quote" in page
    accepted = any_api.post(path + "/accept", headers={"accept": "application/json"})
    assert accepted.status == 200
    assert accepted.json()["status"] == "accepted"
    again = any_api.post(path + "/decline", headers={"accept": "application/json"})
    assert again.status == 422
    form = any_api.post(path + "/accept", headers={"accept": "text/html"})
    assert form.status == 303
    status = world.sql("select status from public.quotes where id = %s", quote)[0][0]
    assert status == "accepted"


def test_an_invoice_link_takes_no_answer(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a)
    path = path_of(link(api, "invoice", invoice)["url"])
    assert api.post(path + "/accept", headers={"accept": "application/json"}).status == 404


def test_rotation_revokes_the_earlier_link(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a)
    first = link(api, "invoice", invoice)
    rotated = api.post(
        "/api/client-links",
        as_="alice",
        json_body={"document_type": "invoice", "document_id": invoice, "rotate": True},
    )
    assert rotated.status == 201
    assert api.get(path_of(first["url"])).status == 404
    assert api.get(path_of(rotated.json()["url"])).status == 200


def test_rate_limit_per_token(api: Api, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_TOKEN_LIMIT", "3")
    portal.config.cache_clear()
    invoice = sent_invoice(world, world.org_a)
    path = path_of(link(api, "invoice", invoice)["url"])
    statuses = [api.get(path, headers={"accept": "application/json"}).status for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    limited = api.get(path, headers={"accept": "application/json"})
    assert int(limited.headers["retry-after"]) >= 1


def test_page_escapes_what_people_typed(api: Api, world: World) -> None:
    invoice = sent_invoice(world, world.org_a)
    world.sql(
        "update public.invoices set notes = '<script>alert(1)</script>' where id = %s", invoice
    )
    html = api.get(path_of(link(api, "invoice", invoice)["url"])).content.decode()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert re.search(r"<style>", html)


def test_rate_limit_per_address(api: Api, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guessing tokens from one address meets the address's window, whatever the token."""
    monkeypatch.setenv("PORTAL_ADDRESS_LIMIT", "4")
    monkeypatch.setenv("PORTAL_WINDOW_SECONDS", "3600")
    portal.config.cache_clear()
    invoice = sent_invoice(world, world.org_a)
    real = path_of(link(api, "invoice", invoice)["url"])
    before = [api.get("/p/" + portal.new_token()).status for _ in range(2)]
    statuses = [api.get(real, headers={"accept": "application/json"}).status for _ in range(4)]
    assert before == [404, 404]
    assert 429 in statuses
