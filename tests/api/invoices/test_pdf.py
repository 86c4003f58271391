"""GET /api/invoices/{id}/pdf and the document it renders (docs/api.md, "Invoice PDFs").

The PDFs are read back with pypdf: the tests assert on the extracted text, never on
file names or sizes. 401/403/404 for every caller kind are the security matrix's
(tests/api/test_security.py); the cases here are the route's own.
"""

from __future__ import annotations

import base64
import io
import re
import struct
import zlib
from typing import Any

import pytest
from pypdf import PdfReader

from devstack.functions import FunctionHost, http_event
from shared import db
from shared.documents import load_invoice_document
from shared.settings import get_settings
from tests.api.conftest import Api, Response, World
from tests.api.invoices.test_invoices import created, item, new_client, new_person, unique


def pdf_of(reply: Response) -> PdfReader:
    assert reply.status == 200, reply.content[:300]
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.content.startswith(b"%PDF-")
    assert reply.content.rstrip().endswith(b"%%EOF")
    return PdfReader(io.BytesIO(reply.content))


def text_of(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def get_pdf(api: Api, invoice_id: str, as_: str = "alice", **query: Any) -> Response:
    return api.get(f"/api/invoices/{invoice_id}/pdf", as_=as_, query=query or None)


def font_names(reader: PdfReader) -> set[str]:
    names: set[str] = set()
    for page in reader.pages:
        resources: Any = page["/Resources"].get_object()
        fonts = resources.get("/Font") or {}
        for ref in fonts.values():
            font = ref.get_object()
            names.add(str(font["/BaseFont"]))
            for descendant in font.get("/DescendantFonts") or []:
                names.add(str(descendant.get_object()["/BaseFont"]))
    return names


def set_client(world: World, client_id: str, **fields: str) -> None:
    for column, value in fields.items():
        assert re.fullmatch(r"[a-z_]+", column)
        world.sql(f"update public.clients set {column} = %s where id = %s", value, client_id)


def set_business(world: World, org: str, **fields: str) -> None:
    for column, value in fields.items():
        assert re.fullmatch(r"[a-z_]+", column)
        world.sql(
            f"update public.organization_settings set {column} = %s where organization_id = %s",
            value,
            org,
        )


def png_data_url(width: int = 4, height: int = 2) -> str:
    """A real PNG (red pixels) as a data: URL."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()


# =============================================================================
# The document
# =============================================================================


def test_pdf_has_number_total_and_client(any_api: Api, world: World) -> None:
    name = unique("Zephyr Logistics")
    client = new_client(world, world.org_a, name=name)
    invoice = created(
        any_api,
        client,
        items=[item("Consulting", "3", "1234.50"), item("Travel", "1", "99.99")],
        tax_rate="10",
        discount="100",
        notes="Thanks for the swift payment.",
    )
    reply = get_pdf(any_api, invoice["id"])
    number = invoice["invoice_number"]
    assert reply.headers["content-disposition"] == f'inline; filename="{number}.pdf"'
    text = text_of(pdf_of(reply))
    assert number in text
    assert name in text
    # 3 x 1,234.50 + 99.99 = 3,803.49; - 100 = 3,703.49; + 10% tax 370.35 = 4,073.84
    assert "$3,803.49" in text
    assert "-$100.00" in text
    assert "$370.35" in text
    assert "$4,073.84" in text
    assert "Consulting" in text
    assert "Thanks for the swift payment." in text
    assert "Page 1 of 1" in text


def test_viewer_reads_the_pdf(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client)
    assert invoice["invoice_number"] in text_of(pdf_of(get_pdf(api, invoice["id"], as_="victor")))


def test_other_organization_invoice_is_not_found(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client)
    reply = get_pdf(api, invoice["id"], as_="bob")
    assert reply.status == 404
    assert reply.error["code"] == "not_found"
    # and with organization A named explicitly, bob is not a member: 403
    reply = api.get(f"/api/invoices/{invoice['id']}/pdf", as_="bob", org=world.org_a)
    assert reply.status == 403


def test_missing_invoice_is_404(api: Api) -> None:
    reply = get_pdf(api, "00000000-0000-4000-8000-000000000000")
    assert reply.status == 404
    assert reply.error["code"] == "not_found"


def test_unicode_names_round_trip(any_api: Api, world: World) -> None:
    client = new_client(world, world.org_a, name="株式会社テスト 東京")
    set_client(
        world,
        client,
        contact_person="محمد عبد الله",
        address="Øresundsvej 7\n2300 København S\nשדרות רוטשילד 1",  # noqa: RUF001
    )
    invoice = created(
        any_api,
        client,
        items=[
            item("Réunion — café crème", "1", "10"),
            item("Ελληνικά", "1", "1"),
            item("한국어 번역", "1", "1"),
        ],
    )
    reader = pdf_of(get_pdf(any_api, invoice["id"]))
    text = text_of(reader)
    assert "株式会社テスト 東京" in text
    assert "محمد عبد الله" in text
    assert "København" in text
    assert "Réunion — café crème" in text
    assert "Ελληνικά" in text
    assert "שדרות" in text
    assert "한국어 번역" in text
    fonts = font_names(reader)
    assert any("DroidSansFallback" in f for f in fonts), fonts
    assert any("DejaVuSans" in f for f in fonts), fonts
    assert any("InvoiceHangul" in f for f in fonts), fonts


def test_long_invoice_flows_over_pages(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    items = [item(f"Line {n:03d} " + "detail " * (n % 7), "1", "10") for n in range(120)]
    invoice = created(api, client, items=items)
    reader = pdf_of(get_pdf(api, invoice["id"]))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    for n, page in enumerate(pages, start=1):
        assert "DESCRIPTION" in page, n  # the header row repeats
        assert f"Page {n} of {len(pages)}" in page
    text = "\n".join(pages)
    for n in range(120):
        assert f"Line {n:03d}" in text
    assert "$1,200.00" in pages[-1]
    assert "Balance due" in pages[-1]
    assert "Subtotal" not in "\n".join(pages[:-1])
    order = [int(m) for m in re.findall(r"Line (\d{3})", text)]
    assert order == sorted(order)


@pytest.mark.parametrize("template", ["professional", "modern", "minimal"])
def test_each_template(api: Api, world: World, template: str) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client, items=[item("Design", "2", "50")])
    text = text_of(pdf_of(get_pdf(api, invoice["id"], template=template)))
    assert invoice["invoice_number"] in text
    assert "$100.00" in text
    title = {"professional": "INVOICE", "modern": "Invoice", "minimal": "Invoice"}[template]
    assert title in text.split()


def test_templates_differ_and_default_is_the_invoices(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client, template="modern")
    bodies = {
        name: get_pdf(api, invoice["id"], template=name).content
        for name in ("professional", "modern", "minimal")
    }
    assert len(set(bodies.values())) == 3
    assert get_pdf(api, invoice["id"]).content == bodies["modern"]


def test_unknown_template_is_422(any_api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(any_api, client)
    reply = get_pdf(any_api, invoice["id"], template="fancy")
    assert reply.status == 422
    assert reply.error["code"] == "validation_failed"
    assert reply.error["details"][0]["field"] == "template"


def test_same_invoice_same_bytes(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client)
    assert get_pdf(api, invoice["id"]).content == get_pdf(api, invoice["id"]).content


@pytest.mark.parametrize(
    ("currency", "line", "expected"),
    [
        ("JPY", ("3", "1234"), ["¥3,702", "¥1,234"]),
        ("KWD", ("2", "1234.5"), ["KWD 2,469.000", "KWD 1,234.500"]),
        ("EUR", ("1000", "0.125"), ["€125.00", "€0.125"]),
    ],
)
def test_money_in_the_invoice_currency(
    api: Api, world: World, currency: str, line: tuple[str, str], expected: list[str]
) -> None:
    client = new_client(world, world.org_a, currency=currency)
    invoice = created(api, client, items=[item("Unit", line[0], line[1])])
    text = text_of(pdf_of(get_pdf(api, invoice["id"])))
    for value in expected:
        assert value in text, (value, text)


def test_draft_watermark_and_payments(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client, items=[item("Work", "1", "300")])
    assert "DRAFT" in text_of(pdf_of(get_pdf(api, invoice["id"])))
    world.sql("update public.invoices set status = 'sent' where id = %s", invoice["id"])
    world.sql("insert into public.payments (invoice_id, amount) values (%s, 120)", invoice["id"])
    text = text_of(pdf_of(get_pdf(api, invoice["id"])))
    assert "DRAFT" not in text
    assert "-$120.00" in text  # amount paid
    assert "$180.00" in text  # balance due


def test_business_settings_print(api: Api, world: World) -> None:
    owner = new_person(world)
    org = world.people[owner].personal_org
    set_business(
        world,
        org,
        business_name="Ünïcorn Atelier",
        business_address="12 Rue de la Paix",
        city="Paris",
        zip_code="75002",
        country="France",
        tax_id="FR12345678901",
        tax_label="TVA",
        invoice_footer="Atelier SAS · capital 10 000 €",
        default_payment_instructions="IBAN FR76 3000 6000 0112 3456 7890 189",
        company_logo_url=png_data_url(),
    )
    client = new_client(world, org, currency="EUR")
    invoice = created(api, client, as_=owner, items=[item("Séance", "1", "200")], tax_rate="20")
    reply = get_pdf(api, invoice["id"], as_=owner)
    text = text_of(pdf_of(reply))
    for expected in (
        "Ünïcorn Atelier",
        "12 Rue de la Paix",
        "75002 Paris",
        "France",
        "FR12345678901",
        "TVA (20%)",
        "€40.00",
        "€240.00",
        "Atelier SAS · capital 10 000 €",
        "IBAN FR76 3000 6000 0112 3456 7890 189",
    ):
        assert expected in text, expected
    assert b"/Subtype /Image" in reply.content  # the logo


@pytest.mark.parametrize(
    "logo",
    [
        "https://10.255.255.1/never-fetched.png",
        "data:image/png;base64,bm90IGFuIGltYWdl",
        "data:image/png;base64,%%%",
        "data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode(),
        png_data_url(3000, 3000)[:400],  # a header claiming 9 Mpx, then nothing
    ],
)
def test_bad_logo_is_skipped(api: Api, world: World, logo: str) -> None:
    owner = new_person(world)
    org = world.people[owner].personal_org
    set_business(world, org, business_name="Logo Trouble Ltd", company_logo_url=logo)
    client = new_client(world, org)
    invoice = created(api, client, as_=owner)
    reply = get_pdf(api, invoice["id"], as_=owner)
    assert "Logo Trouble Ltd" in text_of(pdf_of(reply))
    assert b"/Subtype /Image" not in reply.content


def test_number_with_odd_characters_in_the_file_name(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    number = unique('Ré/"7"')
    invoice = created(api, client, invoice_number=number)
    reply = get_pdf(api, invoice["id"])
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith('inline; filename="R-7-')
    assert "filename*=UTF-8''R%C3%A9%2F%227%22-" in disposition
    assert number in text_of(pdf_of(reply))


# =============================================================================
# The Lambda response and the loader
# =============================================================================


def test_handler_returns_the_body_base64_encoded(
    api: Api, world: World, function_host: FunctionHost
) -> None:
    client = new_client(world, world.org_a)
    invoice = created(api, client)
    path = f"/api/invoices/{invoice['id']}/pdf"
    spec, params, _ = function_host.match("GET", path)
    assert spec is not None
    assert spec.name == "invoicesPdf"
    headers = {"authorization": f"Bearer {world.token('alice')}"}
    result = function_host.invoke(spec, http_event(spec, "GET", path, "", headers, b"", params))
    assert result["statusCode"] == 200
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]).startswith(b"%PDF-")


def test_loader_is_the_same_for_user_and_service_role(api: Api, world: World) -> None:
    client = new_client(world, world.org_a, name=unique("Loader"))
    invoice = created(api, client, items=[item("B", "2", "10"), item("A", "1", "5")])
    settings = get_settings()
    user = db.rest(settings, world.token("victor"))
    service = db.rest(settings, service=world.stack.config.keys.service_role_key)
    as_user = load_invoice_document(user, world.org_a, invoice["id"])
    as_service = load_invoice_document(service, world.org_a, invoice["id"])
    assert as_user is not None
    assert as_user == as_service
    assert [i["description"] for i in as_user["items"]] == ["B", "A"]
    assert as_user["client"]["id"] == client
    assert as_user["business"]["tax_label"]
    assert as_user["business"]["name"]
    # Another organization's id is "not found", for the service role too.
    assert load_invoice_document(service, world.org_b, invoice["id"]) is None
    bob = db.rest(settings, world.token("bob"))
    assert load_invoice_document(bob, world.org_a, invoice["id"]) is None
    assert load_invoice_document(bob, world.org_b, invoice["id"]) is None


def test_http_serves_the_handlers_bytes(api: Api, http_api: Api, world: World) -> None:
    """Through the API Gateway emulator the body arrives byte for byte."""
    client = new_client(world, world.org_a, name="株式会社テスト")
    invoice = created(api, client)
    in_process = get_pdf(api, invoice["id"])
    over_http = get_pdf(http_api, invoice["id"])
    assert over_http.status == 200
    assert over_http.headers["content-length"] == str(len(in_process.content))
    assert over_http.content == in_process.content
