"""Emailing one invoice: the message composed (templates, its PDF attached) and sent
through SES; the caller records the send in the database (``mark_invoice_sent``). The
send route makes one; `shared.bulk_send` makes a bulk send's, each at most once. A quote
goes the same way (`compose_quote`, recorded by ``mark_quote_sent``), and so does a credit
note (`compose_credit_note`, recorded by ``mark_credit_note_sent``).

Only the functions that send import this module (it pulls in Jinja2, boto3 and the PDF
library).
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared import email as mail
from shared.errors import ApiError
from shared.formatting import format_date, format_money
from shared.pdf import render_document_pdf, render_invoice_pdf
from shared.settings import Settings


@dataclass(frozen=True)
class Composed:
    raw: bytes
    subject: str
    kind: str  # invoice | receipt | quote | credit_note
    to: list[str]
    cc: list[str]
    bcc: list[str]

    @property
    def destinations(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]

    def recipients(self) -> dict[str, list[str]]:
        return {"to": self.to, "cc": self.cc, "bcc": self.bcc}


def client_email(document: dict[str, Any]) -> str | None:
    value = (document.get("client") or {}).get("email")
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def default_subject(document: dict[str, Any], kind: str) -> str:
    business = document["business"]["name"] or "us"
    number = document["invoice_number"]
    if kind == "receipt":
        return f"Receipt for invoice {number} from {business}"
    return f"Invoice {number} from {business}"


def sender_for(settings: Settings, document: dict[str, Any]) -> tuple[str, str]:
    """The From header ("Business <invoices@...>") and the SES source address."""
    _, source = email.utils.parseaddr(settings.email_from)
    name = document["business"]["name"] or email.utils.parseaddr(settings.email_from)[0]
    return mail.address(source, name or None), source


def compose(
    document: dict[str, Any],
    settings: Settings,
    *,
    to: Sequence[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    subject: str | None = None,
    message: str | None = None,
    client_link: str = "",
) -> Composed:
    """The email of an invoice (a receipt when it is paid) with its PDF attached, and
    the client page's link when one is given (shared.portal.link_for_send)."""
    kind = "receipt" if document.get("status") == "paid" else "invoice"
    business = document["business"]
    currency = document["currency"]
    reply_to = business.get("business_email") or None
    subject = subject or default_subject(document, kind)
    client = document.get("client") or {}
    html, text = mail.render(
        "invoice",
        business_name=business["name"] or "",
        client_name=client.get("contact_person") or client.get("company_name") or "",
        invoice_number=document["invoice_number"],
        issue_date=format_date(document["issue_date"]),
        due_date=format_date(document["due_date"]) if document.get("due_date") else "",
        total=format_money(document["total_amount"], currency),
        balance_due=format_money(document["balance_due"], currency),
        message=message or "",
        is_receipt=kind == "receipt",
        footer=business.get("invoice_footer") or "",
        logo_cid=mail.LOGO_CID if mail.business_logo(business) else "",
        reply_to=reply_to or "",
        client_link=client_link,
    )
    pdf, einvoices = einvoice_attachments(document, render_invoice_pdf(document))
    sender, _ = sender_for(settings, document)
    raw = mail.build_raw(
        sender=sender,
        to=list(to),
        cc=list(cc),
        reply_to=reply_to,
        subject=subject,
        html=html,
        text=text,
        inline_images=[logo] if (logo := mail.business_logo(business)) else [],
        attachments=[mail.Attachment(pdf_file_name(document["invoice_number"]), pdf), *einvoices],
    )
    return Composed(raw, subject, kind, list(to), list(cc), list(bcc))


def einvoice_attachments(
    document: dict[str, Any], pdf: bytes, *, credit_note: bool = False
) -> tuple[bytes, list[mail.Attachment]]:
    """The PDF to attach and the e-invoice beside it, in the client's or the organization's
    chosen format (docs/einvoicing.md): for Factur-X the PDF is the e-invoice, an XML format
    adds its file. A document the validator refuses is not sent: 422 einvoice_invalid."""
    if not ((document.get("buyer") or {}).get("einvoice_format")) and not (
        (document.get("seller") or {}).get("einvoice_format")
    ):
        return pdf, []
    from shared.einvoice import service  # noqa: PLC0415 (Saxon and lxml, only when chosen)

    try:
        pdf, made = service.for_email(document, pdf, credit_note=credit_note)
    except service.Invalid as invalid:
        raise service.invalid_error(invalid) from None
    return pdf, [mail.Attachment(e.filename, e.body, e.media_type) for e in made]


