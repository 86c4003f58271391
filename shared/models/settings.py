"""Models of the settings routes: the person's profile and notification preferences,
and the business settings of the organization they act in.

Updates are partial: fields present change, absent ones stay, ``null`` clears an
optional field; a required field (the tax label, the currency, ...) may be left out
but not set to ``null``. Notification flags and reminder settings merge key by key.
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.fields import EMAIL_PATTERN, blank_to_none, email_address
from shared.models import DocumentedPattern, Input, Output
from shared.models.parties import (
    Bic,
    CountryCode,
    EinvoiceFormat,
    ElectronicAddress,
    ElectronicAddressScheme,
    Iban,
    PaymentMeansCode,
    RegistrationId,
    VatId,
    electronic_address_pair,
)

Template = Literal["professional", "modern", "minimal"]
PaymentTerms = Literal["due_on_receipt", "net7", "net15", "net30", "net45", "net60", "net90"]
Overpayment = Literal["refuse", "credit"]
NumberingReset = Literal["yearly", "monthly", "never"]

_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$"  # the document has no flags
_URL = re.compile(_URL_PATTERN)
_PREFIX = re.compile(r"^[A-Za-z0-9._/#-]*$")


def _url(value: str) -> str:
    if not _URL.match(value):
        raise PydanticCustomError("url", "must be an http:// or https:// address")
    return value


def _prefix(value: str) -> str:
    if not _PREFIX.match(value):
        raise PydanticCustomError("invoice_prefix", "may hold only letters, digits and . _ / # -")
    return value


# An IANA name: "Area/Location" (Europe/Paris, America/Argentina/Buenos_Aires,
# Etc/GMT+5), or UTC. Abbreviations (EST, CET), POSIX offsets and rules (+05, UTC+3,
# EST5EDT) and the database's posix/ and right/ copies do not have this shape. The
# same rule is the database's (organization_settings_time_zone_shape and
# private.is_iana_time_zone, migration 20261206110100), which also looks the name up
# in pg_timezone_names.
TIME_ZONE_PATTERN = r"^(UTC|[A-Z][A-Za-z_-]*(/[A-Za-z0-9_+-]+)+)$"
_TIME_ZONE = re.compile(TIME_ZONE_PATTERN)


@cache
def _known_time_zones() -> frozenset[str]:
    """The IANA names of the system's time zone database (empty when it has none:
    the database then decides alone)."""
    return frozenset(zoneinfo.available_timezones())


def time_zone_name(value: str) -> str:
    """An IANA time zone name the time zone database knows, spelled as it spells it."""
    if not _TIME_ZONE.match(value) or value.startswith(("posix/", "right/")):
        raise PydanticCustomError(
            "time_zone",
            "must be an IANA time zone name such as Europe/Paris or America/New_York;"
            " abbreviations (EST, CET) and offsets (+05, UTC+3) are refused",
        )
    known = _known_time_zones()
    if known and value not in known:
        raise PydanticCustomError(
            "time_zone", "is not a time zone of the IANA database (names are case-sensitive)"
        )
    return value


# Numbering patterns: literal text and the tokens below; {SEQ} (or {SEQ:n}, zero
# padded to n, 1 to 12) exactly once; at most 40 characters. The same words as
# private.numbering_pattern_problem (migration 20261206110100), which also checks
# that a pattern resetting yearly shows the year and monthly the month too.
_TOKEN = re.compile(r"\{(YYYY|YY|MM|SEQ|SEQ:[0-9]+)\}")
_SEQ = re.compile(r"\{SEQ(:[0-9]+)?\}")
_SEQ_WIDTH = re.compile(r"\{SEQ:([0-9]+)\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def numbering_pattern(value: str) -> str:
    problem: str | None = None
    if len(value) > 40:
        problem = "has at most 40 characters"
    elif _CONTROL.search(value):
        problem = "may not hold control characters"
    elif not _SEQ.search(value):
        problem = "needs {SEQ} (or {SEQ:n}), the counter"
    elif len(_SEQ.findall(value)) > 1:
        problem = "holds {SEQ} once"
    elif (width := _SEQ_WIDTH.search(value)) and not 1 <= int(width.group(1)) <= 12:
        problem = "the width n of {SEQ:n} is 1 to 12"
    elif stray := re.search(r"\{[^}]*\}?|\}", _TOKEN.sub("", value)):
        problem = (
            f"unknown token {stray.group(0)}: the tokens are {{YYYY}} {{YY}} {{MM}} {{SEQ}}"
            " {SEQ:n}"
        )
    if problem:
        raise PydanticCustomError("numbering_pattern", problem)
    return value


def _upper(value: str) -> str:
    return value.upper()


# Optional texts of at most N characters: blank is null.
Text20 = Annotated[
    Annotated[str, StringConstraints(max_length=20)] | None, BeforeValidator(blank_to_none)
]
Text50 = Annotated[
    Annotated[str, StringConstraints(max_length=50)] | None, BeforeValidator(blank_to_none)
]
Text100 = Annotated[
    Annotated[str, StringConstraints(max_length=100)] | None, BeforeValidator(blank_to_none)
]
Text200 = Annotated[
    Annotated[str, StringConstraints(max_length=200)] | None, BeforeValidator(blank_to_none)
]
Text500 = Annotated[
    Annotated[str, StringConstraints(max_length=500)] | None, BeforeValidator(blank_to_none)
]
Text2000 = Annotated[
    Annotated[str, StringConstraints(max_length=2000)] | None, BeforeValidator(blank_to_none)
]
Text5000 = Annotated[
    Annotated[str, StringConstraints(max_length=5000)] | None, BeforeValidator(blank_to_none)
]

OptionalUrl = Annotated[
    Annotated[
        str,
        StringConstraints(max_length=2048),
        AfterValidator(_url),
        DocumentedPattern(_URL_PATTERN),
    ]
    | None,
    BeforeValidator(blank_to_none),
]
OptionalEmail = Annotated[
    Annotated[
        str,
        StringConstraints(max_length=320),
        AfterValidator(email_address),
        DocumentedPattern(EMAIL_PATTERN),
    ]
    | None,
    BeforeValidator(blank_to_none),
]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$"), AfterValidator(_upper)]
InvoicePrefix = Annotated[str, StringConstraints(max_length=20), AfterValidator(_prefix)]
TimeZone = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(time_zone_name),
    DocumentedPattern(TIME_ZONE_PATTERN),
]
NumberingPattern = Annotated[
    str, StringConstraints(max_length=40), AfterValidator(numbering_pattern)
]
TaxRate = Annotated[Decimal, Field(ge=0, le=100, decimal_places=3, allow_inf_nan=False)]
BRAND_COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"
BrandColor = Annotated[str, StringConstraints(pattern=BRAND_COLOR_PATTERN)]


def _refuse_null(value: object) -> object:
    """For fields that may be left out but not cleared (runs only when given)."""
    if value is None:
        raise PydanticCustomError("not_null", "may be left out, but not null")
    return value


class Patch(Input):
    """A partial update whose fields may all be left out but none set to null."""

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: object) -> object:
        return _refuse_null(value)


# -- profile ------------------------------------------------------------------------------


class ProfileSettings(Output):
    id: UUID
    email: str | None = Field(description="The account's email; read-only here.")
    first_name: str | None
    last_name: str | None
    phone: str | None
    avatar_url: str | None
    updated_at: datetime | None = None


class ProfileUpdate(Input):
    """The email is the account's and cannot be changed here."""

    first_name: Text100 = None
    last_name: Text100 = None
    phone: Text50 = None
    avatar_url: OptionalUrl = None


