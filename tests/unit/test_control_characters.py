"""Control characters in request texts are refused where they enter (shared.models.Input):
a 422 naming the field, with a message a frontend can show. Before, only NUL was refused:
a client's address_line2 holding U+0001, written through PUT /api/clients/{id}, later
broke the e-invoice's XML (a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.models import CONTROL_CHARACTERS, control_character
from shared.models.clients import ClientCreate, ClientUpdate
from shared.models.delivery import InvoiceSend
from shared.models.invoices import InvoiceCreate

CLIENT = "11111111-1111-4111-8111-111111111111"
ITEM = {"description": "Beratung", "quantity": 1, "rate": "100.00"}

REFUSED = [
    *(chr(c) for c in range(0x00, 0x09)),
    "\x0b",
    "\x0c",
    *(chr(c) for c in range(0x0E, 0x20)),
    "\x7f",
    "\x80",
    "\x85",
    "\x9f",
    "\ud800",  # an unpaired surrogate, which JSON's "\ud800" decodes to
    "\udfff",
    "\ufffe",
    "\uffff",
]

# What people type, paste and keep: tabs and line breaks in long texts, accents,
# non-Latin scripts, emoji with joiners, bidi marks, no-break and zero-width spaces.
KEPT = [
    "Line one\nline two\r\nline three\ttabbed",
    "Müller & Söhne GmbH — Straße 5, 3. OG",
    "株式会社テスト",
    "شركة الاختبار\u200f",
    "👩\u200d💻 Dev Studio",
    "Prix\u00a0: 1\u202f000 €",
    "Zero\u200bwidth\u2028paragraph\u2029end",
    "\U0001f600 and \U00010348",
    "\ufffd replaced",
]


def refused(model: type[BaseModel], body: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return [
        (".".join(str(p) for p in e["loc"]), e["type"], e["msg"]) for e in caught.value.errors()
    ]


@pytest.mark.parametrize("char", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_a_control_character_in_a_text_is_refused_naming_it(char: str) -> None:
    errors = refused(ClientCreate, {"company_name": "Acme", "address_line2": f"Hof{char} 2"})
    code = f"U+{ord(char):04X}"
    assert errors == [
        ("address_line2", "control_character", f"must not contain control characters ({code})")
    ]


@pytest.mark.parametrize("text", KEPT)
def test_the_texts_people_type_are_kept(text: str) -> None:
    assert control_character(text) is None
    client = ClientCreate.model_validate({"company_name": "Acme", "notes": text})
    assert client.notes == text.strip()


def test_a_trailing_control_character_is_refused_not_trimmed_away() -> None:
    # Python's str.strip() takes U+001C-U+001F, U+000B, U+000C and U+0085 for white
    # space: the check runs before trimming, so they are refused, not silently dropped.
    for char in "\x1c\x1f\x0b\x0c\x85":
        assert refused(ClientUpdate, {"company_name": f"Acme{char}"})[0][:2] == (
            "company_name",
            "control_character",
        )


def test_a_nested_text_is_named_by_its_path() -> None:
    body = {"client_id": CLIENT, "items": [ITEM, {**ITEM, "description": "Schulung\x01"}]}
    assert refused(InvoiceCreate, body) == [
        ("items.1.description", "control_character", "must not contain control characters (U+0001)")
    ]


def test_a_text_in_a_list_is_refused() -> None:
    errors = refused(InvoiceSend, {"cc": ["a@example.com", "b\x07@example.com"]})
    assert errors[0][:2] == ("cc", "control_character")
    assert "U+0007" in errors[0][2]


def test_nul_is_still_refused() -> None:
    errors = refused(ClientCreate, {"company_name": "A\x00B"})
    assert errors == [
        ("company_name", "control_character", "must not contain control characters (U+0000)")
    ]


def test_every_refused_character_is_found_past_the_printable_shortcut() -> None:
    # control_character() skips the search for a text str.isprintable() accepts.
    refused_ones = CONTROL_CHARACTERS.findall("".join(map(chr, range(0x110000))))
    assert len(refused_ones) == 29 + 33 + 2048 + 2  # C0 but 3, DEL and C1, surrogates, FFFE/F
    for char in refused_ones:
        assert control_character(f"Acme {char} GmbH") == f"U+{ord(char):04X}"
