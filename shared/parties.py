"""The parties of a document (EN 16931's seller and buyer), and the sealed fields behind them.

The organization's settings are the seller, a client the buyer (migration
20261206170200_parties_and_sealed_fields.sql). Their tax ids and bank accounts are sealed
at rest with the KMS envelope (shared/envelope.py) and found by keyed hashes; this module
is the one place that knows the contexts, seals on the way in and opens on the way out.

Seal contexts (the envelope authenticates them: a value moved elsewhere does not open):

- ``organization_settings.tax_id:<org id>``: the organization's VAT id (BT-31);
- ``organization_settings.tax_registration_id:<org id>``: its tax registration id (BT-32);
- ``organization_settings.iban:<org id>``: the account it is paid to (BT-84);
- ``payment_instructions:<org id>``: the default payment instructions (shared by settings
  and documents, so a seal can be copied from the settings to an invoice);
- ``clients.vat_id:<org id>``: a client's VAT id (BT-48).

Keyed hashes (``envelope.keyed_hash``, purpose without the organization): of the normalized
value (`normalize_id`), ``organization_settings.tax_id`` and ``clients.vat_id``.

For documents (shared/documents.py): `attach_parties` adds ``document["seller"]`` and
``document["buyer"]`` (`seller_party` and `buyer_party`: the keys of `PARTY_KEYS`, the
seller also `SELLER_PAYMENT_KEYS`) with one RPC, ``public.document_parties``, and fills
``document["business"]["tax_id"]`` and ``["default_payment_instructions"]`` with the opened
values so the PDFs and emails print what they printed before the seals.

Light: the envelope (boto3, cryptography) is imported only when a sealed value is there.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from shared import db

PARTY_KEYS = (
    "name",
    "vat_id",
    "legal_registration_id",
    "tax_registration_id",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "subdivision",
    "country_code",
    "email",
    "phone",
    "electronic_address",
    "electronic_address_scheme",
    "contact_name",
)
SELLER_PAYMENT_KEYS = (
    "iban",
    "bic",
    "payment_account_name",
    "payment_means_code",
    "payment_instructions",
)

#: UNCL4461 58: SEPA credit transfer, the payment means of a seller with an IBAN.
SEPA_CREDIT_TRANSFER = "58"

_SEPARATORS = re.compile(r"[\s.\-/]+")


# -- contexts and hashes ------------------------------------------------------------------


def tax_id_context(organization_id: UUID | str) -> str:
    return f"organization_settings.tax_id:{organization_id}"


def tax_registration_id_context(organization_id: UUID | str) -> str:
    return f"organization_settings.tax_registration_id:{organization_id}"


def iban_context(organization_id: UUID | str) -> str:
    return f"organization_settings.iban:{organization_id}"


def payment_instructions_context(organization_id: UUID | str) -> str:
    return f"payment_instructions:{organization_id}"


def vat_id_context(organization_id: UUID | str) -> str:
    return f"clients.vat_id:{organization_id}"


TAX_ID_PURPOSE = "organization_settings.tax_id"
VAT_ID_PURPOSE = "clients.vat_id"


def normalize_id(value: str) -> str:
    """What is hashed: ``DE 123.456-789`` and ``de123456789`` are the same id."""
    return _SEPARATORS.sub("", value).upper()


def id_hash(value: str, purpose: str) -> str:
    """The keyed hash of an id (normalized) for ``purpose``."""
    from shared import envelope  # noqa: PLC0415 (only a request with an id pays for it)

    return envelope.keyed_hash(normalize_id(value), purpose=purpose)


def vat_id_hash(vat_id: str) -> str:
    """The hash ``clients.vat_id_hash`` holds for ``vat_id``: clients found by VAT id."""
    return id_hash(vat_id, VAT_ID_PURPOSE)


def tax_id_hash(tax_id: str) -> str:
    """The hash ``organization_settings.tax_id_hash`` holds for ``tax_id``."""
    return id_hash(tax_id, TAX_ID_PURPOSE)


def seal(value: str | None, context: str) -> dict[str, Any] | None:
    """``value`` sealed in its jsonb form (None stays None)."""
    if value is None:
        return None
    from shared import envelope  # noqa: PLC0415

    return envelope.seal_json(value, context=context)


def open_sealed(sealed: Any, context: str) -> str | None:
    """A jsonb seal opened (None stays None)."""
    if sealed is None:
        return None
    from shared import envelope  # noqa: PLC0415

    return envelope.open_json(sealed, context=context)


def _either(row: dict[str, Any], sealed_key: str, clear_key: str | None, context: str) -> Any:
    """A row's value: its seal opened, else the clear column not sealed yet."""
    sealed = row.get(sealed_key)
    if sealed is not None:
        return open_sealed(sealed, context)
    return row.get(clear_key) if clear_key else None