# -- notifications -------------------------------------------------------------------------


class EmailNotifications(Output):
    """Missing keys read as the table's default (on)."""

    paymentReceived: bool = True
    invoiceOverdue: bool = True
    paymentReminder: bool = True
    newClient: bool = True
    weeklyReport: bool = True
    monthlyReport: bool = True


class PushNotifications(Output):
    paymentReceived: bool = True
    invoiceOverdue: bool = True
    systemUpdates: bool = True


class NotificationSettings(Output):
    email_notifications: EmailNotifications = Field(default_factory=EmailNotifications)
    push_notifications: PushNotifications = Field(default_factory=PushNotifications)
    updated_at: datetime | None = None


class EmailNotificationsUpdate(Patch):
    paymentReceived: StrictBool | None = None
    invoiceOverdue: StrictBool | None = None
    paymentReminder: StrictBool | None = None
    newClient: StrictBool | None = None
    weeklyReport: StrictBool | None = None
    monthlyReport: StrictBool | None = None


class PushNotificationsUpdate(Patch):
    paymentReceived: StrictBool | None = None
    invoiceOverdue: StrictBool | None = None
    systemUpdates: StrictBool | None = None


class NotificationsUpdate(Patch):
    """Flags merge: those present change, the others stay."""

    email_notifications: EmailNotificationsUpdate | None = None
    push_notifications: PushNotificationsUpdate | None = None


