"""The quotes routes (docs/api.md, "Quotes") through each function's handler: create, list,
read, change, delete, accept, decline, convert (and racing conversions), the PDF, sending
through moto's SES, the expiry job; the security matrix of the area (a viewer reads but
does not write, a stranger's ids are 404) and bad input answered 4xx naming the field."""

from __future__ import annotations

import datetime as dt
import io
import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from devstack.functions import FunctionHost
from tests.api.conftest import Api, Response, World
from tests.api.invoices.test_send import message_by_id, parse, pdf_of

pytestmark = pytest.mark.usefixtures("aws")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_client(world: World, org: str, *, currency: str = "USD", email: str | None = None) -> str:
    rows = world.sql(
        "insert into public.clients (organization_id, company_name, currency, email)"
        " values (%s, %s, %s, %s) returning id::text",
        org,
        unique("Quote client"),
        currency,
        email,
    )
    return str(rows[0][0])


def item(description: str = "Work", quantity: Any = "1", rate: Any = "100") -> dict[str, Any]:
    return {"description": description, "quantity": quantity, "rate": rate}


def new_quote(api: Api, world: World, *, as_: str = "alice", **fields: Any) -> dict[str, Any]:
    body = {"client_id": fields.pop("client_id", None) or new_client(world, world.org_a)}
    body["items"] = fields.pop("items", None) or [item()]
    body.update(fields)
    reply = api.post("/api/quotes", as_=as_, json_body=body)
    assert reply.status == 201, reply.json()
    quote: dict[str, Any] = reply.json()
    return quote


def patch(api: Api, quote_id: str, body: dict[str, Any], as_: str = "alice") -> Response:
    return api.request("PATCH", f"/api/quotes/{quote_id}", as_=as_, json_body=body)


def sent_quote(api: Api, world: World, **fields: Any) -> dict[str, Any]:
    quote = new_quote(api, world, **fields)
    reply = patch(api, quote["id"], {"status": "sent"})
    assert reply.status == 200, reply.json()
    answer: dict[str, Any] = reply.json()
    return answer


def accepted_quote(api: Api, world: World, **fields: Any) -> dict[str, Any]:
    quote = sent_quote(api, world, **fields)
    reply = api.post(f"/api/quotes/{quote['id']}/accept", as_="maria")
    assert reply.status == 200, reply.json()
    answer: dict[str, Any] = reply.json()
    return answer


def org_today(world: World) -> dt.date:
    value = world.sql("select private.organization_today(%s)", world.org_a)[0][0]
    assert isinstance(value, dt.date)
    return value


def field_names(reply: Response) -> set[str]:
    return {str(d.get("field")) for d in reply.error.get("details") or []}


# =============================================================================
# Create, read, list
# =============================================================================


def test_create_numbers_and_totals_a_draft(api: Api, world: World) -> None:
    reply = api.post(
        "/api/quotes",
        as_="maria",
        json_body={
            "client_id": new_client(world, world.org_a),
            "tax_rate": "10",
            "discount": "5.00",
            "notes": "Valid for a month",
            "items": [item("Design", "3", "33.335"), item("Hosting", "1", "0.004")],
        },
    )
    assert reply.status == 201, reply.json()
    quote = reply.json()
    assert reply.headers["location"] == f"/api/quotes/{quote['id']}"
    assert quote["status"] == "draft"
    assert quote["quote_number"]
    assert [i["amount"] for i in quote["items"]] == ["100.01", "0.00"]
    assert (quote["subtotal"], quote["tax_amount"], quote["total_amount"]) == (
        "100.01",
        "9.50",
        "104.51",
    )
    assert dt.date.fromisoformat(quote["issue_date"]) == org_today(world)
    assert dt.date.fromisoformat(quote["valid_until"]) == org_today(world) + dt.timedelta(days=30)
    assert quote["invoice"] is None
    again = api.get(f"/api/quotes/{quote['id']}", as_="victor")
    assert again.status == 200
    assert again.json() == quote


