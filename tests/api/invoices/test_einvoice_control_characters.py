"""Texts with characters XML 1.0 cannot hold (the C0 controls but tab, line feed and
carriage return): the API stores them (only NUL is refused), and the e-invoice writers
could not write them. `make reliability`'s fuzzing found it: after its
PUT /api/clients/{id} cases left a control character in a client's address and a case
chose an e-invoice format, POST /api/invoices/{id}/send answered 500 (lxml's "All strings
must be XML compatible" while attaching the e-invoice), 7 of 148 cases, depending on the
cases before. Now the characters are dropped from the document's texts
(shared/einvoice/from_document.py): the e-invoice is made, validates, and is sent."""

from __future__ import annotations

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


def a_client_with_controls(api: Api, owner: str, **fields: str) -> str:
    client = german_client(api, owner, **CONTROLS, **fields)
    stored = api.get(f"/api/clients/{client}", as_=owner).json()
    assert stored["address_line2"] == CONTROLS["address_line2"]  # stored as given
    return client


@pytest.mark.parametrize("fmt", ["xrechnung-ubl", "cii", "facturx"])
def test_an_einvoice_of_a_client_with_control_characters_is_made_without_them(
    api: Api, world: World, fmt: str
) -> None:
    owner = german_organization(api, world)
    invoice = an_invoice(api, owner, a_client_with_controls(api, owner))
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
        api, owner, email="ap@kunde.example", einvoice_format="xrechnung-ubl"
    )
    invoice = an_invoice(api, owner, client)
    reply = api.post(f"/api/invoices/{invoice['id']}/send", as_=owner, json_body={})
    assert reply.status == 200, reply.content[:300]  # 500 before
    attachments = sent_attachments(reply.json()["send"])
    content_type, xml = attachments[f"{invoice['invoice_number']}-xrechnung-ubl.xml"]
    assert content_type == "application/xml"
    assert validate.fatal(validate.validate(xml, "xrechnung-ubl")) == []
    assert b"Hinterhaus 2. OG" in xml