# -- settings (the seller's columns) -----------------------------------------------------


def seal_business(organization_id: UUID | str, changes: dict[str, Any]) -> dict[str, Any]:
    """The business section of update_settings with its clear sensitive fields sealed:
    ``tax_id`` -> ``tax_id_sealed`` + ``tax_id_hash``, ``tax_registration_id`` ->
    ``tax_registration_id_sealed``, ``iban`` -> ``iban_sealed``,
    ``default_payment_instructions`` -> ``default_payment_instructions_sealed``. A field
    given as null clears it (and its clear column)."""
    out = dict(changes)
    org = str(organization_id)
    if "tax_id" in out:
        value = out.pop("tax_id")
        out["tax_id_sealed"] = seal(value, tax_id_context(org))
        out["tax_id_hash"] = tax_id_hash(value) if value is not None else None
    if "tax_registration_id" in out:
        out["tax_registration_id_sealed"] = seal(
            out.pop("tax_registration_id"), tax_registration_id_context(org)
        )
    if "iban" in out:
        out["iban_sealed"] = seal(out.pop("iban"), iban_context(org))
    if "default_payment_instructions" in out:
        out["default_payment_instructions_sealed"] = seal(
            out.pop("default_payment_instructions"), payment_instructions_context(org)
        )
    return out


def open_business(business: dict[str, Any]) -> dict[str, Any]:
    """A settings row (get_settings' business section) with its seals opened into the
    API's clear fields (``tax_id``, ``tax_registration_id``, ``iban``,
    ``default_payment_instructions``) and the seals themselves left out; the keyed hash
    ``tax_id_hash`` stays (lookups)."""
    org = str(business.get("organization_id"))
    out = dict(business)
    out["tax_id"] = _either(business, "tax_id_sealed", "tax_id", tax_id_context(org))
    out["tax_registration_id"] = _either(
        business, "tax_registration_id_sealed", None, tax_registration_id_context(org)
    )
    out["iban"] = _either(business, "iban_sealed", None, iban_context(org))
    out["default_payment_instructions"] = _either(
        business,
        "default_payment_instructions_sealed",
        "default_payment_instructions",
        payment_instructions_context(org),
    )
    for key in (
        "tax_id_sealed",
        "tax_registration_id_sealed",
        "iban_sealed",
        "default_payment_instructions_sealed",
    ):
        out.pop(key, None)
    return out


# -- documents' payment instructions (migration 20261206171200) -------------------------


def seal_document_instructions(
    organization_id: UUID | str, fields: dict[str, Any]
) -> dict[str, Any]:
    """A document request's fields (invoice, recurring profile) with a clear
    ``payment_instructions`` sealed into ``payment_instructions_sealed`` (the database
    refuses the clear value from the API). ``null`` stays a clear null: it clears both."""
    value = fields.get("payment_instructions")
    if not isinstance(value, str) or not value.strip():
        return fields
    out = dict(fields)
    del out["payment_instructions"]
    out["payment_instructions_sealed"] = seal(value, payment_instructions_context(organization_id))
    return out


def open_document_instructions(document: Any) -> Any:
    """A document row or JSON (an invoice, quote, credit note, recurring profile) with
    ``payment_instructions_sealed`` opened into ``payment_instructions`` and the seal left
    out; other values pass through. The envelope's data-key cache makes a page of rows
    sealed by one instance cost one KMS Decrypt."""
    if not isinstance(document, dict) or "payment_instructions_sealed" not in document:
        return document
    out = dict(document)
    sealed = out.pop("payment_instructions_sealed")
    if sealed is not None:
        out["payment_instructions"] = open_sealed(
            sealed, payment_instructions_context(str(out.get("organization_id")))
        )
    return out


# -- clients (the buyers' columns) -------------------------------------------------------