def pdf_file_name(number: str, kind: str = "invoice") -> str:
    """The attached PDF's name: ``invoice-<number>.pdf`` (``quote-<number>.pdf``), the
    number's unsafe characters dashes."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in number).strip("-.")
    return f"{kind}-{safe or 'document'}.pdf"


def compose_quote(
    document: dict[str, Any],
    settings: Settings,
    *,
    to: Sequence[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    subject: str | None = None,
    message: str | None = None,
    client_link: str = "",
) -> Composed:
    """The email of a quote (`shared.documents.load_quote_document`) with its PDF (and
    the client page's link, where the client accepts or declines it)."""
    business = document["business"]
    reply_to = business.get("business_email") or None
    number = document["quote_number"]
    subject = subject or f"Quote {number} from {business['name'] or 'us'}"
    client = document.get("client") or {}
    html, text = mail.render(
        "quote",
        business_name=business["name"] or "",
        client_name=client.get("contact_person") or client.get("company_name") or "",
        quote_number=number,
        issue_date=format_date(document["issue_date"]),
        valid_until=format_date(document["valid_until"]),
        total=format_money(document["total_amount"], document["currency"]),
        message=message or "",
        footer=business.get("invoice_footer") or "",
        logo_cid=mail.LOGO_CID if mail.business_logo(business) else "",
        reply_to=reply_to or "",
        client_link=client_link,
    )
    pdf = render_document_pdf(document, "quote")
    sender, _ = sender_for(settings, document)
    raw = mail.build_raw(
        sender=sender,
        to=list(to),
        cc=list(cc),
        reply_to=reply_to,
        subject=subject,
        html=html,
        text=text,
        inline_images=[logo] if (logo := mail.business_logo(business)) else [],
        attachments=[mail.Attachment(pdf_file_name(number, "quote"), pdf)],
    )
    return Composed(raw, subject, "quote", list(to), list(cc), list(bcc))


def compose_credit_note(
    document: dict[str, Any],
    settings: Settings,
    *,
    to: Sequence[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    subject: str | None = None,
    message: str | None = None,
) -> Composed:
    """The email of a credit note (`shared.documents.load_credit_note_document`) with its
    PDF."""
    business = document["business"]
    reply_to = business.get("business_email") or None
    number = document["credit_note_number"]
    subject = subject or f"Credit note {number} from {business['name'] or 'us'}"
    client = document.get("client") or {}
    currency = document["currency"]
    html, text = mail.render(
        "credit_note",
        business_name=business["name"] or "",
        client_name=client.get("contact_person") or client.get("company_name") or "",
        credit_note_number=number,
        invoice_number=document.get("credited_invoice_number") or "",
        issue_date=format_date(document["issue_date"]),
        total=format_money(document["total_amount"], currency),
        to_credit=format_money(document["credit_amount"], currency)
        if document.get("credit_amount")
        else "",
        reason=document.get("reason") or "",
        message=message or "",
        footer=business.get("invoice_footer") or "",
        logo_cid=mail.LOGO_CID if mail.business_logo(business) else "",
        reply_to=reply_to or "",
    )
    pdf, einvoices = einvoice_attachments(
        document, render_document_pdf(document, "credit_note"), credit_note=True
    )
    sender, _ = sender_for(settings, document)
    raw = mail.build_raw(
        sender=sender,
        to=list(to),
        cc=list(cc),
        reply_to=reply_to,
        subject=subject,
        html=html,
        text=text,
        inline_images=[logo] if (logo := mail.business_logo(business)) else [],
        attachments=[mail.Attachment(pdf_file_name(number, "credit-note"), pdf), *einvoices],
    )
    return Composed(raw, subject, "credit_note", list(to), list(cc), list(bcc))


def send(composed: Composed, settings: Settings, document: dict[str, Any]) -> str:
    """Sends through SES; the message id, or `shared.email.EmailFailure`."""
    _, source = sender_for(settings, document)
    return mail.send_raw(composed.raw, source=source, destinations=composed.destinations)


def email_error(failure: mail.EmailFailure) -> ApiError:
    """The API's answer to a failed send (nothing was sent, nothing marked)."""
    details = {"reason": failure.code, "retryable": failure.retryable}
    if failure.retryable:
        return ApiError(
            503,
            "service_unavailable",
            f"{failure.message}; nothing was sent and the invoice is unchanged",
            details=details,
            headers={"Retry-After": "5"},
        )
    if failure.code in ("recipient_rejected", "rejected"):
        return ApiError(
            422,
            "email_rejected",
            f"{failure.message}; nothing was sent and the invoice is unchanged",
            details=details,
        )
    # Our side (an unverified sender, sending paused): not the caller's to fix.
    return ApiError(
        503,
        "service_unavailable",
        f"{failure.message}; nothing was sent and the invoice is unchanged",
        details=details,
    )
