"""On-demand job (``jobsSealFields``; docs/security.md): seals the sensitive values written in
clear before they were sealed at rest, and re-wraps sealed ones under a new KMS key.

``{}``: each clear value of `CLEAR_FIELDS` (vendors' tax ids and IBANs, the debtor IBAN of
payables settings, organizations' VAT ids and default payment instructions, invoices' and
recurring profiles' payment instructions) gets its seal
(and keyed hash where it has one) and loses the clear value, ``CHUNK`` rows a read (keyset
by the row's key), each row's update guarded on the row being unchanged (its clear value,
or ``updated_at`` for the long payment instructions): a concurrent write through the API
wins; then the Stripe secrets still in shared/stripe_keys.py's first format are sealed
again in the envelope's form. ``{"rewrap_to": "<key id, ARN or alias>"}``: every seal of
`SEALED_COLUMNS` not under that key has its data key re-wrapped by KMS ``ReEncrypt``
(ciphertext unchanged), each update guarded on the value read.
``{"rewrap_payment_keys_to": "<key>"}``: the Stripe secrets (their own KMS key, their own
contexts) likewise, an account's three values written together, first-format ones sealed
anew under the key (`shared.stripe_keys.rewrap_accounts`); both targets may be given.

Every mode resumes where a run stopped (an unfinished run says so) and a second run finds
nothing to do. KMS away or busy stops the run (``"stopped": "key_service_unavailable"``)
before anything of the row at hand is written; a value KMS refuses is left as it is,
counted (``rewrap_failed``, ``stripe_accounts_failed``) and logged without its value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from postgrest.types import CountMethod, ReturnMethod

from shared import db, envelope, parties
from shared.jobs import TIME_RESERVE_MS, Job, JobInputError
from shared.payables import bank_accounts
from shared.reconciliation import vendor_tax_ids

CHUNK = 200
_FIRST = "00000000-0000-0000-0000-000000000000"


def _org_tax_id(organization_id: str, value: str) -> dict[str, Any]:
    return {
        "tax_id": None,
        "tax_id_sealed": parties.seal(value, parties.tax_id_context(organization_id)),
        "tax_id_hash": parties.tax_id_hash(value),
    }


def _org_instructions(organization_id: str, value: str) -> dict[str, Any]:
    return {
        "default_payment_instructions": None,
        "default_payment_instructions_sealed": parties.seal(
            value, parties.payment_instructions_context(organization_id)
        ),
    }


def _document_instructions(organization_id: str, value: str) -> dict[str, Any]:
    """A document's (invoice's, recurring profile's) clear instructions, sealed in the
    settings' context (migration 20261206171200)."""
    return {
        "payment_instructions": None,
        "payment_instructions_sealed": parties.seal(
            value, parties.payment_instructions_context(organization_id)
        ),
    }


@dataclass(frozen=True)
class ClearField:
    """A column still holding clear values: its table, the row's key, and the columns
    that replace a value (sealed, hashed, the clear one emptied)."""

    name: str
    table: str
    key: str
    column: str
    columns: Callable[[str, str], dict[str, Any]]
    guard: str | None = None  # another column to guard on (None: the clear value)


CLEAR_FIELDS = (
    ClearField(
        "vendors.tax_id",
        "vendors",
        "id",
        "tax_id",
        vendor_tax_ids.columns,
    ),
    ClearField("vendors.iban", "vendors", "id", "iban", bank_accounts.vendor_columns),
    ClearField(
        "payables_settings.debtor_iban",
        "payables_settings",
        "organization_id",
        "debtor_iban",
        bank_accounts.debtor_columns,
    ),
    ClearField(
        "organization_settings.tax_id",
        "organization_settings",
        "organization_id",
        "tax_id",
        _org_tax_id,
    ),
    ClearField(
        "organization_settings.default_payment_instructions",
        "organization_settings",
        "organization_id",
        "default_payment_instructions",
        _org_instructions,
        guard="updated_at",
    ),
    ClearField(
        "invoices.payment_instructions",
        "invoices",
        "id",
        "payment_instructions",
        _document_instructions,
        guard="updated_at",
    ),
    ClearField(
        "recurring_profiles.payment_instructions",
        "recurring_profiles",
        "id",
        "payment_instructions",
        _document_instructions,
        guard="updated_at",
    ),
)

# Every sealed column: (table, the row's key, column).
SEALED_COLUMNS = (
    ("vendors", "id", "tax_id_sealed"),
    ("vendors", "id", "iban_sealed"),
    ("payables_settings", "organization_id", "debtor_iban_sealed"),
    ("organization_settings", "organization_id", "tax_id_sealed"),
    ("organization_settings", "organization_id", "tax_registration_id_sealed"),
    ("organization_settings", "organization_id", "iban_sealed"),
    ("organization_settings", "organization_id", "default_payment_instructions_sealed"),
    ("clients", "id", "vat_id_sealed"),
    ("invoices", "id", "payment_instructions_sealed"),
    ("quotes", "id", "payment_instructions_sealed"),
    ("credit_notes", "id", "payment_instructions_sealed"),
    ("recurring_profiles", "id", "payment_instructions_sealed"),
)


# Why a step stopped before the end (None: it finished).
TIME = "time"
KMS_AWAY = "key_service_unavailable"