# -- business -------------------------------------------------------------------------------


# What a reminder level's subject and message may name (the same list as
# private.reminder_settings_problem in 20261206110500_reminder_levels.sql).
REMINDER_PLACEHOLDERS = (
    "client_name",
    "business_name",
    "invoice_number",
    "amount_due",
    "total",
    "due_date",
    "issue_date",
    "days_overdue",
    "days_until_due",
)
_BRACES = re.compile(r"\{([^{}]*)\}")


def _known_placeholders(value: str) -> str:
    for name in _BRACES.findall(value):
        if name not in REMINDER_PLACEHOLDERS:
            raise PydanticCustomError(
                "placeholder",
                "unknown placeholder {placeholder}; use {known}",
                {
                    "placeholder": "{" + name + "}",
                    "known": " ".join("{" + n + "}" for n in REMINDER_PLACEHOLDERS),
                },
            )
    return value


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise PydanticCustomError("one_line", "must be one line")
    return value


class ReminderLevel(Input):
    """One reminder: its day relative to the due date, its subject and message."""

    days: Annotated[StrictInt, Field(ge=-90, le=365)] = Field(
        description="Days from the due date: negative before, 0 on it, positive after."
    )
    subject: Annotated[
        str,
        StringConstraints(min_length=1, max_length=200),
        AfterValidator(_one_line),
        AfterValidator(_known_placeholders),
    ]
    message: Annotated[
        str, StringConstraints(min_length=1, max_length=5000), AfterValidator(_known_placeholders)
    ] = Field(description="Plain text; placeholders such as {invoice_number} {amount_due}.")


