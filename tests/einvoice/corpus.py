"""The corpus of e-invoices every format is validated over (tests/einvoice/test_corpus.py):
model instances in every VAT category (S, Z, E, AE, K, G, O, L, M), several rates,
allowances and charges, reverse charge, foreign currencies (one without minor unit), long
Unicode text and credit notes referring to their invoice. The parties' electronic
addresses are Peppol participant ids (GLN, VAT ids under 9930/9914, SIRET, D-U-N-S), so
every case is a Peppol document too; without them each format's fallback is tested
(test_corpus.py: the email under EM, where the format allows it). Dates are fixed: nothing
here compares with today."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from shared.einvoice import model

D = Decimal
ISSUED = date(2026, 11, 30)

SELLER = model.Party(
    name="Muster Software GmbH",
    address=model.Address("Hauptstraße 1", "Hinterhaus", "Berlin", "10115", None, "DE"),
    vat_id="DE123456789",
    legal_registration_id="HRB 12345",
    tax_registration_id="27/123/45678",
    electronic_address="7300010000001",  # a GLN (0088)
    electronic_address_scheme="0088",
    contact_name="Anna Muster",
    phone="+49 30 1234567",
    email="anna@muster.example",
)
BUYER_DE = model.Party(
    name="Kunde AG",
    address=model.Address("Marienplatz 2", None, "München", "80331", "Bayern", "DE"),
    vat_id="DE987654321",
    electronic_address="DE987654321",  # its VAT id, registered in Peppol (9930)
    electronic_address_scheme="9930",
    contact_name="Bernd Kunde",
    email="bernd@kunde.example",
)
BUYER_FR = model.Party(
    name="Client SARL",
    address=model.Address("12 rue de la Paix", None, "Paris", "75002", None, "FR"),
    vat_id="FR40303265045",
    electronic_address="30326504500012",  # a SIRET (0009)
    electronic_address_scheme="0009",
)
BUYER_AT = model.Party(
    name="Kundin GmbH",
    address=model.Address("Stephansplatz 1", None, "Wien", "1010", None, "AT"),
    vat_id="ATU13585627",
    electronic_address="ATU13585627",  # its VAT id (9914)
    electronic_address_scheme="9914",
)
BUYER_US = model.Party(
    name="Customer Inc.",
    address=model.Address("1 Main Street", None, "Springfield", "62701", "IL", "US"),
    electronic_address="150483782",  # a D-U-N-S number (0060)
    electronic_address_scheme="0060",
)
PAYMENT = model.PaymentMeans(
    code="58",
    iban="DE02120300000000202051",
    bic="BYLADEM1001",
    account_name="Muster Software GmbH",
    remittance_information="RE-2026-001",
    terms="Zahlbar innerhalb von 30 Tagen ohne Abzug.",
)
LEITWEG = "04011000-12345-34"


def line(  # noqa: PLR0917
    number: int,
    name: str,
    quantity: str,
    price: str,
    category: str = "S",
    rate: str = "19",
    currency: str = "EUR",
    **extra: str,
) -> model.Line:
    q, p = D(quantity), D(price)
    return model.Line(
        id=str(number),
        name=name,
        quantity=q,
        net_price=p,
        net_amount=model.line_amount(q, p, currency),
        vat_category=category,
        vat_rate=D(rate),
        **extra,
    )


def invoice(
    number: str,
    lines: list[model.Line],
    *,
    buyer: model.Party = BUYER_DE,
    seller: model.Party = SELLER,
    currency: str = "EUR",
    allowances: tuple[model.AllowanceCharge, ...] = (),
    charges: tuple[model.AllowanceCharge, ...] = (),
    reasons: dict[str, tuple[str | None, str | None]] | None = None,
    type_code: str = model.COMMERCIAL_INVOICE,
    **extra: object,
) -> model.Invoice:
    breakdown = model.tax_breakdown(lines, allowances, charges, currency, reasons)
    totals = model.document_totals(lines, allowances, charges, breakdown, currency)
    return model.Invoice(
        number=number,
        type_code=type_code,
        issue_date=ISSUED,
        due_date=date(2026, 12, 30),
        currency=currency,
        seller=seller,
        buyer=buyer,
        lines=tuple(lines),
        tax_breakdown=breakdown,
        totals=totals,
        buyer_reference=LEITWEG,
        purchase_order_reference="PO-4711",
        payment=PAYMENT,
        allowances=allowances,
        charges=charges,
        delivery_date=date(2026, 11, 27),
        **extra,  # type: ignore[arg-type]
    )


def corpus() -> dict[str, model.Invoice]:
    """Every case by name."""
    cases: dict[str, model.Invoice] = {}
    cases["standard-two-rates"] = invoice(
        "RE-2026-001",
        [
            line(1, "Beratung", "12.5", "120.00"),
            line(2, "Fachbuch", "3", "24.90", rate="7"),
            line(3, "Schulung", "1", "1499.99"),
        ],
        allowances=(
            model.AllowanceCharge(D("50.00"), "S", D("19"), reason="Treuerabatt", reason_code="95"),
            model.AllowanceCharge(D("2.24"), "S", D("7"), reason="Rabatt", reason_code="95"),
        ),
        charges=(
            model.AllowanceCharge(D("9.90"), "S", D("19"), reason="Versand", reason_code="FC"),
        ),
    )
    cases["zero-rated"] = invoice(
        "RE-2026-002",
        [line(1, "Zeitung", "10", "2.50", "Z", "0")],
        reasons=None,
    )
    cases["exempt"] = invoice(
        "RE-2026-003",
        [line(1, "Heilbehandlung", "2", "80.00", "E", "0")],
        reasons={"E": ("VATEX-EU-132", "Steuerfrei nach § 4 Nr. 14 UStG")},
    )
    cases["reverse-charge"] = invoice(
        "RE-2026-004",
        [line(1, "Software-Entwicklung", "40", "95.00", "AE", "0")],
        buyer=BUYER_FR,
        reasons={"AE": ("VATEX-EU-AE", "Steuerschuldnerschaft des Leistungsempfängers")},
    )
    cases["intra-community"] = invoice(
        "RE-2026-005",
        [line(1, "Server", "2", "2400.00", "K", "0"), line(2, "Kabel", "20", "4.99", "K", "0")],
        buyer=BUYER_AT,
        reasons={"K": ("VATEX-EU-IC", "Innergemeinschaftliche Lieferung")},
        delivery_address=BUYER_AT.address,
    )
    cases["export"] = invoice(
        "RE-2026-006",
        [line(1, "Maschine", "1", "18500.00", "G", "0", currency="USD")],
        buyer=BUYER_US,
        currency="USD",
        reasons={"G": ("VATEX-EU-G", "Ausfuhrlieferung")},
    )
    cases["outside-scope"] = invoice(
        "RE-2026-007",
        [line(1, "Vortrag", "1", "500.00", "O", "0")],
        seller=replace(SELLER, vat_id=None),
        buyer=replace(BUYER_DE, vat_id=None),
        reasons={"O": ("VATEX-EU-O", "Nicht steuerbar")},
    )
    canary = replace(
        SELLER,
        name="Islas Software S.L.",
        address=model.Address("Calle Mayor 5", None, "Las Palmas", "35001", None, "ES"),
        vat_id="ESB12345674",
        legal_registration_id=None,
    )
    cases["igic-canary-islands"] = invoice(
        "RE-2026-008", [line(1, "Licencia", "3", "300.00", "L", "7")], seller=canary
    )
    cases["ipsi-ceuta"] = invoice(
        "RE-2026-009",
        [line(1, "Servicio", "2", "150.00", "M", "4")],
        seller=replace(
            canary, address=model.Address("Calle Real 1", None, "Ceuta", "51001", None, "ES")
        ),
    )
    cases["yen-no-minor-unit"] = invoice(
        "RE-2026-010",
        [line(1, "Consulting", "3", "15000", rate="19", currency="JPY")],
        currency="JPY",
        allowances=(
            model.AllowanceCharge(D("1001"), "S", D("19"), reason="Discount", reason_code="95"),
        ),
    )
    long_text = 'Ünïcödé ✓ 日本語 العربية ελληνικά <&> "quoted" ' * 20
    cases["long-unicode"] = invoice(
        "RE-2026-011/ß",
        [
            line(
                1, "Übersetzung 日本語 → Deutsch & <Englisch>", "1", "333.33", description=long_text
            ),
            line(2, "Ελληνικά κείμενα", "7", "0.3333", rate="7"),
        ],
        buyer=replace(BUYER_DE, name="Kunde & Söhne «Ærø» 株式会社"),
        note=long_text,
    )
    cases["credit-note"] = invoice(
        "GS-2026-001",
        [
            line(1, "Gutschrift Beratung", "2", "120.00"),
            line(2, "Fachbuch", "1", "24.90", rate="7"),
        ],
        type_code=model.CREDIT_NOTE,
        preceding_invoice_reference="RE-2026-001",
        preceding_invoice_date=date(2026, 11, 2),
    )
    cases["credit-note-reverse-charge"] = invoice(
        "GS-2026-002",
        [line(1, "Gutschrift Entwicklung", "4", "95.00", "AE", "0")],
        buyer=BUYER_FR,
        reasons={"AE": ("VATEX-EU-AE", "Reverse charge")},
        type_code=model.CREDIT_NOTE,
        preceding_invoice_reference="RE-2026-004",
    )
    return cases
