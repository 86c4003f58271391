"""The client page in a real browser (headless Chromium, tests/browser/chromium.py): a
person opens the link of a
sent invoice, reads it, sees the Pay button, pays through the local Stripe stand-in and
sees the invoice paid; the link of a document that was never sent, a revoked link and a
made-up one show the same page. Screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from shared import portal
from tests.api.conftest import Api, World
from tests.api.portal.helpers import link, sent_invoice
from tests.api.stripe.helpers import connect
from tests.browser.chromium import Browser, executable

# Here rather than in tests/browser/ so that the session's one stack, moto and Stripe
# stand-in serve it (a conftest there would start a second of each); the driver is
# tests/browser/chromium.py.
pytestmark = pytest.mark.skipif(
    executable() is None, reason="Debian's chromium is not installed (install-system-deps.sh)"
)


def test_a_person_reads_and_pays_an_invoice(
    http_api: Api, world: World, emulator: str, standin: object
) -> None:
    os.environ["PORTAL_URL"] = emulator
    portal.config.cache_clear()
    connect(http_api, as_="alice")
    invoice = sent_invoice(world, world.org_a, currency="EUR", rate="1234.5")
    number = world.sql("select invoice_number from public.invoices where id = %s", invoice)[0][0]
    url = link(http_api, "invoice", invoice, as_="alice")["url"]
    with Browser() as browser:
        browser.open(url)
        text = browser.text()
        assert f"Invoice {number}" in text
        assert "Awaiting payment" in text
        assert "€1,234.50" in text
        assert "Design work" in text
        button = browser.evaluate(
            "(b => b && b.offsetParent !== null ? b.innerText : null)"
            "(document.querySelector('form[action$=\"/pay\"] button'))"
        )
        assert button == "Pay €1,234.50"
        assert browser.screenshot("client-page-invoice.png").stat().st_size > 5000

        browser.evaluate("document.querySelector('form[action$=\"/pay\"] button').click()")
        browser.wait_for(
            "document.readyState === 'complete' && location.pathname.startsWith('/checkout/')"
        )
        assert "1234.50 EUR" in browser.text()
        browser.screenshot("client-page-checkout.png")
        browser.evaluate("document.querySelector('button[type=submit]').click()")
        browser.wait_for(
            "document.readyState === 'complete' && location.search.includes('notice=paid')"
        )
        paid = browser.text()
        assert "Paid" in paid
        assert "your payment is being confirmed" in paid
        browser.screenshot("client-page-paid.png")
    row = world.sql("select status, amount_paid from public.invoices where id = %s", invoice)[0]
    assert (row[0], Decimal(row[1])) == ("paid", Decimal("1234.50"))
    count = world.sql("select count(*) from public.payments where invoice_id = %s", invoice)[0][0]
    assert count == 1


def test_never_sent_revoked_and_made_up_links_show_the_same_page(
    http_api: Api, world: World, emulator: str, standin: object
) -> None:
    os.environ["PORTAL_URL"] = emulator
    portal.config.cache_clear()
    invoice = sent_invoice(world, world.org_a)
    revoked = link(http_api, "invoice", invoice, as_="alice")
    assert http_api.post(f"/api/client-links/{revoked['id']}/revoke", as_="alice").status == 200
    # Another invoice's link, made for a send that never happened: it opens nothing.
    draft = world.sql(
        "insert into public.invoices (organization_id, client_id, currency)"
        " select organization_id, client_id, currency from public.invoices where id = %s"
        " returning id::text",
        invoice,
    )[0][0]
    token = portal.new_token()
    world.sql(
        "select public.create_client_link(%s, 'invoice', %s, %s, for_send => true)",
        world.org_a,
        draft,
        portal.token_hash(token),
    )
    unsent = portal.link_url(token)
    made_up = f"{emulator}/p/{portal.new_token()}"
    seen = []
    with Browser() as browser:
        for url in (unsent, revoked["url"], made_up):
            browser.open(url)
            seen.append(browser.text())
        browser.screenshot("client-page-not-found.png")
    assert len(set(seen)) == 1
    assert "This link is not valid" in seen[0]