class LateFee(Input):
    """Added once per invoice and listed level, as a line of the invoice."""

    type: Literal["fixed", "percent"]
    amount: Annotated[
        Decimal, Field(gt=0, lt=1_000_000_000, decimal_places=3, allow_inf_nan=False)
    ] = Field(description="fixed: in the invoice's currency; percent: of the balance due.")
    levels: Annotated[list[Literal[1, 2, 3]], Field(min_length=1, max_length=3)] = Field(
        description="The level numbers (1 to 3) that add the fee; each after the due date."
    )

    @field_validator("amount")
    @classmethod
    def _percent_at_most_100(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        if info.data.get("type") == "percent" and value > 100:
            raise PydanticCustomError("percent", "a percent is at most 100")
        return value

    @field_validator("levels")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("distinct", "a level is listed twice")
        return value


class ReminderLevelSettings(Output):
    days: int
    subject: str
    message: str


class LateFeeSettings(Output):
    type: str
    amount: Decimal
    levels: list[int]


class ReminderSettings(Output):
    enabled: bool = True
    levels: list[ReminderLevelSettings] = Field(default_factory=list)
    repeatEveryDays: int | None = None
    lateFee: LateFeeSettings | None = None


class ReminderSettingsUpdate(Input):
    """Merges into the stored reminder settings, key by key (``levels`` as a whole);
    ``repeatEveryDays`` and ``lateFee`` may be null (none)."""

    enabled: StrictBool | None = None
    levels: Annotated[list[ReminderLevel], Field(max_length=3)] | None = Field(
        default=None, description="0 to 3 levels, days strictly increasing."
    )
    repeatEveryDays: Annotated[StrictInt, Field(ge=1, le=365)] | None = Field(
        default=None, description="After the last level, every N days (null: no repeat)."
    )
    lateFee: LateFee | None = None
    daysBeforeDue: Any = Field(
        default=None, deprecated=True, description="Refused: replaced by levels."
    )
    overdueFrequency: Any = Field(
        default=None, deprecated=True, description="Refused: replaced by repeatEveryDays."
    )

    @field_validator("daysBeforeDue", "overdueFrequency")
    @classmethod
    def _replaced(cls, value: object) -> object:
        raise PydanticCustomError(
            "replaced", "replaced by levels and repeatEveryDays (docs/api.md, Reminder levels)"
        )

    @field_validator("enabled", "levels")
    @classmethod
    def _not_null(cls, value: object) -> object:
        return _refuse_null(value)

    @field_validator("levels")
    @classmethod
    def _increasing(cls, value: list[ReminderLevel]) -> list[ReminderLevel]:
        for before, after in itertools.pairwise(value):
            if after.days <= before.days:
                raise PydanticCustomError(
                    "increasing", "each level's days must be after the previous level's"
                )
        return value

    @field_validator("lateFee")
    @classmethod
    def _fee_levels(cls, value: LateFee | None, info: ValidationInfo) -> LateFee | None:
        levels = info.data.get("levels")
        if value is None or levels is None:
            return value  # checked against the stored levels by the database
        for number in value.levels:
            if number > len(levels):
                raise PydanticCustomError(
                    "late_fee_level", "there is no level {number}", {"number": number}
                )
            if levels[number - 1].days <= 0:
                raise PydanticCustomError(
                    "late_fee_level",
                    "level {number} is on or before the due date; a late fee applies after it",
                    {"number": number},
                )
        return value


class NumberingRule(Output):
    pattern: str = Field(description="Literal text with {YYYY} {YY} {MM} and {SEQ} or {SEQ:n}.")
    reset: NumberingReset = Field(description="When the counter starts again at 1.")
    preview: str | None = Field(
        default=None,
        description="The next number for a document issued today (unless taken by then).",
    )


class Numbering(Output):
    invoice: NumberingRule
    quote: NumberingRule
    credit_note: NumberingRule


class NumberingRuleUpdate(Patch):
    """Either or both; the other stays. A pattern that resets yearly shows the year
    ({YYYY} or {YY}), monthly the year and the month ({MM})."""

    pattern: NumberingPattern | None = Field(
        default=None,
        description=(
            "Literal text and the tokens {YYYY} {YY} {MM} (of the issue date) and {SEQ} or"
            " {SEQ:n} (the counter, zero padded to n, 1-12), {SEQ} exactly once; at most 40"
            " characters, e.g. INV-{YYYY}-{SEQ:4}."
        ),
    )
    reset: NumberingReset | None = Field(
        default=None, description="yearly, monthly or never, by the document's issue date."
    )


class NumberingUpdate(Patch):
    invoice: NumberingRuleUpdate | None = None
    quote: NumberingRuleUpdate | None = None
    credit_note: NumberingRuleUpdate | None = None


class BusinessSettings(Output):
    organization_id: UUID
    business_name: str | None
    business_email: str | None
    business_phone: str | None
    business_address: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    country: str | None
    tax_id: str | None
    website: str | None
    company_logo_url: str | None
    default_currency: str
    default_template: str
    default_payment_terms: str
    default_tax_rate: Decimal
    tax_label: str
    invoice_prefix: str
    invoice_number_padding: int
    next_invoice_number: int
    invoice_footer: str | None
    default_notes: str | None
    default_terms: str | None
    default_payment_instructions: str | None
    reminder_settings: ReminderSettings = Field(default_factory=ReminderSettings)
    time_zone: str = Field(description="IANA name: the business's dates (today, issue dates).")
    overpayment: Overpayment = Field(
        description="A payment above the balance: refused, or kept as client credit."
    )
    numbering: Numbering
    require_mfa: bool = Field(
        default=False,
        description="Members need an aal2 session (TOTP verified) for the organization's data.",
    )
    brand_color: str = Field(default="#1f4e79", description="#RRGGBB of the client page.")
    client_link_days: int = Field(default=90, description="Days a client page link lives.")
    country_code: str | None = Field(default=None, description="ISO 3166-1 alpha-2.")
    address_line2: str | None = None
    legal_registration_id: str | None = Field(
        default=None, description="BT-30: the company's registration (SIREN, HRB...)."
    )
    tax_id_hash: str | None = Field(
        default=None, description="Keyed hash of the VAT id (tax_id), for lookups."
    )
    tax_registration_id: str | None = Field(
        default=None, description="BT-32: a national tax number (e.g. a Steuernummer)."
    )
    payment_means_code: str | None = Field(
        default=None, description="UNCL4461; invoices use 58 (SEPA) when an IBAN is set."
    )
    iban: str | None = Field(default=None, description="The account invoices are paid to.")
    bic: str | None = None
    payment_account_name: str | None = None
    einvoice_format: EinvoiceFormat | None = None
    electronic_address: str | None = None
    electronic_address_scheme: str | None = None
    updated_at: datetime | None = None

    @computed_field(description="The number the next invoice will get (unless taken).")
    def next_invoice_number_preview(self) -> str:
        if self.numbering.invoice.preview is not None:
            return self.numbering.invoice.preview
        return self.invoice_prefix + str(self.next_invoice_number).zfill(
            self.invoice_number_padding
        )


class BusinessUpdate(Input):
    business_name: Text200 = None
    business_email: OptionalEmail = None
    business_phone: Text50 = None
    business_address: Text500 = None
    city: Text100 = None
    state: Text100 = None
    zip_code: Text20 = None
    country: Text100 = None
    country_code: CountryCode = Field(default=None, description="ISO 3166-1 alpha-2, e.g. DE.")
    address_line2: Text200 = None
    tax_id: VatId = Field(
        default=None,
        description=(
            "The VAT id (BT-31), checked with python-stdnum (EU prefix, else country_code's"
            " rules, else shape); stored sealed."
        ),
    )
    tax_registration_id: RegistrationId = Field(
        default=None, description="BT-32, a national tax number; stored sealed."
    )
    legal_registration_id: RegistrationId = Field(default=None, description="BT-30.")
    payment_means_code: PaymentMeansCode = Field(
        default=None, description="UNCL4461 (58 SEPA credit transfer, 30 credit transfer...)."
    )
    iban: Iban = Field(default=None, description="Checked with python-stdnum; stored sealed.")
    bic: Bic = Field(default=None, description="Checked with python-stdnum.")
    payment_account_name: Text100 = None
    einvoice_format: EinvoiceFormat | None = Field(
        default=None, description="The e-invoice sent with invoices (a client may override)."
    )
    # The scheme first: the address is checked against it (a GLN under 0088 ...).
    electronic_address_scheme: ElectronicAddressScheme = None
    electronic_address: ElectronicAddress = Field(
        default=None, description="BT-34, with electronic_address_scheme (EAS code)."
    )
    brand_color: BrandColor | None = Field(
        default=None, description="#RRGGBB, the client page's color."
    )
    client_link_days: Annotated[StrictInt, Field(ge=1, le=730)] | None = Field(
        default=None, description="Days a client page link lives (1-730)."
    )
    website: OptionalUrl = None
    company_logo_url: OptionalUrl = None
    default_currency: CurrencyCode | None = Field(
        default=None, description="ISO 4217 code of new clients' currency, e.g. EUR."
    )
    default_template: Template | None = None
    default_payment_terms: PaymentTerms | None = None
    default_tax_rate: TaxRate | None = Field(
        default=None, description="Percent, 0 to 100, at most 3 decimals."
    )
    tax_label: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    invoice_prefix: InvoicePrefix | None = Field(
        default=None,
        description=(
            "At most 20 of A-Z a-z 0-9 . _ / # - (may be empty): replaces the invoice"
            " pattern's text before its first token."
        ),
    )
    invoice_number_padding: Annotated[StrictInt, Field(ge=1, le=12)] | None = Field(
        default=None, description="Sets n of the invoice pattern's {SEQ:n}."
    )
    next_invoice_number: Annotated[StrictInt, Field(ge=1, le=999_999_999_999)] | None = Field(
        default=None,
        description=(
            "The counter of invoice numbers that never reset. Can only go up: numbers below"
            " it may be on invoices."
        ),
    )
    invoice_footer: Text2000 = None
    default_notes: Text5000 = None
    default_terms: Text5000 = None
    default_payment_instructions: Text5000 = None
    reminder_settings: ReminderSettingsUpdate | None = None
    time_zone: TimeZone | None = Field(
        default=None,
        description="IANA name (Europe/Paris); abbreviations and offsets are refused.",
    )
    overpayment: Overpayment | None = Field(
        default=None,
        description="refuse (default): a payment above the balance is refused; credit: the"
        " excess becomes client credit.",
    )
    numbering: NumberingUpdate | None = Field(
        default=None, description="Per document type: its pattern and counter reset."
    )
    require_mfa: StrictBool | None = Field(
        default=None,
        description=(
            "Owners only: every member then needs an aal2 session (403 mfa_required "
            "otherwise). Turning it on needs your own token at aal2."
        ),
    )

    @field_validator("numbering")
    @classmethod
    def _one_way_to_the_invoice_pattern(
        cls, value: NumberingUpdate | None, info: ValidationInfo
    ) -> NumberingUpdate | None:
        """The invoice pattern, or the old prefix and padding that rewrite it: not both
        (the fields before this one are validated already; given means not None)."""
        given = [
            f for f in ("invoice_prefix", "invoice_number_padding") if info.data.get(f) is not None
        ]
        invoice = value.invoice if value else None
        if invoice is not None and invoice.pattern is not None and given:
            raise PydanticCustomError(
                "numbering_conflict",
                "invoice.pattern cannot change together with {fields}: give the pattern alone",
                {"fields": " and ".join(given)},
            )
        return value

    @field_validator(
        "default_currency",
        "default_template",
        "default_payment_terms",
        "default_tax_rate",
        "tax_label",
        "invoice_prefix",
        "invoice_number_padding",
        "next_invoice_number",
        "reminder_settings",
        "time_zone",
        "overpayment",
        "numbering",
        "require_mfa",
        "brand_color",
        "client_link_days",
    )
    @classmethod
    def _required_columns(cls, value: object) -> object:
        return _refuse_null(value)

    @model_validator(mode="after")
    def _address_with_scheme(self) -> BusinessUpdate:
        electronic_address_pair(
            self.electronic_address, self.electronic_address_scheme, self.model_fields_set
        )
        return self


# -- all three ------------------------------------------------------------------------------


class AllSettings(Output):
    profile: ProfileSettings
    business: BusinessSettings
    notifications: NotificationSettings


class SettingsUpdate(Patch):
    """Any of the three sections; applied in one transaction (all or nothing)."""

    profile: ProfileUpdate | None = None
    business: BusinessUpdate | None = None
    notifications: NotificationsUpdate | None = None


def section_json(section: Input | None) -> dict[str, Any] | None:
    """A section's fields that were given (nested sections too), JSON-ready."""
    return None if section is None else section.to_json(exclude_unset=True)