def seal_client(organization_id: UUID | str, changes: dict[str, Any]) -> dict[str, Any]:
    """A client's columns with ``vat_id`` sealed into ``vat_id_sealed`` and hashed into
    ``vat_id_hash`` (null clears both)."""
    out = dict(changes)
    if "vat_id" in out:
        value = out.pop("vat_id")
        out["vat_id_sealed"] = seal(value, vat_id_context(organization_id))
        out["vat_id_hash"] = vat_id_hash(value) if value is not None else None
    return out


def open_client(organization_id: UUID | str, row: dict[str, Any]) -> dict[str, Any]:
    """A client row with ``vat_id`` opened and the seal left out (the hash stays)."""
    out = dict(row)
    out["vat_id"] = open_sealed(out.pop("vat_id_sealed", None), vat_id_context(organization_id))
    return out


# -- parties -----------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _country_code(row: dict[str, Any], country_key: str | None) -> str | None:
    code = _text(row.get("country_code"))
    if code is None and country_key:
        # A free-text country of two letters is a code already (settings before the field).
        country = _text(row.get(country_key))
        if country and len(country) == 2 and country.isalpha():
            code = country
    return code.upper() if code else None


def _address(free: Any, line1: Any, line2: Any) -> tuple[str | None, str | None]:
    """Structured lines, else the free-text address's first line and the rest."""
    first, second = _text(line1), _text(line2)
    if first is None:
        lines = [line.strip() for line in (_text(free) or "").splitlines() if line.strip()]
        if lines:
            first = lines[0]
            rest = ", ".join(lines[1:])
            second = second or (rest or None)
    return first, second


def _endpoint(row: dict[str, Any]) -> tuple[str | None, str | None]:
    """The electronic address (BT-34/BT-49) and its scheme as the settings or the client
    name them, else none. No fallback here: whether the email address may stand in under
    scheme EM depends on the format (EN 16931 and XRechnung take it, Peppol's EAS list has
    no EM), so the writers decide (shared/einvoice/ubl.py, cii.py). Nor is a participant
    id derived from a VAT id (9930, 0208 ...): being registered under it in Peppol is the
    organization's fact to enter, not ours to guess."""
    address, scheme = (
        _text(row.get("electronic_address")),
        _text(row.get("electronic_address_scheme")),
    )
    if address and scheme:
        return address, scheme.upper()
    return None, None


def seller_party(organization_id: UUID | str, business_row: dict[str, Any]) -> dict[str, Any]:
    """The seller (the organization's settings row, or document_parties' ``seller``)
    with its seals opened: the `PARTY_KEYS` and `SELLER_PAYMENT_KEYS`, plus
    ``einvoice_format`` and ``website``."""
    org = str(organization_id)
    row = business_row
    email = _text(row.get("business_email"))
    line1, line2 = _address(row.get("business_address"), None, row.get("address_line2"))
    address, scheme = _endpoint(row)
    iban = _either(row, "iban_sealed", "iban", iban_context(org))
    means = _text(row.get("payment_means_code")) or (SEPA_CREDIT_TRANSFER if iban else None)
    name = _text(row.get("business_name")) or _text(row.get("organization_name")) or ""
    return {
        "name": name,
        "vat_id": _either(row, "tax_id_sealed", "tax_id", tax_id_context(org)),
        "legal_registration_id": _text(row.get("legal_registration_id")),
        "tax_registration_id": _either(
            row,
            "tax_registration_id_sealed",
            "tax_registration_id",
            tax_registration_id_context(org),
        ),
        "address_line1": line1,
        "address_line2": line2,
        "city": _text(row.get("city")),
        "postal_code": _text(row.get("zip_code")) or _text(row.get("postal_code")),
        "subdivision": _text(row.get("state")) or _text(row.get("subdivision")),
        "country_code": _country_code(row, "country"),
        "email": email,
        "phone": _text(row.get("business_phone")),
        "electronic_address": address,
        "electronic_address_scheme": scheme,
        "contact_name": None,
        "iban": iban,
        "bic": _text(row.get("bic")),
        "payment_account_name": _text(row.get("payment_account_name")) or (name or None),
        "payment_means_code": means,
        "payment_instructions": _either(
            row,
            "default_payment_instructions_sealed",
            "default_payment_instructions",
            payment_instructions_context(org),
        ),
        "einvoice_format": _text(row.get("einvoice_format")),
        "website": _text(row.get("website")),
    }


