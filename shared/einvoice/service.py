"""Making an e-invoice for the API and for sending: document -> model -> format -> validated.

``make(document, format)`` returns an :class:`EInvoice` (bytes, media type, file name) or
raises :class:`Invalid` with the fatal findings; ``invalid_error(invalid)`` is the API's
422 ``einvoice_invalid``, each finding with the rule id, its message and the API field the
user must fill (``FIELDS``; docs/einvoicing.md has the table). Nothing is answered or sent
that the validator refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.einvoice import cii, from_document, model, ubl, validate
from shared.einvoice.findings import Finding
from shared.einvoice.profiles import FORMATS, Profile, profile
from shared.errors import ApiError

# Rule id -> the API field to fill (settings.* the organization's settings, clients.* the
# client's, the rest the invoice's or credit note's own).
SELLER_VAT = "settings.tax_id"
BUYER_VAT = "clients.vat_id"
EXEMPTION = "items[].tax_exemption_reason"
FIELDS: dict[str, str] = {
    # The seller's VAT id for taxed and exempt supplies (BR-S-02 ... BR-AG-02), XRechnung's
    # "one of the seller's tax ids" (BR-DE-16) and EN 16931's (BR-CO-26).
    **dict.fromkeys(
        ["BR-S-02", "BR-Z-02", "BR-E-02", "BR-G-02", "BR-AF-02", "BR-AG-02", "BR-DE-16"],
        SELLER_VAT,
    ),
    "BR-CO-26": SELLER_VAT,
    # Reverse charge and intra-community supply need both VAT ids (resolved per document
    # by `field_of`: whichever is missing).
    "BR-AE-02": f"{SELLER_VAT}/{BUYER_VAT}",
    "BR-IC-02": f"{SELLER_VAT}/{BUYER_VAT}",
    "BR-O-02": f"{SELLER_VAT}/{BUYER_VAT}",
    # Exemption reasons.
    **dict.fromkeys(["BR-E-10", "BR-AE-10", "BR-IC-10", "BR-G-10", "BR-O-10"], EXEMPTION),
    "BR-S-10": "items[].tax_exemption_reason_code",
    "BR-Z-10": "items[].tax_exemption_reason_code",
    # Parties.
    "BR-06": "settings.business_name",
    "BR-07": "clients.company_name",
    "BR-08": "settings.country_code",
    "BR-09": "settings.country_code",
    "BR-10": "clients.country_code",
    "BR-11": "clients.country_code",
    "BR-CO-09": SELLER_VAT,
    "BR-IC-12": "clients.country_code",
    "BR-16": "items",
    "BR-CO-25": "due_date",
    # XRechnung.
    "BR-DE-1": "settings.iban",
    "BR-DE-2": "settings.business_phone",
    "BR-DE-3": "settings.city",
    "BR-DE-4": "settings.zip_code",
    "BR-DE-5": "settings.business_name",
    "BR-DE-6": "settings.business_phone",
    "BR-DE-7": "settings.business_email",
    "BR-DE-8": "clients.city",
    "BR-DE-9": "clients.postal_code",
    "BR-DE-15": "buyer_reference",
    "BR-DE-19": "settings.iban",
    "BR-DE-23-a": "settings.iban",
    "BR-DE-27": "settings.business_phone",
    "BR-DE-28": "settings.business_email",
    # Peppol (and XRechnung 3.0, which uses Peppol's ids for the electronic addresses).
    # The electronic address and the identifiers: whose (the settings' or the client's)
    # is the finding's location's party when it names one (`field_of`).
    "PEPPOL-EN16931-R010": "clients.electronic_address",
    "PEPPOL-EN16931-R020": "settings.electronic_address",
    "PEPPOL-EN16931-R003": "buyer_reference",
    "BR-62": "settings.electronic_address_scheme",
    "BR-63": "clients.electronic_address_scheme",
    "BR-CL-25": "settings.electronic_address_scheme",
    "PEPPOL-EN16931-CL008": "settings.electronic_address_scheme",
}
# The rules about a party's electronic address or identifiers: the field is the one of the
# party the location names (UBL AccountingSupplierParty / CII SellerTradeParty: the
# settings; AccountingCustomerParty / BuyerTradeParty: the client), after the element.
SCHEME_RULES = frozenset({"BR-62", "BR-63", "BR-CL-25", "PEPPOL-EN16931-CL008"})
ADDRESS_RULES = frozenset({"PEPPOL-EN16931-R010", "PEPPOL-EN16931-R020"})
_SELLER = re.compile(r"AccountingSupplierParty|SellerTradeParty")
_BUYER = re.compile(r"AccountingCustomerParty|BuyerTradeParty")
_ENDPOINT = re.compile(r"EndpointID|URIUniversalCommunication")
_TAX_SCHEME = re.compile(r"PartyTaxScheme|SpecifiedTaxRegistration")


@dataclass(frozen=True)
class EInvoice:
    body: bytes
    media_type: str
    filename: str
    format: str


class Invalid(Exception):
    """The validator refused the document: ``findings`` are the fatal ones."""

    def __init__(self, fmt: str, findings: list[Finding], invoice: model.Invoice) -> None:
        super().__init__(f"the {fmt} e-invoice breaks {len(findings)} rule(s)")
        self.format = fmt
        self.findings = findings
        self.invoice = invoice


class UnknownFormat(ValueError):
    pass


def _party_field(rule_id: str, location: str) -> str | None:
    """For a rule on a party's electronic address or identifier, the field of the party
    ``location`` names (None when it names no party: the rule's own entry then)."""
    if _SELLER.search(location):
        owner, vat = "settings", SELLER_VAT
    elif _BUYER.search(location):
        owner, vat = "clients", BUYER_VAT
    else:
        return None
    if rule_id in SCHEME_RULES:
        return f"{owner}.electronic_address_scheme"
    if rule_id in ADDRESS_RULES or _ENDPOINT.search(location):
        return f"{owner}.electronic_address"
    if _TAX_SCHEME.search(location):
        return vat
    return f"{owner}.legal_registration_id"


def field_of(rule_id: str, invoice: model.Invoice, location: str = "") -> str | None:
    """The API field the user must fill for ``rule_id`` broken by ``invoice`` at
    ``location`` (the finding's: whose electronic address or identifier it is)."""
    if rule_id in SCHEME_RULES or rule_id in ADDRESS_RULES or rule_id.startswith("PEPPOL-COMMON-"):
        field = _party_field(rule_id, location)
        if field is not None:
            return field
    field = FIELDS.get(rule_id)
    if field == f"{SELLER_VAT}/{BUYER_VAT}":
        if rule_id == "BR-O-02":  # outside the scope of VAT: no VAT id may be there
            return SELLER_VAT if invoice.seller.vat_id else BUYER_VAT
        return BUYER_VAT if invoice.seller.vat_id else SELLER_VAT
    if field is None and re.match(r"^BR-[A-Z]+-0?5$", rule_id):
        return "items[].tax_rate"
    return field


def findings_details(fmt: str, findings: list[Finding], invoice: model.Invoice) -> dict[str, Any]:
    return {
        "format": fmt,
        "findings": [
            {
                "rule": f.rule_id,
                "message": f.message,
                "field": field_of(f.rule_id, invoice, f.location),
            }
            for f in findings
        ],
    }


def invalid_error(invalid: Invalid) -> ApiError:
    """The 422 of a refused e-invoice."""
    rules = ", ".join(dict.fromkeys(f.rule_id for f in invalid.findings))
    return ApiError(
        422,
        "einvoice_invalid",
        f"the {invalid.format} e-invoice breaks {rules}: fill the fields named in details",
        findings_details(invalid.format, invalid.findings, invalid.invoice),
    )


def format_of(name: str) -> Profile:
    try:
        return profile(name)
    except ValueError:
        raise UnknownFormat(
            f"unknown e-invoice format {name!r}; one of {', '.join(FORMATS)}"
        ) from None


def write(invoice: model.Invoice, fmt: str) -> bytes:
    """The XML of ``invoice`` in ``fmt`` (for facturx, the CII it embeds)."""
    spec = format_of(fmt)
    return ubl.to_ubl(invoice, fmt) if spec.syntax == "ubl" else cii.to_cii(invoice, fmt)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def filename(number: str, fmt: str) -> str:
    spec = format_of(fmt)
    base = _UNSAFE.sub("-", number).strip("-") or "invoice"
    suffix = "" if spec.extension == "pdf" else f"-{fmt}"
    return f"{base}{suffix}.{spec.extension}"


def chosen_format(document: dict[str, Any]) -> str | None:
    """The format the client chose (``clients.einvoice_format``), else the organization's
    (``organization_settings.einvoice_format``), else None (no e-invoice)."""
    buyer = document.get("buyer") or {}
    seller = document.get("seller") or {}
    fmt = buyer.get("einvoice_format") or seller.get("einvoice_format")
    return str(fmt) if fmt else None


def for_email(
    document: dict[str, Any], pdf: bytes, *, credit_note: bool = False
) -> tuple[bytes, list[EInvoice]]:
    """What a sent document attaches, in the chosen format (`chosen_format`): for
    Factur-X the PDF is the e-invoice; for an XML format the PDF and the XML; without a
    chosen format the PDF alone. :class:`Invalid` when the validator refuses it: nothing
    is sent."""
    fmt = chosen_format(document)
    if fmt is None:
        return pdf, []
    made = make(document, fmt, credit_note=credit_note, render_pdf=lambda _: pdf)
    if made.media_type == "application/pdf":
        return made.body, []
    return pdf, [made]


def make(
    document: dict[str, Any],
    fmt: str,
    *,
    credit_note: bool = False,
    render_pdf: Callable[[dict[str, Any]], bytes] | None = None,
) -> EInvoice:
    """The e-invoice of ``document`` in ``fmt``, validated; :class:`Invalid` when the
    validator finds a fatal rule broken, :class:`UnknownFormat` for an unknown format.
    Factur-X needs ``render_pdf`` (the document's PDF, shared.pdf)."""
    spec = format_of(fmt)
    invoice = from_document.from_document(document, credit_note=credit_note)
    xml = write(invoice, fmt)
    fatal = validate.fatal(validate.validate(xml, spec.validation))
    if fatal:
        raise Invalid(fmt, fatal, invoice)
    body = xml
    if spec.name == "facturx":
        if render_pdf is None:
            raise ValueError("Factur-X needs the document's PDF")
        from shared.einvoice import facturx  # noqa: PLC0415 (pypdf and Pillow, only here)

        body = facturx.embed(render_pdf(document), xml, invoice)
    return EInvoice(body, spec.media_type, filename(invoice.number, fmt), fmt)
