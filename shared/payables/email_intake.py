"""Invoices in by email: a raw RFC 5322 message (as SES stores it in S3) read, routed to
the organizations its recipient addresses name, and its attachments imported as one
batch per message (docs/payables.md, "Invoices in by email").

The parser is the standard library's ``email`` with ``policy.default`` (the modern
`EmailMessage` API): it decodes RFC 2047 words and RFC 2231 file names, base64 and
quoted-printable, walks nested multiparts and forwarded ``message/rfc822`` parts, and
never executes anything; mail-parser would add a dependency (and its own defects) for
what is a few lines here, and everything it adds (defects, IPs, a JSON dump) goes
unused.

Which organization: only the recipient addresses of the inbound domain, read from the
envelope headers (``X-Original-To``, ``Delivered-To``, SES's ``Received: ... for``) and
``To``/``Cc``; their local part is the organization's token. Nothing else in the
message (its subject, its sender, a vendor or slug in its text or files) chooses an
organization: every import runs with the organization the token resolved to.

Per attachment: CSV -> the CSV import parser (vendor invoices); UBL/CII XML and
Factur-X/ZUGFeRD PDFs -> ``shared.reconciliation.ingest.einvoice.parse_einvoice``;
other PDFs with text -> a draft (`shared.payables.pdf_text`); anything else is
reported. Every document of every attachment goes into one import call of the
message's batch (rows numbered per attachment), so the message commits whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from shared import db
from shared.reconciliation import imports
from shared.reconciliation.ingest import Parsed, RowError, parse_csv
from shared.reconciliation.ingest.csv_files import MAX_FILE_BYTES

# SES accepts messages up to 40 MB (30 MB of content); the bucket's objects are read
# at most this large.
MAX_RAW_BYTES = 40 * 1024 * 1024
RECIPIENT_HEADERS = ("X-Original-To", "Delivered-To", "X-Forwarded-To", "To", "Cc")
TOKEN = re.compile(r"^(?:[a-z0-9._-]+\+)?(ap-[0-9a-f]{20})$")
_RECEIVED_FOR = re.compile(r"\bfor\s+<?([^\s<>;]+@[^\s<>;]+)>?", re.IGNORECASE)

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/comma-separated-values"})
XML_TYPES = frozenset({"application/xml", "text/xml"})


@dataclass(frozen=True)
class Attachment:
    position: int
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Message:
    message_id: str
    from_address: str | None
    from_name: str | None
    subject: str | None
    sent_at: datetime | None
    recipients: list[str]
    attachments: list[Attachment]
    size: int
    virus: bool = False


def _decoded(text: str) -> str:
    with contextlib.suppress(Exception):  # undecodable words stay as written
        text = str(make_header(decode_header(text)))
    return " ".join(text.split())


def _header(message: EmailMessage, name: str, *, decode: bool = True) -> list[str]:
    """A header's values as text. The raw values (``raw_items``: the modern policy's
    parsing of a malformed address or parameter can raise), RFC 2047 words decoded
    where they decode."""
    values: list[str] = []
    wanted = name.lower()
    for key, raw in message.raw_items():
        if key.lower() != wanted:
            continue
        values.append(_decoded(str(raw)) if decode else " ".join(str(raw).split()))
    return values


def _addresses(values: Iterable[str]) -> list[str]:
    return [address.strip().lower() for _, address in getaddresses(list(values)) if "@" in address]


def parse_message(raw: bytes, *, size: int | None = None, headers_only: bool = False) -> Message:
    """The parts of a raw message the intake uses; ``headers_only`` (a message too large
    to read, ``size`` its real size) reads the headers of its first bytes alone."""
    message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=headers_only)
    assert isinstance(message, EmailMessage)
    message_ids = _header(message, "Message-ID")
    message_id = message_ids[0].strip() if message_ids and message_ids[0].strip() else ""
    if not message_id:  # the same bytes again are the same message
        message_id = f"<{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid>"
    sender_name, sender = None, None
    for header in _header(message, "From", decode=False)[:1]:
        found = [(n, a) for n, a in getaddresses([header]) if "@" in a]
        if found:
            sender_name, sender = _decoded(found[0][0]) or None, found[0][1].strip().lower()
    recipients: list[str] = []
    for name in RECIPIENT_HEADERS:
        recipients += _addresses(_header(message, name, decode=False))
    for received in _header(message, "Received", decode=False)[:3]:  # SES's own, at the top
        recipients += [m.lower() for m in _RECEIVED_FOR.findall(received)]
    subjects = _header(message, "Subject")
    dates = _header(message, "Date")
    sent_at = None
    if dates:
        try:
            sent_at = parsedate_to_datetime(dates[0])
        except (TypeError, ValueError, IndexError):
            sent_at = None
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = None
    verdicts = [v.strip().upper() for v in _header(message, "X-SES-Virus-Verdict")]
    return Message(
        message_id=message_id[:998],
        from_address=sender,
        from_name=sender_name[:320] if sender_name else None,
        subject=subjects[0][:998] if subjects else None,
        sent_at=sent_at,
        recipients=list(dict.fromkeys(recipients)),
        attachments=[] if headers_only else list(_attachments(message)),
        size=len(raw) if size is None else size,
        virus=bool(verdicts) and verdicts[0] == "FAIL",
    )


def _attachments(message: EmailMessage) -> Iterable[Attachment]:
    position = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            filename = part.get_filename()
            disposition = part.get_content_disposition()
            content_type = part.get_content_type()
        except Exception:
            filename, disposition, content_type = None, "attachment", "application/octet-stream"
        if disposition != "attachment" and not filename:
            continue  # a body part
        try:
            payload = part.get_payload(decode=True)
        except Exception:
            payload = b""
        data = payload if isinstance(payload, bytes) else b""
        position += 1
        yield Attachment(
            position=position,
            filename=(filename or f"attachment-{position}")[:255],
            content_type=content_type[:255],
            data=data,
        )


def tokens_for(message: Message, domain: str) -> dict[str, str]:
    """The organization tokens the message was sent to at ``domain``: token -> address."""
    found: dict[str, str] = {}
    wanted = domain.strip().lower()
    for address in message.recipients:
        local, _, at = address.rpartition("@")
        if at != wanted:
            continue
        match = TOKEN.match(local)
        if match:
            found.setdefault(match.group(1), address)
    return found


def address_for(token: str, domain: str) -> str:
    return str(Address(username=token, domain=domain)).lower()


def kind_of(attachment: Attachment) -> str:
    """csv | einvoice | pdf | other: by content first (a PDF is a PDF whatever its name),
    then by type and name."""
    from shared.payables.pdf_text import has_einvoice  # noqa: PLC0415 (pypdf, on demand)

    data = attachment.data
    name = attachment.filename.lower()
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if data.startswith(b"%PDF-") or data[:1024].find(b"%PDF-") >= 0:
        return "einvoice" if has_einvoice(data) else "pdf"
    if head.startswith(b"<") or attachment.content_type in XML_TYPES or name.endswith(".xml"):
        return "einvoice"
    if attachment.content_type in CSV_TYPES or name.endswith(".csv"):
        return "csv"
    return "other"


def _einvoice_parser() -> Callable[[bytes, str], Parsed] | None:
    """einvoice-in's reader, when it is there."""
    try:
        from shared.reconciliation.ingest.einvoice import (  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415
            parse_einvoice,
        )
    except ImportError:
        return None
    parser: Callable[[bytes, str], Parsed] = parse_einvoice
    return parser


