"""Money and dates as customers read them, in invoice documents and emails.

Kept free of heavy imports (no pydantic, no PDF library): the PDF renderer, the
email templates and the scheduled jobs all import it.

Money is ``Decimal`` (or ``int``) from end to end; a ``float`` is refused. An
amount is shown at its currency's minor unit (ISO 4217, the same table as
``private.currency_minor_unit`` in supabase/migrations/20261206100100_platform.sql:
JPY 0 decimals, KWD/BHD 3, most others 2), rounded half-up, with thousands
separators, after the currency's symbol where one is unambiguous (``$1,234.50``,
``€1,234.50``, ``¥1,235``) and after its code otherwise (``KWD 1,234.500``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units as private.currency_minor_unit has them (2 unless listed);
# tests/unit/test_formatting.py checks both tables agree with shared.models.clients.
ZERO_DECIMALS = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
THREE_DECIMALS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())  # noqa: SIM905

# Symbols a reader of any country takes for one currency only. "$" is the US
# dollar; other dollars carry their prefix. Currencies not listed show their code.
SYMBOLS: dict[str, str] = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "INR": "₹",
    "KRW": "₩",
    "ILS": "₪",
    "NGN": "₦",
    "PHP": "₱",
    "VND": "₫",
    "UAH": "₴",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "HKD": "HK$",
    "SGD": "S$",
    "MXN": "MX$",
    "BRL": "R$",
}


def minor_unit(currency: str) -> int:
    """How many decimals an amount in ``currency`` has (as SQL's
    private.currency_minor_unit: 2 unless listed above)."""
    if currency in ZERO_DECIMALS:
        return 0
    if currency in THREE_DECIMALS:
        return 3
    return 2


def format_amount(amount: Decimal | int, currency: str, *, exact: bool = False) -> str:
    """The amount at its currency's scale with thousands separators, no symbol:
    ``1234.5, "USD"`` -> ``1,234.50``; ``-1234.5`` -> ``-1,234.50``."""
    if isinstance(amount, (float, bool)):
        raise TypeError("money is a Decimal, never a float")
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    places = minor_unit(currency)
    if exact:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            places = -exponent
    value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if value == 0:
        value = abs(value)  # never "-0.00"
    return f"{value:,.{places}f}"


def format_money(amount: Decimal | int, currency: str, *, exact: bool = False) -> str:
    """The amount as a customer reads it: ``$1,234.50``, ``¥1,235``,
    ``KWD 1,234.500``, ``-€12.00`` (the sign before the symbol).

    ``exact`` keeps decimals beyond the currency's minor unit instead of rounding
    them (a unit rate of ``$0.125``: rates may have 4 decimals, amounts may not)."""
    currency = currency.upper()
    text = format_amount(amount, currency, exact=exact)
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    symbol = SYMBOLS.get(currency)
    if symbol is not None:
        return f"{sign}{symbol}{text}"
    return f"{sign}{currency} {text}"


def format_date(d: date | str) -> str:
    """A date in a form no reader misreads, whatever the country: ``1 Dec 2026``.

    Accepts a ``date`` (a ``datetime`` is shown by its date) or an ISO 8601
    string as PostgREST returns it (``2026-12-01``)."""
    if isinstance(d, str):
        d = date.fromisoformat(d[:10])
    elif isinstance(d, datetime):
        d = d.date()
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()  # noqa: SIM905
    return f"{d.day} {months[d.month - 1]} {d.year}"
