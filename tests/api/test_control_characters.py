"""A control character in any text of a request is a 422 naming the field (or the query
parameter), with a message a frontend can show, and nothing is written. Before, only NUL
was refused: a client's address_line2 holding U+0001, written through
PUT /api/clients/{id}, later made POST /api/invoices/{id}/send a 500 (the e-invoice's
XML). What people type (line breaks, tabs, accents, scripts, emoji) is stored as given."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, World

ITEM = {"description": "Work", "quantity": 1, "rate": "100.00"}


def message(code: str) -> str:
    return f"must not contain control characters ({code})"


def refused(reply: Any, field: str, code: str, where: str = "body") -> None:
    assert reply.status == 422, reply.content
    assert reply.error["code"] == "validation_failed"
    assert reply.error["details"] == [{"in": where, "field": field, "message": message(code)}]
    assert reply.error["message"] == f"{field}: {message(code)}"


def a_client(api: Api, **fields: Any) -> dict[str, Any]:
    reply = api.post("/api/clients", as_="alice", json_body={"company_name": "Ctl Ltd", **fields})
    assert reply.status == 201, reply.content
    body: dict[str, Any] = reply.json()
    return body


def test_a_new_client_with_a_control_character_is_refused(api: Api, world: World) -> None:
    before = world.sql("select count(*) from public.clients")[0][0]
    reply = api.post(
        "/api/clients",
        as_="alice",
        json_body={"company_name": "Ctl Ltd", "address_line2": "Hinterhaus\x01 2. OG"},
    )
    refused(reply, "address_line2", "U+0001")
    assert world.sql("select count(*) from public.clients")[0][0] == before


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Erika\x08 Muster", "U+0008"),
        ("Kunde\x1f", "U+001F"),  # trailing: trimming would have dropped it silently
        ("Hof\x7f", "U+007F"),
        ("Hof\x85 2", "U+0085"),
        ("Hof\ud800", "U+D800"),  # "\ud800" in the JSON: an unpaired surrogate
        ("Hof\uffff", "U+FFFF"),
    ],
)
def test_a_client_update_with_a_control_character_is_refused(
    api: Api, world: World, text: str, code: str
) -> None:
    client = a_client(api)
    reply = api.put(f"/api/clients/{client['id']}", as_="alice", json_body={"address_line2": text})
    refused(reply, "address_line2", code)
    stored = world.sql("select address_line2 from public.clients where id = %s", client["id"])
    assert stored == [(None,)]


def test_what_people_type_is_stored_as_given(api: Api) -> None:
    notes = "Line one\nline two\r\n\tindented — Müller, 株式会社, مرحبا\u200f, 👩\u200d💻"
    client = a_client(api, company_name="Søren & Zoë", notes=notes)
    stored = api.get(f"/api/clients/{client['id']}", as_="alice").json()
    assert (stored["company_name"], stored["notes"]) == ("Søren & Zoë", notes)


def test_an_invoice_item_with_a_control_character_is_refused_naming_the_item(api: Api) -> None:
    client = a_client(api)
    reply = api.post(
        "/api/invoices",
        as_="alice",
        json_body={
            "client_id": client["id"],
            "items": [ITEM, {**ITEM, "description": "Schulung\x0b"}],
        },
    )
    refused(reply, "items[1].description", "U+000B")


def test_settings_with_a_control_character_are_refused(api: Api) -> None:
    reply = api.put("/api/settings/profile", as_="alice", json_body={"first_name": "Al\x1bice"})
    refused(reply, "first_name", "U+001B")
    reply = api.put(
        "/api/payables/settings", as_="alice", json_body={"debtor_name": "Acme\x02 GmbH"}
    )
    refused(reply, "debtor_name", "U+0002")


def test_a_query_parameter_with_a_control_character_is_refused(api: Api) -> None:
    reply = api.get("/api/clients", as_="alice", query={"q": "Acme\x01"})
    refused(reply, "q", "U+0001", where="query")
    assert api.get("/api/clients", as_="alice", query={"q": "Acme\t"}).status == 200
    # Checked with the query's other checks, before the token.
    reply = api.get("/api/invoices", query={"q": "\x1b[31m"})
    refused(reply, "q", "U+001B", where="query")
