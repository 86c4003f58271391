"""The formats we write: each API format name -> its syntax, BT-24 specification
identifier, BT-23 business process and validation profile (shared.einvoice.validate)."""

from __future__ import annotations

from dataclasses import dataclass

EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"


@dataclass(frozen=True)
class Profile:
    name: str  # the API's format name
    syntax: str  # ubl | cii
    specification_id: str  # BT-24
    business_process: str | None  # BT-23
    validation: str  # the validate() profile
    media_type: str
    extension: str


PROFILES: dict[str, Profile] = {
    "ubl": Profile("ubl", "ubl", EN16931, None, "en16931-ubl", "application/xml", "xml"),
    "cii": Profile("cii", "cii", EN16931, None, "en16931-cii", "application/xml", "xml"),
    "xrechnung-ubl": Profile(
        "xrechnung-ubl", "ubl", XRECHNUNG, PEPPOL_PROCESS, "xrechnung-ubl", "application/xml", "xml"
    ),
    "xrechnung-cii": Profile(
        "xrechnung-cii", "cii", XRECHNUNG, PEPPOL_PROCESS, "xrechnung-cii", "application/xml", "xml"
    ),
    "peppol": Profile("peppol", "ubl", PEPPOL, PEPPOL_PROCESS, "peppol", "application/xml", "xml"),
    "facturx": Profile("facturx", "cii", EN16931, None, "facturx", "application/pdf", "pdf"),
}
FORMATS = tuple(PROFILES)


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown e-invoice format {name!r}; one of {', '.join(FORMATS)}"
        ) from None