def buyer_party(organization_id: UUID | str, client_row: dict[str, Any]) -> dict[str, Any]:
    """The buyer (a client row, or document_parties' buyer) with its VAT id opened: the
    `PARTY_KEYS`, plus ``buyer_reference`` and ``einvoice_format`` (the client's own,
    which overrides the organization's)."""
    row = client_row
    email = _text(row.get("email"))
    line1, line2 = _address(row.get("address"), row.get("address_line1"), row.get("address_line2"))
    address, scheme = _endpoint(row)
    return {
        "name": _text(row.get("company_name")) or _text(row.get("contact_person")) or "",
        "vat_id": _either(row, "vat_id_sealed", "vat_id", vat_id_context(organization_id)),
        "legal_registration_id": _text(row.get("legal_registration_id")),
        "tax_registration_id": None,
        "address_line1": line1,
        "address_line2": line2,
        "city": _text(row.get("city")),
        "postal_code": _text(row.get("postal_code")),
        "subdivision": _text(row.get("subdivision")),
        "country_code": _country_code(row, None),
        "email": email,
        "phone": _text(row.get("phone")),
        "electronic_address": address,
        "electronic_address_scheme": scheme,
        "contact_name": _text(row.get("contact_person")),
        "buyer_reference": _text(row.get("buyer_reference")),
        "einvoice_format": _text(row.get("einvoice_format")),
    }


def load_parties(client: Any, organization_id: UUID | str, client_ids: list[str]) -> dict[str, Any]:
    """``public.document_parties``: ``{"seller": {...} | None, "buyers": {id: {...}}}``."""
    answer = db.rpc(
        client,
        "document_parties",
        {"organization_id": str(organization_id), "client_ids": sorted(set(client_ids))},
    )
    return answer if isinstance(answer, dict) else {"seller": None, "buyers": {}}


def _client_id(document: dict[str, Any]) -> str | None:
    found = (document.get("client") or {}).get("id") or document.get("client_id")
    return str(found) if found else None


def apply_parties(
    document: dict[str, Any], parties: dict[str, Any] | None, organization_id: UUID | str
) -> dict[str, Any]:
    """``document`` with ``seller`` and ``buyer`` from document_parties' answer, and the
    business block's tax id and default payment instructions opened."""
    parties = parties or {}
    business = document.setdefault("business", {})
    seller_row = parties.get("seller")
    if isinstance(seller_row, dict):
        seller = seller_party(organization_id, seller_row)
    else:  # not readable (RLS): what the document itself carries
        seller = seller_party(organization_id, business)
    document["seller"] = seller
    business["tax_id"] = seller["vat_id"]
    business["default_payment_instructions"] = seller["payment_instructions"]
    # The document's own instructions (sealed since migration 20261206171200), opened; a
    # document with neither form (older rows) prints the organization's default.
    sealed = document.pop("payment_instructions_sealed", None)
    if sealed is not None:
        document["payment_instructions"] = open_sealed(
            sealed, payment_instructions_context(organization_id)
        )
    own = _text(document.get("payment_instructions"))
    if own:  # what the document itself says (the e-invoice's payment terms too)
        seller["payment_instructions"] = own
    client_id = _client_id(document)
    buyers = parties.get("buyers") or {}
    buyer_row = {**(document.get("client") or {}), **(buyers.get(client_id) or {})}
    document["buyer"] = buyer_party(organization_id, buyer_row)
    return document


def attach_parties(
    client: Any, document: dict[str, Any], parties: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Adds ``document["seller"]`` and ``document["buyer"]`` (one RPC, unless ``parties``
    — document_parties' answer — is given) and fills ``document["business"]["tax_id"]``
    and ``["default_payment_instructions"]`` with the opened values."""
    organization_id = str(document.get("organization_id"))
    if parties is None:
        client_id = _client_id(document)
        parties = load_parties(client, organization_id, [client_id] if client_id else [])
    return apply_parties(document, parties, organization_id)


def attach_parties_many(
    client: Any, organization_id: UUID | str, documents: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """`attach_parties` for a batch of documents of one organization: one RPC."""
    if not documents:
        return documents
    ids = [cid for cid in (_client_id(d) for d in documents.values()) if cid]
    parties = load_parties(client, organization_id, ids)
    for document in documents.values():
        apply_parties(document, parties, organization_id)
    return documents
