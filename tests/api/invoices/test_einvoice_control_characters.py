"""Texts with characters XML 1.0 cannot hold (the C0 controls but tab, line feed and
carriage return) that reached the database: the e-invoice writers could not write them.
`make reliability`'s fuzzing found it: after its PUT /api/clients/{id} cases left a
control character in a client's address and a case chose an e-invoice format,
POST /api/invoices/{id}/send answered 500 (lxml's "All strings must be XML compatible"
while attaching the e-invoice), 7 of 148 cases, depending on the cases before. The API
refuses such texts now (tests/unit/test_control_characters.py,
tests/api/test_control_characters.py), but data reaches the tables by other paths:
supabase-js updating a client through PostgREST, SQL. The characters are dropped from
the document's texts (shared/einvoice/from_document.py): the e-invoice is made,
validates, and is sent."""

from __future__ import annotations

import httpx
import pytest

from shared.einvoice import validate
from shared.einvoice.profiles import PROFILES
from tests.api.conftest import Api, World
from tests.api.invoices.test_einvoice import (
    an_invoice,
    einvoice,
    german_client,
    german_organization,
    sent_attachments,
    xml_of,
)

pytestmark = pytest.mark.usefixtures("aws")

# A control character in the places the fuzzing reached: the client's name and address.
CONTROLS = {
    "company_name": "Kunde\x1f AG",
    "address_line2": "Hinterhaus\x01 2.\x0b OG",
    "contact_person": "Erika\x08 Muster",
}


def a_client_with_controls(api: Api, world: World, owner: str, **fields: str) -> str:
    """A client made through the API, then given control characters as the API refuses
    them: its name and contact through PostgREST as its owner (supabase-js's
    ``from("clients").update()``: those columns are granted), its address through SQL
    (authenticated may not update that column directly)."""
    client = german_client(api, owner, **fields)
    headers = {
        "apikey": world.stack.config.keys.anon_key,
        "authorization": f"Bearer {world.token(owner)}",
        "prefer": "return=minimal",
    }
    direct = {k: CONTROLS[k] for k in ("company_name", "contact_person")}
    written = httpx.patch(
        f"{world.stack.url}/rest/v1/clients",
        params={"id": f"eq.{client}"},
        json=direct,
        headers=headers,
        timeout=30,
    )
    assert written.status_code == 204, written.text
    world.sql(
        "update public.clients set address_line2 = %s where id = %s",
        CONTROLS["address_line2"],
        client,
    )
    stored = api.get(f"/api/clients/{client}", as_=owner).json()
    assert {k: stored[k] for k in CONTROLS} == CONTROLS  # stored as written
    # The API itself refuses them (it stored them before).
    refused = api.put(f"/api/clients/{client}", as_=owner, json_body={"address_line2": "Hof\x01"})
    assert refused.status == 422, refused.content
    return client


@pytest.mark.parametrize("fmt", ["xrechnung-ubl", "cii", "facturx"])
def test_an_einvoice_of_a_client_with_control_characters_is_made_without_them(
    api: Api, world: World, fmt: str
) -> None:
    owner = german_organization(api, world)
    invoice = an_invoice(api, owner, a_client_with_controls(api, world, owner))
    reply = einvoice(api, owner, invoice["id"], fmt)
    assert reply.status == 200, reply.content[:300]  # 500 before
    xml = xml_of(reply, fmt)
    assert validate.fatal(validate.validate(xml, PROFILES[fmt].validation)) == []
    assert b"Hinterhaus 2. OG" in xml
    assert b"Kunde AG" in xml
    assert not any(chr(c).encode() in xml for c in (0x01, 0x08, 0x0B, 0x1F))


def test_sending_to_a_client_with_control_characters_attaches_its_einvoice(
    api: Api, world: World
) -> None:
    owner = german_organization(api, world)
    client = a_client_with_controls(
        api, world, owner, email="ap@kunde.example", einvoice_format="xrechnung-ubl"
    )
    invoice = an_invoice(api, owner, client)
    reply = api.post(f"/api/invoices/{invoice['id']}/send", as_=owner, json_body={})
    assert reply.status == 200, reply.content[:300]  # 500 before
    attachments = sent_attachments(reply.json()["send"])
    content_type, xml = attachments[f"{invoice['invoice_number']}-xrechnung-ubl.xml"]
    assert content_type == "application/xml"
    assert validate.fatal(validate.validate(xml, "xrechnung-ubl")) == []
    assert b"Hinterhaus 2. OG" in xml
