"""Bank accounts of payables at rest (docs/security.md, "Sensitive fields"): a vendor's IBAN
and the organization's debtor IBAN sealed with the KMS envelope (shared/envelope.py), the
vendor's also hashed (``vendors.iban_hash``: a vendor found by IBAN without its clear
value). The BIC names a bank, not an account: it stays clear.

Contexts: ``vendors.iban:<org id>`` and ``payables_settings.debtor_iban:<org id>``. Rows
written before migration 20261206170200 keep their clear column until
functions/jobs/seal_fields.py seals it; both forms read the same (`vendor_iban`,
`debtor_iban`).

The envelope (boto3, cryptography) is imported only when an IBAN is sealed or opened."""

from __future__ import annotations

from typing import Any
from uuid import UUID

VENDOR_IBAN_PURPOSE = "vendors.iban"


def vendor_context(organization_id: UUID | str) -> str:
    return f"vendors.iban:{organization_id}"


def debtor_context(organization_id: UUID | str) -> str:
    return f"payables_settings.debtor_iban:{organization_id}"


def _seal(value: str, context: str) -> dict[str, Any] | None:
    from shared import envelope  # noqa: PLC0415

    return envelope.seal_json(value, context=context)


def _open(sealed: Any, context: str) -> str | None:
    from shared import envelope  # noqa: PLC0415

    return envelope.open_json(sealed, context=context)


def iban_hash(iban: str) -> str:
    """The keyed hash of a (compact, upper case) IBAN: ``vendors.iban_hash``."""
    from shared import envelope  # noqa: PLC0415

    return envelope.keyed_hash("".join(iban.split()).upper(), purpose=VENDOR_IBAN_PURPOSE)


def vendor_columns(organization_id: UUID | str, iban: str | None) -> dict[str, Any]:
    """A vendor's IBAN columns: sealed and hashed, never the clear value (None clears)."""
    if iban is None:
        return {"iban": None, "iban_sealed": None, "iban_hash": None}
    return {
        "iban": None,
        "iban_sealed": _seal(iban, vendor_context(organization_id)),
        "iban_hash": iban_hash(iban),
    }


def debtor_columns(organization_id: UUID | str, iban: str | None) -> dict[str, Any]:
    """The debtor account's IBAN columns: sealed, never the clear value (None clears)."""
    if iban is None:
        return {"debtor_iban": None, "debtor_iban_sealed": None}
    return {"debtor_iban": None, "debtor_iban_sealed": _seal(iban, debtor_context(organization_id))}


def vendor_iban(organization_id: UUID | str, row: dict[str, Any]) -> str | None:
    """A vendor row's IBAN (``iban_sealed`` opened, else a clear ``iban`` not sealed yet)."""
    sealed = row.get("iban_sealed")
    if sealed is not None:
        return _open(sealed, vendor_context(organization_id))
    value = row.get("iban")
    return value if isinstance(value, str) else None


def debtor_iban(organization_id: UUID | str, row: dict[str, Any]) -> str | None:
    """A payables settings row's debtor IBAN (its seal opened, else the clear column)."""
    sealed = row.get("debtor_iban_sealed")
    if sealed is not None:
        return _open(sealed, debtor_context(organization_id))
    value = row.get("debtor_iban")
    return value if isinstance(value, str) else None


def opened_vendor(organization_id: UUID | str, row: dict[str, Any]) -> dict[str, Any]:
    """A vendor row with ``iban`` opened and the seal and hash left out."""
    out = {k: v for k, v in row.items() if k not in ("iban_sealed", "iban_hash")}
    out["iban"] = vendor_iban(organization_id, row)
    return out


def opened_settings(organization_id: UUID | str, row: dict[str, Any]) -> dict[str, Any]:
    """A payables settings row with ``debtor_iban`` opened and the seal left out."""
    out = {k: v for k, v in row.items() if k != "debtor_iban_sealed"}
    out["debtor_iban"] = debtor_iban(organization_id, row)
    return out


def open_batch(organization_id: UUID | str, batch: Any) -> Any:
    """A payment batch's JSON (private.payment_batch_json, with ``debtor`` for the bank
    files) with the vendors' and the debtor's IBANs opened and their seals left out; any
    other answer as it is."""
    if not isinstance(batch, dict):
        return batch
    for item in batch.get("items") or []:
        if isinstance(item, dict) and "vendor_iban_sealed" in item:
            sealed = item.pop("vendor_iban_sealed")
            if sealed is not None:
                item["vendor_iban"] = _open(sealed, vendor_context(organization_id))
    debtor = batch.get("debtor")
    if isinstance(debtor, dict) and "iban_sealed" in debtor:
        sealed = debtor.pop("iban_sealed")
        if sealed is not None:
            debtor["iban"] = _open(sealed, debtor_context(organization_id))
    return batch
