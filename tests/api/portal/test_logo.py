"""The organization's uploaded logo on the client page and in its e-mails: the page
references the link's own route (CSP img-src 'self'), the route serves the inline copy's
bytes with its type, cached privately and revalidated by its ETag, under the link's rules
(a made-up or revoked token and an organization without an uploaded logo are the same
404); an invoice's e-mail carries it as an inline image (multipart/related, Content-ID)
that its HTML shows by cid:."""

from __future__ import annotations

import base64
import io
import secrets
from email.message import EmailMessage
from typing import Any

import pytest
from PIL import Image

from shared import portal
from tests.api.conftest import Api, World
from tests.api.invoices.test_send import message_by_id, new_invoice, parse, send
from tests.api.portal.helpers import link, path_of, sent_invoice
from tests.browser.chromium import Browser, executable


def a_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 24), (200, 30, 60)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def logo_org(world: World) -> dict[str, Any]:
    """A person's organization with an uploaded logo (its inline copy, as the uploads
    worker leaves it in the settings)."""
    name = f"logo-{secrets.token_hex(4)}"
    org = world.add_person(name).personal_org
    png = a_png()
    world.sql(
        "update public.organization_settings set company_logo_url = %s,"
        " logo_object_key = %s where organization_id = %s",
        "data:image/png;base64," + base64.b64encode(png).decode(),
        f"{org}/logos/{secrets.token_hex(8)}.png",
        org,
    )
    return {"name": name, "org": org, "png": png}


def test_the_page_shows_the_logo_from_its_own_route(
    any_api: Api, world: World, logo_org: dict[str, Any]
) -> None:
    invoice = sent_invoice(world, logo_org["org"])
    url = link(any_api, "invoice", invoice, as_=logo_org["name"])["url"]
    path = path_of(url)
    page = any_api.get(path, headers={"accept": "text/html"})
    assert page.status == 200
    assert f'<img src="{path}/logo"'.encode() in page.content
    assert b"data:image" not in page.content
    assert "img-src 'self';" in page.headers["content-security-policy"]
    data = any_api.get(path, headers={"accept": "application/json"}).json()
    assert data["business"]["logo_url"] == f"{url}/logo"

    image = any_api.get(f"{path}/logo")
    assert image.status == 200
    assert image.content == logo_org["png"]
    assert image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "private, max-age=86400"
    assert image.headers["x-content-type-options"] == "nosniff"
    again = any_api.get(f"{path}/logo", headers={"if-none-match": image.headers["etag"]})
    assert again.status == 304
    assert again.content == b""


def test_the_logo_route_answers_as_the_page_does(
    any_api: Api, world: World, logo_org: dict[str, Any]
) -> None:
    made_up = any_api.get(f"/p/{portal.new_token()}/logo", headers={"accept": "application/json"})
    assert made_up.status == 404
    assert made_up.error["message"] == portal.not_found().message

    invoice = sent_invoice(world, logo_org["org"])
    revoked = link(any_api, "invoice", invoice, as_=logo_org["name"])
    reply = any_api.post(f"/api/client-links/{revoked['id']}/revoke", as_=logo_org["name"])
    assert reply.status == 200
    gone = any_api.get(path_of(revoked["url"]) + "/logo", headers={"accept": "application/json"})
    assert gone.status == 404
    assert gone.error == {**made_up.error, "request_id": gone.error["request_id"]}

    # An organization without an uploaded logo: the same 404, and no image on its page.
    plain = sent_invoice(world, world.org_b)
    path = path_of(link(any_api, "invoice", plain, as_="bob")["url"])
    none = any_api.get(f"{path}/logo", headers={"accept": "application/json"})
    assert none.status == 404
    assert none.error["message"] == portal.not_found().message
    assert b"<img" not in any_api.get(path, headers={"accept": "text/html"}).content


@pytest.mark.usefixtures("aws")
def test_the_invoice_email_embeds_the_logo_inline(
    api: Api, world: World, logo_org: dict[str, Any]
) -> None:
    invoice = new_invoice(api, world, as_=logo_org["name"])
    reply = send(api, invoice["id"], as_=logo_org["name"])
    assert reply.status == 200, reply.json()
    message = parse(message_by_id(reply.json()["send"]["ses_message_id"]))
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    parts = list(related[0].iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/html", "image/png"]
    image = parts[1]
    assert isinstance(image, EmailMessage)
    assert image["Content-ID"] == "<logo@invoiceflow>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == logo_org["png"]
    html = parts[0].get_content()
    assert 'src="cid:logo@invoiceflow"' in html
    # The PDF is still attached beside it.
    assert [a.get_content_type() for a in message.iter_attachments()] == ["application/pdf"]


@pytest.mark.usefixtures("aws")
def test_an_email_without_an_uploaded_logo_has_no_image(api: Api, world: World) -> None:
    invoice = new_invoice(api, world, as_="bob")
    reply = send(api, invoice["id"], as_="bob")
    assert reply.status == 200, reply.json()
    message = parse(message_by_id(reply.json()["send"]["ses_message_id"]))
    assert all(not p.get_content_type().startswith("image/") for p in message.walk())
    assert "cid:" not in str(message)


@pytest.mark.skipif(
    executable() is None, reason="Debian's chromium is not installed (install-system-deps.sh)"
)
def test_a_browser_loads_the_logo(
    http_api: Api, world: World, emulator: str, logo_org: Any
) -> None:
    """Headless Chromium (tests/browser/chromium.py; the test sits here to use the session's
    one stack, as tests/api/stripe/test_browser.py does) opens the page from the API
    Gateway emulator: the logo loads under the page's CSP."""
    invoice = sent_invoice(world, logo_org["org"])
    path = path_of(link(http_api, "invoice", invoice, as_=logo_org["name"])["url"])
    with Browser() as browser:
        browser.open(emulator + path)
        width = browser.wait_for(
            "(i => i && i.complete && i.naturalWidth > 0 ? i.naturalWidth : null)"
            "(document.querySelector('header img'))"
        )
        assert width == 48
        assert browser.screenshot("client-page-logo.png").stat().st_size > 5000
