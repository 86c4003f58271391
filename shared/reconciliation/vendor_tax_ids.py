"""Vendors' tax ids at rest (docs/security.md, "Sensitive fields"): sealed with the KMS
envelope (shared/envelope.py, bound to the field and the organization) and matched by a
keyed hash of the normalized value; the clear value only in the API's answers to the
organization's members. Rows written before the data protection migration keep their clear
``tax_id`` until functions/jobs/seal_fields.py seals them; both forms read the same.

The envelope (boto3, cryptography) is imported only when a tax id is written or read."""

from __future__ import annotations

import re
from typing import Any

from shared import db
from shared.reconciliation.ingest.documents import Parsed

PURPOSE = "vendors.tax_id"
_SEPARATORS = re.compile(r"[\s.\-/]+")


def normalize(tax_id: str) -> str:
    """What is hashed: ``DE 123.456-789`` and ``de123456789`` are the same tax id."""
    return _SEPARATORS.sub("", tax_id).upper()


def context(organization_id: str) -> str:
    return f"{PURPOSE}:{organization_id}"


def lookup_hash(tax_id: str) -> str:
    from shared import envelope  # noqa: PLC0415 (only requests with a tax id pay for it)

    return envelope.keyed_hash(normalize(tax_id), purpose=PURPOSE)


def columns(organization_id: str, tax_id: str | None) -> dict[str, Any]:
    """The vendor's columns for ``tax_id``: sealed and hashed, never the clear value."""
    if tax_id is None:
        return {"tax_id": None, "tax_id_sealed": None, "tax_id_hash": None}
    from shared import envelope  # noqa: PLC0415

    return {
        "tax_id": None,
        "tax_id_sealed": envelope.seal_json(tax_id, context=context(organization_id)),
        "tax_id_hash": lookup_hash(tax_id),
    }


def clear(organization_id: str, row: dict[str, Any]) -> str | None:
    """The tax id of a vendor row (its seal opened, or a clear value not sealed yet)."""
    sealed = row.get("tax_id_sealed")
    if sealed is None:
        value = row.get("tax_id")
        return value if isinstance(value, str) else None
    from shared import envelope  # noqa: PLC0415

    return envelope.open_json(sealed, context=context(organization_id))


def fill(ctx: Any, vendor: dict[str, Any]) -> dict[str, Any]:
    """``vendor`` (an answer of reconciliation_vendor, which has no clear value for a sealed
    tax id) with its seal opened; a vendor without a seal is answered as the SQL gave it."""
    organization_id = str(ctx.organization_id)
    rows = db.run(
        ctx.db.from_("vendors")
        .select("tax_id_sealed,iban_sealed")
        .eq("id", str(vendor["id"]))
        .eq("organization_id", organization_id)
        .or_("tax_id_sealed.not.is.null,iban_sealed.not.is.null")
    ).data
    if rows:
        if rows[0]["tax_id_sealed"] is not None:
            vendor["tax_id"] = clear(organization_id, rows[0])
        _open_iban(organization_id, vendor, rows[0])
    return _without_seals(vendor)


def fill_page(ctx: Any, vendors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of vendor rows with their sealed tax ids opened (one select for the page;
    the cached data keys make it one KMS call, usually none)."""
    organization_id = str(ctx.organization_id)
    ids = [str(v["id"]) for v in vendors]
    if not ids:
        return vendors
    rows = db.run(
        ctx.db.from_("vendors")
        .select("id,tax_id_sealed,iban_sealed")
        .in_("id", ids)
        .eq("organization_id", organization_id)
        .or_("tax_id_sealed.not.is.null,iban_sealed.not.is.null")
    ).data
    sealed = {str(r["id"]): r for r in rows}
    for vendor in vendors:
        row = sealed.get(str(vendor["id"]))
        if row is not None:
            if row["tax_id_sealed"] is not None:
                vendor["tax_id"] = clear(organization_id, row)
            _open_iban(organization_id, vendor, row)
        _without_seals(vendor)
    return vendors


def _open_iban(organization_id: str, vendor: dict[str, Any], row: dict[str, Any]) -> None:
    """The vendor's IBAN sealed at rest (migration 20261206170200), opened for the answer."""
    if row.get("iban_sealed") is not None:
        from shared.payables.bank_accounts import vendor_iban  # noqa: PLC0415

        vendor["iban"] = vendor_iban(organization_id, row)


def _without_seals(vendor: dict[str, Any]) -> dict[str, Any]:
    vendor.pop("iban_sealed", None)
    vendor.pop("iban_hash", None)
    return vendor


def seal_vendor_tax_ids(parsed: Parsed, organization_id: str) -> Parsed:
    """The documents' clear ``vendor_tax_id`` replaced by ``vendor_tax_id_hash`` (what the
    vendors are matched by) and ``vendor_tax_id_sealed`` (a vendor the import creates gets
    it), so that the clear value never reaches the database. Idempotent."""
    for document in parsed.documents:
        clear = document.pop("vendor_tax_id", None)
        if not clear or document.get("vendor_tax_id_sealed"):
            continue
        sealed = columns(str(organization_id), clear)
        document["vendor_tax_id_hash"] = sealed["tax_id_hash"]
        document["vendor_tax_id_sealed"] = sealed["tax_id_sealed"]
    return parsed