def _seal_field(job: Job, field: ClearField) -> tuple[int, str | None]:
    """Seals one field's clear values: (how many, why it stopped early)."""
    sealed, after = 0, _FIRST
    guard = field.guard or field.column
    wanted = ",".join(dict.fromkeys((field.key, "organization_id", field.column, guard)))
    while job.time_left_ms() > TIME_RESERVE_MS:
        rows = db.run(
            job.client.from_(field.table)
            .select(wanted)
            .not_.is_(field.column, "null")
            .gt(field.key, after)
            .order(field.key)
            .limit(CHUNK)
        ).data
        for row in rows:
            try:
                columns = field.columns(str(row["organization_id"]), row[field.column])
            except envelope.KeyServiceUnavailable:  # nothing of this row written
                return sealed, KMS_AWAY
            # Guarded: a concurrent write through the API wins.
            db.run(
                job.client.from_(field.table)
                .update(columns, returning=ReturnMethod.minimal)
                .eq(field.key, row[field.key])
                .eq(guard, row[guard])
            )
            sealed += 1
        if len(rows) < CHUNK:
            return sealed, None
        after = rows[-1][field.key]
    return sealed, TIME


def _stopped(summary: dict[str, Any], why: str) -> dict[str, Any]:
    summary["unfinished"] = True
    if why == KMS_AWAY:
        summary["stopped"] = KMS_AWAY
    return summary


def _seal(job: Job) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for field in CLEAR_FIELDS:
        count, why = _seal_field(job, field)
        counts[field.name] = count
        if why is not None:
            return _stopped({"sealed": sum(counts.values()), "fields": counts}, why)
    return {"sealed": sum(counts.values()), "fields": counts}


@dataclass
class _Rewrap:
    """A re-wrap run's counts: moved, and refused (left as they are, logged)."""

    moved: int = 0
    failed: int = 0


def _rewrap_column(
    job: Job, where: tuple[str, str, str], new_key: str, counts: _Rewrap
) -> str | None:
    """Re-wraps the values of one sealed column (``where``: table, the row's key, column)
    not under ``new_key``; why it stopped early (None: finished). Each update is guarded
    on the value read: a concurrent write through the API wins (it is sealed under the
    current key already)."""
    table, key, column = where
    after = _FIRST
    while job.time_left_ms() > TIME_RESERVE_MS:
        rows = db.run(
            job.client.from_(table)
            .select(f"{key},{column}")
            .not_.is_(column, "null")
            .gt(key, after)
            .order(key)
            .limit(CHUNK)
        ).data
        for row in rows:
            try:
                rewrapped = envelope.rewrap_if_needed(row[column], new_key)
            except envelope.KeyServiceUnavailable:
                return KMS_AWAY
            except envelope.EnvelopeError as error:  # a damaged seal, a key KMS refuses
                job.warning(
                    "a sealed value could not be re-wrapped",
                    table=table,
                    column=column,
                    row=str(row[key]),
                    error=str(error),
                )
                counts.failed += 1
                continue
            if rewrapped is not None:
                written = db.run(
                    job.client.from_(table)
                    .update(
                        {column: rewrapped}, count=CountMethod.exact, returning=ReturnMethod.minimal
                    )
                    .eq(key, row[key])
                    .eq(column, json.dumps(row[column]))
                )
                counts.moved += written.count or 0
        if len(rows) < CHUNK:
            return None
        after = rows[-1][key]
    return TIME


def _target(new_key: str, name: str) -> str | None:
    """Checks the target key before the walk: None when KMS is away (the run stops);
    a key KMS refuses is a bad request."""
    try:
        envelope.key_arn(new_key)
    except envelope.KeyServiceUnavailable:
        return KMS_AWAY
    except envelope.EnvelopeError as error:
        raise JobInputError(f"{name}: {error}") from None
    return None


def _rewrap(job: Job, new_key: str) -> dict[str, Any]:
    counts = _Rewrap()
    why = _target(new_key, "rewrap_to")
    for where in SEALED_COLUMNS if why is None else ():
        why = _rewrap_column(job, where, new_key, counts)
        if why is not None:
            break
    summary = {"rewrapped": counts.moved, "rewrap_failed": counts.failed}
    return summary if why is None else _stopped(summary, why)


def _rewrap_payment_keys(job: Job, new_key: str) -> dict[str, Any]:
    from shared import stripe_keys  # noqa: PLC0415

    why = _target(new_key, "rewrap_payment_keys_to")
    if why is not None:
        return _stopped({"stripe_accounts_rewrapped": 0, "stripe_accounts_failed": 0}, why)
    return stripe_keys.rewrap_accounts(job, new_key)


def _key_of(event: dict[str, Any], name: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 2048:
        raise JobInputError(f"{name} must be a KMS key id, ARN or alias")
    return value.strip()


def parse(event: Any) -> tuple[str | None, str | None]:
    """The event's targets: (``rewrap_to``, ``rewrap_payment_keys_to``); both None for a
    sealing run. An EventBridge event or ``{}`` seals."""
    if event is None or event == "":
        return None, None
    if not isinstance(event, dict):
        raise JobInputError("the event must be a JSON object")
    return _key_of(event, "rewrap_to"), _key_of(event, "rewrap_payment_keys_to")


def handler(event: Any, context: Any) -> dict[str, Any]:
    fields_key, payment_key = parse(event)
    job = Job.start("seal_fields", context)
    if fields_key or payment_key:
        summary: dict[str, Any] = {}
        if fields_key:
            summary |= _rewrap(job, fields_key)
        if payment_key and "unfinished" not in summary:
            summary |= _rewrap_payment_keys(job, payment_key)
        return job.finish(summary)
    summary = _seal(job)
    if "unfinished" not in summary:
        # Stripe secrets in stripe_keys' first format, sealed again (migration 20261206170100)
        from shared import stripe_keys  # noqa: PLC0415

        summary |= stripe_keys.reseal_accounts(job)
    return job.finish(summary)