def test_list_searches_filters_sorts_and_pages(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    small = new_quote(api, world, client_id=client, items=[item(rate="10")])
    big = sent_quote(api, world, client_id=client, items=[item(rate="900")])
    reply = api.get(
        "/api/quotes",
        as_="victor",
        query={"client_id": client, "sort": "-total", "page_size": "1"},
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert [row["id"] for row in body["data"]] == [big["id"]]
    assert body["pagination"]["total"] == 2
    assert body["data"][0]["client"]["id"] == client
    drafts = api.get("/api/quotes", as_="alice", query={"client_id": client, "status": "draft"})
    assert [row["id"] for row in drafts.json()["data"]] == [small["id"]]
    found = api.get("/api/quotes", as_="alice", query={"q": big["quote_number"]})
    assert big["id"] in [row["id"] for row in found.json()["data"]]


def test_list_refuses_unknown_parameters_and_statuses(api: Api) -> None:
    assert api.get("/api/quotes", as_="alice", query={"colour": "red"}).status == 400
    reply = api.get("/api/quotes", as_="alice", query={"status": "maybe"})
    assert reply.status == 422
    assert "status" in field_names(reply) or "status" in reply.error["message"]


# =============================================================================
# Security matrix and bad input
# =============================================================================


def test_a_viewer_reads_but_does_not_write(api: Api, world: World) -> None:
    quote = new_quote(api, world)
    qid = quote["id"]
    assert api.get(f"/api/quotes/{qid}", as_="victor").status == 200
    assert api.get(f"/api/quotes/{qid}/pdf", as_="victor").status == 200
    body = {"client_id": quote["client_id"], "items": [item()]}
    assert api.post("/api/quotes", as_="victor", json_body=body).status == 403
    assert patch(api, qid, {"notes": "x"}, as_="victor").status == 403
    assert api.delete(f"/api/quotes/{qid}", as_="victor").status == 403
    for action in ("send", "accept", "decline", "convert"):
        assert api.post(f"/api/quotes/{qid}/{action}", as_="victor").status == 403, action


def test_a_strangers_quote_is_not_found(api: Api, world: World) -> None:
    qid = new_quote(api, world)["id"]
    assert api.get(f"/api/quotes/{qid}", as_="bob").status == 404
    assert api.get(f"/api/quotes/{qid}/pdf", as_="bob").status == 404
    assert patch(api, qid, {"notes": "x"}, as_="bob").status == 404
    assert api.delete(f"/api/quotes/{qid}", as_="bob").status == 404
    for action in ("send", "accept", "decline", "convert"):
        assert api.post(f"/api/quotes/{qid}/{action}", as_="bob").status == 404, action
    # Nor can a stranger use the victim's client.
    body = {"client_id": new_client(world, world.org_a), "items": [item()]}
    reply = api.post("/api/quotes", as_="bob", json_body=body)
    assert reply.status == 422
    assert reply.error["code"] == "invalid_reference"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"items": []}, "items"),
        ({"items": [item(quantity="0")]}, "items[0].quantity"),
        ({"items": [item(rate="-1")]}, "items[0].rate"),
        ({"items": [{**item(), "id": str(uuid.uuid4())}]}, "items[0].id"),
        ({"discount": "abc"}, "discount"),
        ({"tax_rate": "101"}, "tax_rate"),
        ({"issue_date": "2026-02-30"}, "issue_date"),
        ({"issue_date": "2026-05-10", "valid_until": "2026-05-01"}, "valid_until"),
        ({"template": "fancy"}, "template"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    api: Api, world: World, body: dict[str, Any], field: str
) -> None:
    full = {"client_id": new_client(world, world.org_a), "items": [item()], **body}
    before = world.sql("select count(*) from public.quotes")[0][0]
    reply = api.post("/api/quotes", as_="alice", json_body=full)
    assert reply.status == 422, reply.json()
    assert any(name.endswith(field) for name in field_names(reply)), reply.json()
    assert world.sql("select count(*) from public.quotes")[0][0] == before


