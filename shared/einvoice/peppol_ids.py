"""Peppol BIS Billing 3.0's identifier checks (PEPPOL-COMMON-R040 ... R050) and the code
lists its own rules hold (PEPPOL-EN16931-CL007, CL008), for shared.einvoice.checks.

Each test is the published rule's (docs.peppol.eu/poacc/billing/3.0/rules, Schematron
3.0.19 of May 2025), checked with python-stdnum where stdnum's algorithm is the rule's
exactly (GS1 check digit, Norwegian mod 11, Luhn); where stdnum is stricter or differs at
an edge it is not used (the rule is what a Peppol access point runs, not the national
register's full validation):

- R042 (Danish CVR, 0184) is a format check only: 8 digits, or "DK" + 8 digits (the
  prefix allowed until the May 2026 release); stdnum.dk.cvr's checksum is not the rule's.
- R043 (Belgian enterprise number, 0208): the rule's check digits are 97 - (first 8 digits
  mod 97); stdnum.be's checksum also takes 00 where the rule wants 97, and requires a
  leading 0 or 1 the rule does not.
- R044 to R047 (Italian IPA code, codice fiscale, partita IVA) are warnings in the rule
  set; the codice fiscale is checked for its shape only (as the rule does: no check
  character), the partita IVA's Luhn digit only when it starts with "IT" (as the rule).
- R048 (9906) is commented out in the published Schematron: no rule, not checked.
- R050 (ABN, 0151): the rule's mod 89 over the 11 digits; stdnum.au.abn refuses the
  prefix "10" the rule accepts when "99" would do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from stdnum import ean, luhn
from stdnum.no import orgnr as no_orgnr


# ISO 4217 as PEPPOL-EN16931-CL007 lists it (3.0.19); differs from the CEN list of BR-CL-03
# (which has CNH, STD, XCG and lacks ANG, STN).
def words(text: str) -> frozenset[str]:
    """The set of a code list written as words."""
    return frozenset(text.split())


ISO4217 = words(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL
    BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED
    VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA YER ZAR
    ZMW ZWG XXX"""
)

# The Electronic Address Scheme codes PEPPOL-EN16931-CL008 allows (3.0.19). Unlike the CEN
# list of BR-CL-25 it has no EM (email), AN, AQ, AS, AU, 0219, 0220, 0242, 0244 ... 0248:
# a Peppol endpoint is a participant identifier, not an email address.
EAS = words(
    """0002 0007 0009 0037 0060 0088 0096 0097 0106 0130 0135 0142 0151 0177 0183 0184 0188
    0190 0191 0192 0193 0195 0196 0198 0199 0200 0201 0202 0204 0208 0209 0210 0211 0212
    0213 0215 0216 0218 0221 0230 0235 9910 9913 9914 9915 9918 9919 9920 9922 9923 9924
    9925 9926 9927 9928 9929 9930 9931 9932 9933 9934 9935 9936 9937 9938 9939 9940 9941
    9942 9943 9944 9945 9946 9947 9948 9949 9950 9951 9952 9953 9957 9959 0147 0154 0158
    0170 0194 0203 0205 0217 0225 0240"""
)

_DIGITS = re.compile(r"[0-9]+")
_LETTERS = re.compile(r"[A-Za-z]*")
_ALNUM6 = re.compile(r"[A-Za-z0-9]{6}")
# What XPath's "castable as xs:integer" takes (whitespace collapsed, then an optional sign).
_INTEGER = re.compile(r"[ \t\r\n]*[+-]?[0-9]+[ \t\r\n]*")


def normalize_space(value: str) -> str:
    """XPath's normalize-space(): XML whitespace only (not Python's str.split())."""
    return " ".join(re.split(r"[ \t\r\n]+", value.strip(" \t\r\n"))) if value else ""


def _digits(value: str, length: int | None = None) -> bool:
    return bool(_DIGITS.fullmatch(value)) and (length is None or len(value) == length)


def gln(value: str) -> bool:
    """R040 (0088): digits, the last one the GS1 check digit of the others."""
    return _digits(value) and ean.calc_check_digit(value[:-1]) == value[-1]


def norwegian_organization_number(value: str) -> bool:
    """R041 (0192): nine digits, mod 11 (the rule's weights are stdnum's), above zero."""
    return _digits(value, 9) and int(value) > 0 and no_orgnr.checksum(value) == 0


def danish_cvr(raw: str) -> bool:
    """R042 (0184), on the element's string without normalizing (as the rule):
    "DK" + 8 digits or 8 digits."""
    if len(raw) == 10 and raw.startswith("DK"):
        return _digits(raw[2:])
    return len(raw) == 8 and _digits(raw)


def belgian_enterprise_number(value: str) -> bool:
    """R043 (0208): ten digits, the last two 97 - (the first eight mod 97)."""
    return _digits(value, 10) and int(value[8:]) == 97 - int(value[:8]) % 97