@dataclass
class Outcome:
    """One attachment's result before the import: decided now (outcome set) or by the
    import of its documents (rows first_row..last_row)."""

    attachment: Attachment
    kind: str
    outcome: str | None = None
    message: str | None = None
    parsed: Parsed | None = None
    draft: dict[str, Any] | None = None
    first_row: int | None = None
    last_row: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.attachment.position,
            "filename": self.attachment.filename,
            "content_type": self.attachment.content_type,
            "size_bytes": self.attachment.size,
            "sha256": self.attachment.sha256,
            "kind": self.kind,
            "outcome": self.outcome,
            "message": self.message,
            "first_row": self.first_row,
            "last_row": self.last_row,
        }


def read_attachment(attachment: Attachment, max_bytes: int) -> Outcome:  # noqa: PLR0911
    """What one attachment holds (no database)."""
    kind = kind_of(attachment)
    if attachment.size > max_bytes or attachment.size > MAX_FILE_BYTES:
        limit = min(max_bytes, MAX_FILE_BYTES)
        return Outcome(
            attachment,
            kind,
            "too_large",
            f"{attachment.size} bytes; at most {limit} per attachment",
        )
    if attachment.size == 0:
        return Outcome(attachment, kind, "unreadable", "the attachment is empty")
    if kind == "csv":
        parsed = parse_csv(attachment.data, "vendor_invoices", policy="accept_valid_rows")
        return Outcome(attachment, kind, parsed=parsed)
    if kind == "einvoice":
        parser = _einvoice_parser()
        if parser is None:
            return Outcome(
                attachment, kind, "unsupported", "e-invoices (UBL, CII, Factur-X) are not read yet"
            )
        try:
            parsed = parser(attachment.data, attachment.filename)
        except ValueError as error:
            return Outcome(attachment, kind, "rejected", str(error)[:2000])
        return Outcome(attachment, kind, parsed=parsed)
    if kind == "pdf":
        from shared.payables.pdf_text import NoTextLayer, pdf_text, read_fields  # noqa: PLC0415

        try:
            text = pdf_text(attachment.data)
        except NoTextLayer as error:
            return Outcome(attachment, kind, "unreadable", str(error))
        except ValueError as error:
            return Outcome(attachment, kind, "unreadable", str(error))
        fields = read_fields(text)
        missing = [
            name
            for name in ("vendor_name", "invoice_number", "invoice_date", "total_amount")
            if getattr(fields, name) is None
        ]
        note = "read from the PDF's text: confirm or correct it"
        if missing:
            note += "; not found: " + ", ".join(missing)
        return Outcome(attachment, kind, "draft", note, draft=fields.to_json())
    return Outcome(
        attachment,
        kind,
        "unsupported",
        f"{attachment.content_type} is not imported: send CSV, UBL/CII XML or PDF files",
    )


