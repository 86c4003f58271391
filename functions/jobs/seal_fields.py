"""On-demand job (``jobsSealFields``; docs/security.md): seals the sensitive values written in
clear before they were sealed at rest, and re-wraps sealed ones under a new KMS key.

``{}``: each clear value of `CLEAR_FIELDS` (vendors' tax ids and IBANs, the debtor IBAN of
payables settings, organizations' VAT ids and default payment instructions, invoices' and
recurring profiles' payment instructions) gets its seal
(and keyed hash where it has one) and loses the clear value, ``CHUNK`` rows a read (keyset
by the row's key), each row's update guarded on the row being unchanged (its clear value,
or ``updated_at`` for the long payment instructions): a concurrent write through the API
wins. ``{"rewrap_to": "<key id, ARN or alias>"}``: every seal of `SEALED_COLUMNS` not under
that key has its data key re-wrapped by KMS ``ReEncrypt`` (ciphertext unchanged). Both
resume where a run stopped (an unfinished run says so); a second run finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from postgrest.types import ReturnMethod

from shared import db, envelope, parties
from shared.jobs import TIME_RESERVE_MS, Job
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


def _seal_field(job: Job, field: ClearField) -> tuple[int, bool]:
    """Seals one field's clear values: (how many, finished)."""
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
            columns = field.columns(str(row["organization_id"]), row[field.column])
            # Guarded: a concurrent write through the API wins.
            db.run(
                job.client.from_(field.table)
                .update(columns, returning=ReturnMethod.minimal)
                .eq(field.key, row[field.key])
                .eq(guard, row[guard])
            )
            sealed += 1
        if len(rows) < CHUNK:
            return sealed, True
        after = rows[-1][field.key]
    return sealed, False


def _seal(job: Job) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for field in CLEAR_FIELDS:
        count, finished = _seal_field(job, field)
        counts[field.name] = count
        if not finished:
            return {"sealed": sum(counts.values()), "fields": counts, "unfinished": True}
    return {"sealed": sum(counts.values()), "fields": counts}


def _rewrap_column(job: Job, table: str, key: str, column: str, new_key: str) -> tuple[int, bool]:
    moved, after = 0, _FIRST
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
            rewrapped = envelope.rewrap_if_needed(row[column], new_key)
            if rewrapped is not None:
                db.run(
                    job.client.from_(table)
                    .update({column: rewrapped}, returning=ReturnMethod.minimal)
                    .eq(key, row[key])
                )
                moved += 1
        if len(rows) < CHUNK:
            return moved, True
        after = rows[-1][key]
    return moved, False


def _rewrap(job: Job, new_key: str) -> dict[str, Any]:
    moved = 0
    for table, key, column in SEALED_COLUMNS:
        count, finished = _rewrap_column(job, table, key, column, new_key)
        moved += count
        if not finished:
            return {"rewrapped": moved, "unfinished": True}
    return {"rewrapped": moved}


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("seal_fields", context)
    new_key = (event or {}).get("rewrap_to") if isinstance(event, dict) else None
    if new_key:
        return job.finish(_rewrap(job, str(new_key)))
    # Stripe secrets in stripe_keys' first format, sealed again (migration 20261206170100)
    from shared import stripe_keys  # noqa: PLC0415

    return job.finish({**_seal(job), **stripe_keys.reseal_accounts(job)})