def italian_ipa_code(value: str) -> bool:
    """R044 (0201): six ASCII letters or digits."""
    return bool(_ALNUM6.fullmatch(value))


def _castable_integer(value: str) -> bool:
    return bool(_INTEGER.fullmatch(value))


def _letters(value: str) -> bool:
    return bool(_LETTERS.fullmatch(value))


def italian_fiscal_code(value: str) -> bool:
    """R045 (0210), R046 (9907): the rule's shape of a codice fiscale (16 characters:
    6 letters, 2 digits, a letter, 2 digits, 3 any, a digit, a letter; no check character)
    or a company's 11 (an integer)."""
    if len(value) == 11:
        return _castable_integer(value)
    if len(value) != 16:
        return False
    return (
        _letters(value[0:6])
        and _castable_integer(value[6:8])
        and _letters(value[8])
        and _castable_integer(value[9:11])
        and _castable_integer(value[14])
        and _letters(value[15])
    )


def italian_vat_number(value: str) -> bool:
    """R047 (0211): with the prefix IT (or it), 11 digits with a valid Luhn digit; without
    it, anything (as the rule)."""
    if value[:2] not in ("IT", "it"):
        return True
    number = value[2:]
    return _digits(number, 11) and luhn.is_valid(number)


def swedish_organization_number(value: str) -> bool:
    """R049 (0007): ten digits, the last the Luhn digit of the first nine."""
    return _digits(value, 10) and luhn.is_valid(value)


_ABN_WEIGHTS = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)


def australian_business_number(value: str) -> bool:
    """R050 (0151): eleven digits, the first less one, weighted sum mod 89 = 0."""
    if not _digits(value, 11):
        return False
    digits = [int(c) for c in value]
    digits[0] -= 1
    return sum(w * d for w, d in zip(_ABN_WEIGHTS, digits, strict=True)) % 89 == 0


# ICD scheme -> (rule, flag, test, its message, normalize the value first). R046 (9907)
# holds for EndpointID only (`ENDPOINT_ONLY`).
Rule = tuple[str, str, Callable[[str], bool], str, bool]
SCHEMES: dict[str, Rule] = {
    "0088": (
        "PEPPOL-COMMON-R040",
        "fatal",
        gln,
        "GLN must have a valid format according to GS1 rules.",
        True,
    ),
    "0192": (
        "PEPPOL-COMMON-R041",
        "fatal",
        norwegian_organization_number,
        "Norwegian organization number MUST be stated in the correct format.",
        True,
    ),
    "0184": (
        "PEPPOL-COMMON-R042",
        "fatal",
        danish_cvr,
        "Danish organization number (CVR) MUST be stated in the correct format.",
        False,
    ),
    "0208": (
        "PEPPOL-COMMON-R043",
        "fatal",
        belgian_enterprise_number,
        "Belgian enterprise number MUST be stated in the correct format.",
        True,
    ),
    "0201": (
        "PEPPOL-COMMON-R044",
        "warning",
        italian_ipa_code,
        "IPA Code (Codice Univoco Unità Organizzativa) must be stated in the correct format",
        True,
    ),
    "0210": (
        "PEPPOL-COMMON-R045",
        "warning",
        italian_fiscal_code,
        "Tax Code (Codice Fiscale) must be stated in the correct format",
        True,
    ),
    "9907": (
        "PEPPOL-COMMON-R046",
        "warning",
        italian_fiscal_code,
        "Tax Code (Codice Fiscale) must be stated in the correct format",
        True,
    ),
    "0211": (
        "PEPPOL-COMMON-R047",
        "warning",
        italian_vat_number,
        "Italian VAT Code (Partita Iva) must be stated in the correct format",
        True,
    ),
    "0007": (
        "PEPPOL-COMMON-R049",
        "fatal",
        swedish_organization_number,
        "Swedish organization number MUST be stated in the correct format.",
        True,
    ),
    "0151": (
        "PEPPOL-COMMON-R050",
        "fatal",
        australian_business_number,
        "Australian Business Number (ABN) MUST be stated in the correct format.",
        True,
    ),
}
ENDPOINT_ONLY = frozenset({"9907"})


def decimal_or_none(value: str) -> Decimal | None:
    """A number as XPath's xs:decimal cast reads it (whitespace around allowed), or None."""
    text = value.strip(" \t\r\n")
    if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", text):
        return None
    return Decimal(text)


def identifier_problem(scheme: str, value: str, *, endpoint: bool = True) -> str | None:
    """The PEPPOL-COMMON rule ``value`` under ICD/EAS ``scheme`` breaks (a fatal one or a
    warning), else None: for an API that checks an electronic address or a legal id when it
    is entered rather than when a Peppol document is written (``endpoint``: the value is an
    EndpointID, which alone 9907's R046 holds for)."""
    rule = SCHEMES.get(scheme)
    if rule is None or (scheme in ENDPOINT_ONLY and not endpoint):
        return None
    rule_id, _, test, _, normalize = rule
    return None if test(normalize_space(value) if normalize else value) else rule_id