def number_rows(outcomes: list[Outcome]) -> tuple[list[dict[str, Any]], list[RowError], int]:
    """Every parsed attachment's documents and errors with rows renumbered into one
    range per attachment (its first_row..last_row), errors prefixed with its name: one
    import call for the whole message."""
    documents: list[dict[str, Any]] = []
    errors: list[RowError] = []
    base = 0
    for outcome in outcomes:
        parsed = outcome.parsed
        if parsed is None:
            continue
        rows = [int(r) for d in parsed.documents for r in d.get("rows") or []]
        # A CSV file's rows count from 1 (0: the file itself); an e-invoice is row 0.
        shift = base + (1 if 0 in rows or (not rows and parsed.rows_total <= 1) else 0)
        seen = [r + shift for r in rows] + [max(e.row + shift, base + 1) for e in parsed.errors]
        last = max([base + max(parsed.rows_total, 1), *seen])
        outcome.first_row, outcome.last_row = base + 1, last
        for document in parsed.documents:
            moved = dict(document)
            moved["index"] = int(document["index"]) + shift
            moved["rows"] = [int(r) + shift for r in document.get("rows") or []]
            moved["lines"] = [
                {**line, "row": int(line.get("row") or 0) + shift}
                for line in document.get("lines") or []
            ]
            documents.append(moved)
        for error in parsed.errors:
            errors.append(
                RowError(
                    row=max(error.row + shift, base + 1),
                    column=error.column,
                    value=error.value,
                    message=f"{outcome.attachment.filename}: {error.message}",
                )
            )
        base = last
    return documents, errors, base


@dataclass
class Intake:
    """What happened to one message for one organization (the log, the tests)."""

    organization_id: str
    message_id: str
    status: str
    inbound_message_id: str | None = None
    batch_id: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    matching: Any = None
    seconds: float = 0.0
    created: bool = True


