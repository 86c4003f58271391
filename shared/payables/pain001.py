"""ISO 20022 pain.001.001.03 (Customer Credit Transfer Initiation) for SEPA credit
transfers: one payment information block (the debtor's account, the requested execution
date, service level SEPA, charges SLEV) with one transaction per invoice, of its net
amount: the invoice's total less the vendor credit applied to it (migration
20261206171500_vendor_credit_notes.sql), the credit notes named in the remittance
information. An invoice wholly settled by credit (net 0.00) is no transfer: it is left out
of the file (and paid with the batch); a batch of only such invoices has no file (422).

SEPA is EUR only: a batch holding any other currency is refused (422, naming each invoice
and its currency); its CSV carries every currency. Texts are reduced to the SEPA
character set (Latin letters, digits and / - ? : ( ) . , ' + space; accents dropped,
anything else a space) and cut to the schema's lengths. The document is validated against
the official XSD in tests/unit/payables (the one the `sepaxml` package ships)."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET

from shared.errors import ApiError
from shared.payables.accounts import bic_problem, iban_problem

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
MAX_AMOUNT = Decimal("999999999.99")
_NOT_SEPA = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


def sepa_text(value: str, limit: int) -> str:
    """``value`` in the SEPA character set, at most ``limit`` characters, never blank."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    text = re.sub(r"\s+", " ", _NOT_SEPA.sub(" ", ascii_text)).strip()
    return (text or "NOTPROVIDED")[:limit].strip()


def _ident(value: str) -> str:
    """An identifier (MsgId, EndToEndId): at most 35 characters, no blanks."""
    return sepa_text(value, 35).replace(" ", "")[:35] or "NOTPROVIDED"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def settled_by_credit(item: dict[str, Any]) -> bool:
    """An invoice whose vendor credit covers it whole: nothing to transfer."""
    return Decimal(item["amount"]) == 0 and Decimal(item.get("credited") or 0) > 0


