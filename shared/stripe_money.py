"""Amounts as Stripe counts them: integers of the currency's smallest unit, by Stripe's
own table (https://docs.stripe.com/currencies), which is not ISO 4217's everywhere (ISK is
two-decimal at Stripe). The SQL twin is private.stripe_currency_exponent."""

from __future__ import annotations

from decimal import Decimal

ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


def exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_minor(amount: Decimal, currency: str) -> int:
    """``Decimal("12.34"), "USD"`` -> ``1234``; ``Decimal(4500), "JPY"`` -> ``4500``.
    Refuses (ValueError) an amount finer than Stripe counts the currency, and a
    three-decimal currency's amount not in steps of 0.010 (Stripe's rule)."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than Stripe takes")
    minor = int(scaled)
    if currency.upper() in THREE_DECIMAL and minor % 10:
        raise ValueError(f"Stripe takes {currency.upper()} in steps of 0.010")
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))