def test_a_discount_above_the_subtotal_writes_nothing(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    reply = api.post(
        "/api/quotes",
        as_="alice",
        json_body={"client_id": client, "discount": "500", "items": [item()]},
    )
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert world.sql("select count(*) from public.quotes where client_id = %s", client)[0][0] == 0


# =============================================================================
# Changes, deletion, the client's answer
# =============================================================================


def test_a_drafts_items_change_a_sent_quotes_do_not(api: Api, world: World) -> None:
    quote = new_quote(api, world)
    reply = patch(api, quote["id"], {"items": [item("New", "2", "50.5")], "discount": "1"})
    assert reply.status == 200, reply.json()
    assert reply.json()["total_amount"] == "100.00"
    sent = patch(api, quote["id"], {"status": "sent"}).json()
    assert sent["status"] == "sent"
    assert sent["sent_at"]
    refused = patch(api, quote["id"], {"items": [item()]})
    assert refused.status == 422
    assert refused.error["code"] == "rule_violation"
    assert "items" in refused.error["message"]
    later = (org_today(world) + dt.timedelta(days=90)).isoformat()
    kept = patch(api, quote["id"], {"valid_until": later, "notes": "Extended"})
    assert kept.status == 200
    assert kept.json()["valid_until"] == later
    assert patch(api, quote["id"], {"status": "draft"}).status == 422


def test_only_drafts_are_deleted(api: Api, world: World) -> None:
    draft = new_quote(api, world)
    assert api.delete(f"/api/quotes/{draft['id']}", as_="maria").status == 204
    assert api.get(f"/api/quotes/{draft['id']}", as_="alice").status == 404
    sent = sent_quote(api, world)
    reply = api.delete(f"/api/quotes/{sent['id']}", as_="maria")
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"


def test_accept_and_decline_only_a_sent_quote_within_its_validity(api: Api, world: World) -> None:
    draft = new_quote(api, world)
    assert api.post(f"/api/quotes/{draft['id']}/accept", as_="maria").status == 422
    declined = sent_quote(api, world)
    reply = api.post(f"/api/quotes/{declined['id']}/decline", as_="maria")
    assert reply.status == 200
    assert reply.json()["status"] == "declined"
    assert api.post(f"/api/quotes/{declined['id']}/accept", as_="maria").status == 422
    late = sent_quote(api, world)
    world.sql(
        "update public.quotes set issue_date = %s, valid_until = %s where id = %s",
        org_today(world) - dt.timedelta(days=40),
        org_today(world) - dt.timedelta(days=1),
        late["id"],
    )
    reply = api.post(f"/api/quotes/{late['id']}/accept", as_="maria")
    assert reply.status == 422
    assert "expired on" in reply.error["message"]
    today = sent_quote(api, world, valid_until=org_today(world).isoformat())
    accepted = api.post(f"/api/quotes/{today['id']}/accept", as_="maria")
    assert accepted.status == 200
    assert accepted.json()["accepted_at"]


# =============================================================================
# Conversion
# =============================================================================


def test_convert_makes_a_linked_draft_invoice_once(api: Api, world: World) -> None:
    quote = accepted_quote(
        api,
        world,
        tax_rate="19",
        discount="10",
        notes="From the quote",
        terms="Quote terms",
        template="modern",
        items=[item("Design", "2", "40"), item("Build", "1", "120")],
    )
    reply = api.post(f"/api/quotes/{quote['id']}/convert", as_="maria")
    assert reply.status == 201, reply.json()
    body = reply.json()
    invoice = body["invoice"]
    assert reply.headers["location"] == f"/api/invoices/{invoice['id']}"
    assert body["quote"]["status"] == "converted"
    assert body["quote"]["invoice"] == {
        "id": invoice["id"],
        "invoice_number": invoice["invoice_number"],
        "status": "draft",
    }
    assert invoice["status"] == "draft"
    assert invoice["quote_id"] == quote["id"]
    for key in ("client_id", "currency", "subtotal", "discount", "tax_rate", "total_amount"):
        assert invoice[key] == quote[key], key
    assert (invoice["notes"], invoice["terms"], invoice["template"]) == (
        "From the quote",
        "Quote terms",
        "modern",
    )
    assert [(i["description"], i["quantity"], i["rate"]) for i in invoice["items"]] == [
        (i["description"], i["quantity"], i["rate"]) for i in quote["items"]
    ]
    read = api.get(f"/api/invoices/{invoice['id']}", as_="victor").json()
    assert read["quote_id"] == quote["id"]
    again = api.post(f"/api/quotes/{quote['id']}/convert", as_="maria")
    assert again.status == 409
    assert invoice["invoice_number"] in again.error["message"]
    count = world.sql("select count(*) from public.invoices where quote_id = %s", quote["id"])
    assert count[0][0] == 1


@pytest.mark.parametrize("status", ["draft", "sent", "declined", "expired"])
def test_convert_refuses_a_quote_that_is_not_accepted(api: Api, world: World, status: str) -> None:
    quote = new_quote(api, world)
    if status != "draft":
        world.sql(
            "update public.quotes set status = 'sent', issue_date = %s, valid_until = %s"
            " where id = %s",
            org_today(world) - dt.timedelta(days=40),
            org_today(world) - dt.timedelta(days=1 if status == "expired" else -1),
            quote["id"],
        )
    if status in ("declined", "expired"):
        world.sql("update public.quotes set status = %s where id = %s", status, quote["id"])
    reply = api.post(f"/api/quotes/{quote['id']}/convert", as_="maria")
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "rule_violation"
    assert "accepted" in reply.error["message"]
    assert (
        world.sql("select count(*) from public.invoices where quote_id = %s", quote["id"])[0][0]
        == 0
    )


def test_racing_conversions_make_one_invoice(api: Api, world: World) -> None:
    quote = accepted_quote(api, world)
    start = threading.Barrier(6)
    statuses: list[int] = []

    def convert() -> None:
        start.wait()
        statuses.append(api.post(f"/api/quotes/{quote['id']}/convert", as_="maria").status)

    threads = [threading.Thread(target=convert) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    rows = world.sql(
        "select q.invoice_id::text, (select count(*) from public.invoices i"
        " where i.quote_id = q.id) from public.quotes q where q.id = %s",
        quote["id"],
    )
    assert rows[0][0] is not None
    assert rows[0][1] == 1


def test_deleting_the_draft_invoice_makes_the_quote_accepted_again(api: Api, world: World) -> None:
    quote = accepted_quote(api, world)
    invoice = api.post(f"/api/quotes/{quote['id']}/convert", as_="maria").json()["invoice"]
    assert api.delete(f"/api/invoices/{invoice['id']}", as_="maria").status == 204
    again = api.get(f"/api/quotes/{quote['id']}", as_="alice").json()
    assert (again["status"], again["invoice_id"], again["invoice"]) == ("accepted", None, None)
    assert api.post(f"/api/quotes/{quote['id']}/convert", as_="maria").status == 201


# =============================================================================
# PDF and sending
# =============================================================================


def test_the_pdf_is_titled_as_a_quote_with_its_validity(api: Api, world: World) -> None:
    quote = new_quote(api, world)
    reply = api.get(f"/api/quotes/{quote['id']}/pdf", as_="victor", query={"template": "minimal"})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/pdf"
    assert quote["quote_number"] in reply.headers["content-disposition"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(reply.content)).pages)
    assert "Quote" in text
    assert quote["quote_number"] in text
    assert "Valid until" in text
    assert "Balance due" not in text
    assert (
        api.get(f"/api/quotes/{quote['id']}/pdf", as_="alice", query={"template": "x"}).status
        == 422
    )


def test_send_emails_the_pdf_and_marks_the_draft_sent(api: Api, world: World) -> None:
    address = f"{uuid.uuid4().hex[:10]}@client.test"
    quote = new_quote(api, world, client_id=new_client(world, world.org_a, email=address))
    key = str(uuid.uuid4())
    reply = api.post(
        f"/api/quotes/{quote['id']}/send",
        as_="maria",
        json_body={"message": "Here is our offer"},
        headers={"Idempotency-Key": key},
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["quote"]["status"] == "sent"
    assert body["send"]["recipients"]["to"] == [address]
    message = parse(message_by_id(body["send"]["ses_message_id"]))
    assert message["To"] == address
    assert message["Subject"].startswith(f"Quote {quote['quote_number']}")
    name, text = pdf_of(message)
    assert name == f"quote-{quote['quote_number']}.pdf"
    assert "Valid until" in text
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    assert "Here is our offer" in plain.get_content()
    replay = api.post(
        f"/api/quotes/{quote['id']}/send",
        as_="maria",
        json_body={"message": "Here is our offer"},
        headers={"Idempotency-Key": key},
    )
    assert replay.status == 200
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["send"]["ses_message_id"] == body["send"]["ses_message_id"]


def test_send_refuses_a_declined_quote_and_a_client_without_email(api: Api, world: World) -> None:
    quote = sent_quote(api, world, client_id=new_client(world, world.org_a, email="a@b.test"))
    api.post(f"/api/quotes/{quote['id']}/decline", as_="maria")
    reply = api.post(f"/api/quotes/{quote['id']}/send", as_="maria")
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    silent = new_quote(api, world)
    reply = api.post(f"/api/quotes/{silent['id']}/send", as_="maria")
    assert reply.status == 422
    assert "to" in field_names(reply)
    assert api.get(f"/api/quotes/{silent['id']}", as_="alice").json()["status"] == "draft"


# =============================================================================
# The expiry job
# =============================================================================


def test_the_job_expires_sent_quotes_past_their_day_once(
    api: Api, world: World, function_host: FunctionHost
) -> None:
    past = sent_quote(api, world)
    valid = sent_quote(api, world, valid_until=org_today(world).isoformat())
    world.sql(
        "update public.quotes set issue_date = %s, valid_until = %s where id = %s",
        org_today(world) - dt.timedelta(days=40),
        org_today(world) - dt.timedelta(days=1),
        past["id"],
    )
    first = function_host.invoke_by_name("jobsExpireQuotes", {})
    assert first["expired"] >= 1, first
    assert api.get(f"/api/quotes/{past['id']}", as_="alice").json()["status"] == "expired"
    assert api.get(f"/api/quotes/{valid['id']}", as_="alice").json()["status"] == "sent"
    second = function_host.invoke_by_name("jobsExpireQuotes", {})
    assert second["expired"] == 0, second
    assert Decimal(past["total_amount"]) == Decimal("100.00")


def test_a_client_without_invoices_is_deleted_with_its_quotes(api: Api, world: World) -> None:
    client = new_client(world, world.org_a)
    quote = sent_quote(api, world, client_id=client)
    assert api.delete(f"/api/clients/{client}", as_="maria").status == 204
    assert api.get(f"/api/quotes/{quote['id']}", as_="alice").status == 404
    kept = new_client(world, world.org_a)
    accepted = accepted_quote(api, world, client_id=kept)
    assert api.post(f"/api/quotes/{accepted['id']}/convert", as_="maria").status == 201
    assert api.delete(f"/api/clients/{kept}", as_="maria").status == 409
    reply = api.post("/api/clients/bulk-delete", as_="maria", json_body={"ids": [kept]})
    assert reply.status == 200, reply.json()