def transfers(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's items that are transfers (not settled by credit alone)."""
    return [i for i in batch["items"] if not settled_by_credit(i)]


def remittance(item: dict[str, Any]) -> str:
    """``Invoice INV-1`` and, credit applied, ``less credit note CN-7 100.00, ...``."""
    text = f"Invoice {item['invoice_number']}"
    notes = item.get("credit_notes") or []
    if notes:
        text += " less credit note " + ", ".join(
            f"{n['credit_note_number']} {Decimal(n['amount']):.2f}" for n in notes
        )
    return text


def check_batch(batch: dict[str, Any]) -> None:
    """422 unless the batch can be a SEPA file: EUR only, the debtor's and every
    vendor's IBAN valid (python-stdnum), BICs valid where given, amounts in range."""
    if not batch["items"]:
        # Its invoices went back for approval (a draft batch loses them): nothing to pay.
        raise ApiError(422, "rule_violation", "the payment batch holds no invoice")
    if not transfers(batch):
        raise ApiError(
            422,
            "rule_violation",
            "every invoice of the batch is settled by vendor credit notes: there is nothing "
            "to transfer (mark the batch paid; its CSV lists the invoices)",
        )
    others = [
        {"vendor_invoice_id": i["vendor_invoice_id"], "currency": i["currency"]}
        for i in batch["items"]
        if i["currency"] != "EUR"
    ]
    if others:
        raise ApiError(
            422,
            "rule_violation",
            "pain.001 (SEPA credit transfer) carries EUR only; this batch holds "
            + ", ".join(sorted({o["currency"] for o in others}))
            + ": export it as CSV, or batch the EUR invoices on their own",
            details={"field": "currency", "invoices": others},
        )
    debtor = batch.get("debtor") or {}
    problems: list[dict[str, Any]] = []
    for field, problem in (
        ("debtor_iban", iban_problem(debtor.get("iban"))),
        ("debtor_bic", bic_problem(debtor.get("bic"))),
    ):
        if problem:
            problems.append({"field": field, "message": f"the organization's {problem}"})
    for item in transfers(batch):
        for field, problem in (
            ("vendor_iban", iban_problem(item.get("vendor_iban"))),
            ("vendor_bic", bic_problem(item.get("vendor_bic"))),
        ):
            if problem:
                problems.append(
                    {
                        "field": field,
                        "vendor_id": item.get("vendor_id"),
                        "vendor_invoice_id": item["vendor_invoice_id"],
                        "message": f"{item['vendor_name']}: {problem}",
                    }
                )
        amount = Decimal(item["amount"])
        if not Decimal("0.01") <= amount <= MAX_AMOUNT:
            problems.append(
                {
                    "field": "amount",
                    "vendor_invoice_id": item["vendor_invoice_id"],
                    "message": "a SEPA amount is 0.01 to 999999999.99",
                }
            )
    if problems:
        raise ApiError(
            422,
            "validation_failed",
            "the batch cannot be a SEPA file: " + "; ".join(p["message"] for p in problems),
            details=problems,
        )


def pain001(batch: dict[str, Any], created_at: datetime) -> bytes:
    """The batch (public.payment_batch's JSON) as a pain.001.001.03 document."""
    check_batch(batch)
    debtor = batch["debtor"]
    items = transfers(batch)
    total = sum((Decimal(i["amount"]) for i in items), Decimal(0))
    count = str(len(items))
    control_sum = f"{total:.2f}"
    debtor_name = sepa_text(str(debtor.get("name") or ""), 70)

    ET.register_namespace("", NAMESPACE)
    document = ET.Element(f"{{{NAMESPACE}}}Document")
    initiation = _sub(document, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", _ident(batch["message_id"]))
    _sub(header, "CreDtTm", created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    _sub(header, "NbOfTxs", count)
    _sub(header, "CtrlSum", control_sum)
    _sub(_sub(header, "InitgPty"), "Nm", debtor_name)

    info = _sub(initiation, "PmtInf")
    _sub(info, "PmtInfId", _ident(f"{batch['message_id'][:30]}-1"))
    _sub(info, "PmtMtd", "TRF")
    _sub(info, "BtchBookg", "true")
    _sub(info, "NbOfTxs", count)
    _sub(info, "CtrlSum", control_sum)
    _sub(_sub(_sub(info, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
    _sub(info, "ReqdExctnDt", str(batch["execution_date"]))
    _sub(_sub(info, "Dbtr"), "Nm", debtor_name)
    _sub(_sub(_sub(info, "DbtrAcct"), "Id"), "IBAN", str(debtor["iban"]))
    agent = _sub(_sub(info, "DbtrAgt"), "FinInstnId")
    if debtor.get("bic"):
        _sub(agent, "BIC", str(debtor["bic"]))
    else:
        _sub(_sub(agent, "Othr"), "Id", "NOTPROVIDED")
    _sub(info, "ChrgBr", "SLEV")

    for item in items:
        tx = _sub(info, "CdtTrfTxInf")
        _sub(_sub(tx, "PmtId"), "EndToEndId", _ident(str(item["vendor_invoice_id"])))
        _sub(_sub(tx, "Amt"), "InstdAmt", f"{Decimal(item['amount']):.2f}", Ccy="EUR")
        if item.get("vendor_bic"):
            _sub(_sub(_sub(tx, "CdtrAgt"), "FinInstnId"), "BIC", str(item["vendor_bic"]))
        _sub(_sub(tx, "Cdtr"), "Nm", sepa_text(str(item["vendor_name"]), 70))
        _sub(_sub(_sub(tx, "CdtrAcct"), "Id"), "IBAN", str(item["vendor_iban"]))
        _sub(_sub(tx, "RmtInf"), "Ustrd", sepa_text(remittance(item), 140))

    body: bytes = ET.tostring(document, encoding="utf-8", xml_declaration=True)
    return body