def import_message(
    client: Any, organization_id: str, message: Message, s3_key: str, recipient: str
) -> Intake:
    """One organization's intake of a message: recorded once (Message-ID), the sender
    checked, the limits, every attachment read, one batch, matching."""
    started = time.perf_counter()
    received = db.rpc(
        client,
        "receive_inbound_message",
        {
            "organization_id": organization_id,
            "message": {
                "message_id": message.message_id,
                "s3_key": s3_key,
                "recipient": recipient,
                "from_address": message.from_address,
                "from_name": message.from_name,
                "subject": message.subject,
                "sent_at": message.sent_at.isoformat() if message.sent_at else None,
                "size_bytes": message.size,
                "attachment_count": len(message.attachments),
            },
        },
    )
    stored = received["message"]
    settings = received["settings"]
    intake = Intake(
        organization_id=organization_id,
        message_id=message.message_id,
        status=str(stored["status"]),
        inbound_message_id=str(stored["id"]),
        created=bool(received["created"]),
    )
    if stored["status"] not in ("received", "released"):
        if stored["status"] == "imported" and stored.get("import_batch_id"):
            # A redelivery after the import committed but before matching finished: the
            # batch's invoices still unmatched are matched now (none: nothing to do).
            intake.batch_id = str(stored["import_batch_id"])
            intake.matching = imports.match_in_chunks(
                client, organization_id, batch_id=intake.batch_id
            )
        intake.seconds = round(time.perf_counter() - started, 3)
        return intake  # quarantined, rejected, or imported before (a redelivery)
    if message.virus:
        rejected = db.rpc(
            client,
            "reject_inbound_message",
            {
                "organization_id": organization_id,
                "inbound_message_id": stored["id"],
                "reason": "SES found a virus in the message",
            },
        )
        intake.status = str((rejected or {}).get("status") or "rejected")
        return intake
    seen = set(
        db.rpc(
            client,
            "inbound_seen_attachments",
            {
                "organization_id": organization_id,
                "hashes": sorted({a.sha256 for a in message.attachments}),
            },
        )
        or []
    )
    outcomes: list[Outcome] = []
    hashes_here: set[str] = set()
    for attachment in message.attachments:
        digest = attachment.sha256
        if digest in seen or digest in hashes_here:
            outcomes.append(
                Outcome(
                    attachment,
                    "other",
                    "duplicate",
                    "the same file was imported before (its SHA-256)"
                    if digest in seen
                    else "the same file is attached twice",
                )
            )
            continue
        outcome = read_attachment(attachment, int(settings["max_attachment_bytes"]))
        if outcome.outcome in (None, "draft"):
            hashes_here.add(digest)
        outcomes.append(outcome)
    documents, errors, rows_total = number_rows(outcomes)
    if any("vendor_tax_id" in document for document in documents):
        # E-invoices name the seller's VAT id: only its keyed hash and seal are sent
        # (as shared.reconciliation.imports.store does for an upload).
        from shared.reconciliation.ingest.einvoice import seal_vendor_tax_ids  # noqa: PLC0415

        seal_vendor_tax_ids(Parsed("vendor_invoices", documents, [], rows_total), organization_id)
    drafts = [
        {"position": o.attachment.position, **(o.draft or {})}
        for o in outcomes
        if o.outcome == "draft"
    ]
    done = db.rpc(
        client,
        "import_inbound_message",
        {
            "organization_id": organization_id,
            "inbound_message_id": stored["id"],
            "batch": documents,
            "errors": [error.to_json() for error in errors],
            "rows_total": rows_total,
            "attachments": [o.to_json() for o in outcomes],
            "drafts": drafts,
        },
    )
    intake.status = str(done["message"]["status"])
    intake.batch_id = done["message"].get("import_batch_id")
    intake.attachments = [
        {
            "position": a["position"],
            "filename": a["filename"],
            "kind": a["kind"],
            "outcome": a["outcome"],
            "vendor_invoices": len(a.get("vendor_invoice_ids") or []),
        }
        for a in done.get("attachments") or []
    ]
    if not done.get("already") and intake.batch_id and (done.get("report") or {}).get("accepted"):
        intake.matching = imports.match_in_chunks(
            client, organization_id, batch_id=str(intake.batch_id)
        )
    intake.seconds = round(time.perf_counter() - started, 3)
    return intake
