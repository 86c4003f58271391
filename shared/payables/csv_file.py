"""A payment batch as CSV: one row per invoice, every currency (the file a bank portal or
an accountant imports where SEPA does not apply). Amounts as decimal strings: ``amount``
is what is paid (the invoice's total less the vendor credit applied), ``invoice_amount``
and ``credited`` beside it, ``credit_notes`` the credit notes' numbers and amounts."""

from __future__ import annotations

import csv
import io
from typing import Any

COLUMNS = (
    "batch_id",
    "execution_date",
    "vendor_invoice_id",
    "invoice_number",
    "invoice_date",
    "due_date",
    "vendor_name",
    "vendor_iban",
    "vendor_bic",
    "currency",
    "amount",
    "status",
    "invoice_amount",
    "credited",
    "credit_notes",
)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet must not run a cell as a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def batch_csv(batch: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for item in batch["items"]:
        notes = " ".join(
            f"{n['credit_note_number']}:{n['amount']}" for n in item.get("credit_notes") or []
        )
        row = {
            **item,
            "batch_id": batch["id"],
            "execution_date": batch["execution_date"],
            "invoice_amount": item.get("invoice_amount", item["amount"]),
            "credited": item.get("credited", "0"),
            "credit_notes": notes,
        }
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
    return out.getvalue().encode("utf-8")
