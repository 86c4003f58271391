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
import functools
import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
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
from shared.reconciliation.ingest.columns import BY_HEADER, COLUMNS, KINDS, WHAT, Kind, header_key
from shared.reconciliation.ingest.csv_files import (
    MAX_FILE_BYTES,
    _decode,
    _delimiter,
    _lines,
    _records,
)
from shared.settings import get_settings

# SES accepts messages up to 40 MB (30 MB of content); the bucket's objects are read
# at most this large.
MAX_RAW_BYTES = 40 * 1024 * 1024
# The longest the worker sweeps over the organization's open invoices after a message
# brought purchase orders or receipts.
SWEEP_SECONDS = 60.0
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
    # SES's verdicts as stored above the message's own headers: every
    # Authentication-Results value, top first, and the topmost spam and virus verdicts.
    authentication_results: list[str] = field(default_factory=list)
    spam_verdict: str | None = None
    virus_verdict: str | None = None
    from_count: int = 0


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
    from_headers = _header(message, "From", decode=False)
    for header in from_headers[:1]:
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
    spam = [v.strip().upper() for v in _header(message, "X-SES-Spam-Verdict")]
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
        authentication_results=_header(message, "Authentication-Results", decode=False),
        spam_verdict=spam[0][:40] if spam else None,
        virus_verdict=verdicts[0][:40] if verdicts else None,
        from_count=len(from_headers),
    )


# ---------------------------------------------------------------------------------------
# The sender's authentication: SES's verdicts (docs/payables.md, "The sender")

_COMMENT = re.compile(r"\([^()]*\)")
_METHODS = frozenset(
    {"spf", "dkim", "dmarc", "arc", "iprev", "auth", "domainkeys", "sender-id", "bimi", "dkim-atps"}
)
_PAIR = re.compile(r"([A-Za-z][A-Za-z0-9._-]*)\s*=\s*(\"[^\"]*\"|[^\s;]+)")


@dataclass(frozen=True)
class Authentication:
    """What SES's Authentication-Results header says of the message's From domain, and
    the decision: ``authenticated`` (the From address may be matched against the allowed
    senders and the members) or not, with the ``reason`` a person reads in quarantine."""

    authserv_id: str
    found: bool = False
    from_domain: str | None = None
    spf: str | None = None
    spf_domain: str | None = None
    dkim: tuple[tuple[str, str | None], ...] = ()
    dmarc: str | None = None
    dmarc_domain: str | None = None
    spam: str | None = None
    virus: str | None = None
    authenticated: bool = False
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "authserv_id": self.authserv_id,
            "found": self.found,
            "from_domain": self.from_domain,
            "spf": self.spf,
            "spf_domain": self.spf_domain,
            "dkim": [{"result": r, "domain": d} for r, d in self.dkim],
            "dmarc": self.dmarc,
            "dmarc_domain": self.dmarc_domain,
            "spam": self.spam,
            "virus": self.virus,
            "authenticated": self.authenticated,
            "reason": self.reason,
        }


def _domain_of(value: str | None) -> str | None:
    if not value:
        return None
    text = value.strip().strip('"').strip("<>").lower()
    text = text.rpartition("@")[2]
    return text.rstrip(".") or None


@functools.cache
def _public_suffixes() -> Any:
    """The Public Suffix List as the ``publicsuffixlist`` wheel bundles it (its
    ``public_suffix_list.dat``, read from the package directory: no download, nothing
    written, so it works on Lambda's read-only file system), parsed once per process on
    the first alignment (about 0.2 s), not at import."""
    from publicsuffixlist import PublicSuffixList  # noqa: PLC0415

    return PublicSuffixList(accept_unknown=True, only_icann=False)


def _ascii_domain(domain: str) -> str:
    """``domain`` lower-cased, without its root dot, IDN labels as punycode (A-labels), so
    that ``bücher.example`` and ``xn--bcher-kva.example`` are one domain."""
    text = domain.strip().rstrip(".").lower()
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        return text


def organizational_domain(domain: str) -> str:
    """RFC 7489 section 3.2: the longest public suffix of ``domain`` plus the one label
    before it, by the whole Public Suffix List, its ICANN and its private section alike
    (``github.io``, ``herokuapp.com``: each name under them belongs to someone else). An
    unknown top-level domain is a public suffix (the list's default rule ``*``). A domain
    that is itself a public suffix (``co.uk``) is its own organizational domain: it aligns
    with nothing but itself."""
    name = _ascii_domain(domain)
    found = _public_suffixes().privatesuffix(name)
    return str(found) if found else name


def aligned(domain: str | None, from_domain: str | None) -> bool:
    """DMARC's relaxed alignment (RFC 7489 section 3.1): ``domain`` (SPF's or DKIM's) and
    the From domain have the same organizational domain, by the Public Suffix List."""
    if not domain or not from_domain:
        return False
    if _ascii_domain(domain) == _ascii_domain(from_domain):
        return True
    return organizational_domain(domain) == organizational_domain(from_domain)


def _results(value: str) -> tuple[str, list[tuple[str, dict[str, str]]]]:
    """An Authentication-Results value: its authserv-id and each method's result with
    its properties (RFC 8601; comments dropped)."""
    text = " ".join(value.split())
    for _ in range(5):  # nested comments, innermost first
        text = _COMMENT.sub(" ", text)
    parts = [p.strip() for p in text.split(";")]
    authserv = parts[0].split()[0].lower() if parts and parts[0].split() else ""
    found: list[tuple[str, dict[str, str]]] = []
    for part in parts[1:]:
        pairs = _PAIR.findall(part)
        if not pairs:
            continue
        key = pairs[0][0].lower()
        if key not in _METHODS:
            # SES separates a method's properties with ";" too ("spf=pass (...)
            # client-ip=...; envelope-from=...; helo=...;"): they are the last method's.
            if found:
                found[-1][1].update({k.lower(): v.strip('"') for k, v in pairs})
            continue
        found.append(
            (
                key,
                {
                    "result": pairs[0][1].strip('"').lower(),
                    **{k.lower(): v.strip('"') for k, v in pairs[1:]},
                },
            )
        )
    return authserv, found


def authenticate(message: Message, authserv_id: str) -> Authentication:
    """SES's verdict on the From address. Only the topmost Authentication-Results header
    whose authserv-id is ``authserv_id`` counts (SES prepends its own; a sender may
    write one of the same id further down). Not authenticated: no such header, a DMARC
    failure, SPF and DKIM both without a pass for the From domain (aligned), SES's spam
    verdict FAIL, or not exactly one From address."""
    wanted = authserv_id.strip().lower()
    base = Authentication(
        authserv_id=wanted,
        spam=message.spam_verdict,
        virus=message.virus_verdict,
        from_domain=_domain_of(message.from_address),
    )
    header = None
    for value in message.authentication_results:
        authserv, results = _results(value)
        if authserv == wanted:
            header = results
            break
    if header is None:
        return replace(
            base,
            reason=f"the message has no Authentication-Results from {wanted}: its sender "
            "cannot be verified",
        )
    spf = next((p for m, p in header if m == "spf"), None)
    dmarc = next((p for m, p in header if m == "dmarc"), None)
    dkim = tuple(
        (p["result"], _domain_of(p.get("header.d") or p.get("header.i")))
        for m, p in header
        if m == "dkim"
    )
    found = replace(
        base,
        found=True,
        spf=spf["result"] if spf else None,
        spf_domain=_domain_of((spf or {}).get("smtp.mailfrom") or (spf or {}).get("envelope-from")),
        dkim=dkim,
        dmarc=dmarc["result"] if dmarc else None,
        dmarc_domain=_domain_of((dmarc or {}).get("header.from")),
    )
    domain = found.from_domain
    if message.from_count != 1 or domain is None:
        return replace(
            found, reason=f"the message has {message.from_count} From headers; one is needed"
        )
    if found.dmarc == "fail":
        return replace(found, reason=f"DMARC fails for {domain} (dmarc=fail)")
    if found.spam == "FAIL":
        return replace(found, reason="SES's spam verdict is FAIL")
    spf_pass = found.spf == "pass" and aligned(found.spf_domain, domain)
    dkim_pass = any(r == "pass" and aligned(d, domain) for r, d in found.dkim)
    dmarc_pass = found.dmarc == "pass" and aligned(found.dmarc_domain, domain)
    if not (spf_pass or dkim_pass or dmarc_pass):
        dkim_text = ", ".join(f"{r} ({d or '?'})" for r, d in found.dkim) or "none"
        return replace(
            found,
            reason=f"neither SPF ({found.spf or 'none'} for {found.spf_domain or '?'}) nor "
            f"DKIM ({dkim_text}) passes for {domain}",
        )
    return replace(found, authenticated=True)


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
            "document_kind": self.parsed.kind if self.parsed is not None else None,
        }


def csv_kind(data: bytes) -> tuple[Kind | None, str | None]:
    """What a CSV file holds, by its header row and the CSV import's column names
    (`shared.reconciliation.ingest.columns`): the kinds whose required columns are all
    there; of several, the one whose recognised columns include every other's (an
    invoice file with a PO number column is invoices, not purchase orders). None and the
    reason when the header fits several kinds that way (ambiguous); vendor invoices
    when it fits none (their parser names the missing columns)."""
    encoding, body = _decode(data)
    first = next((line for line in _lines(body, encoding) if line.strip()), "")
    if not first:
        return "vendor_invoices", None
    header: list[str] = next(
        (r for r in _records(body, encoding, _delimiter(first)) if any(c.strip() for c in r)), []
    )
    keys = [header_key(name) for name in header]
    recognised: dict[Kind, set[str]] = {}
    for kind in KINDS:
        names = {BY_HEADER[kind][key].name for key in keys if key in BY_HEADER[kind]}
        required = {c.name for c in COLUMNS[kind] if c.required}
        if required <= names:
            recognised[kind] = {key for key in keys if key in BY_HEADER[kind]}
    if not recognised:
        return "vendor_invoices", None
    for kind, found in recognised.items():
        if all(found > other for k, other in recognised.items() if k != kind):
            return kind, None
    fits = " and ".join(
        f"{WHAT[k]}s ({', '.join(sorted(n for n in header if header_key(n) in f))})"
        for k, f in recognised.items()
    )
    return None, (
        f"the header row fits {fits}: not imported; send one kind per file with that kind's columns"
    )[:2000]


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
        document_kind, ambiguous = csv_kind(attachment.data)
        if document_kind is None:
            return Outcome(attachment, kind, "ambiguous", ambiguous)
        parsed = parse_csv(attachment.data, document_kind, policy="accept_valid_rows")
        return Outcome(attachment, kind, parsed=parsed)
    if kind == "einvoice":
        # lxml and Saxon load on the first e-invoice, not when the worker starts.
        from shared.reconciliation.ingest.einvoice import parse_einvoice  # noqa: PLC0415

        try:
            parsed = parse_einvoice(attachment.data, attachment.filename)
        except ValueError as error:
            return Outcome(attachment, kind, "rejected", str(error)[:2000])
        # What the import could not check (a ZUGFeRD 1.0 document: not the EN 16931
        # rules) is the attachment's message; its outcome is still the import's.
        warnings = [w for d in parsed.documents for w in d.get("warnings") or []]
        return Outcome(attachment, kind, message="; ".join(warnings)[:2000] or None, parsed=parsed)
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


def number_rows(
    outcomes: list[Outcome], kind: Kind = "vendor_invoices"
) -> tuple[list[dict[str, Any]], list[RowError], int]:
    """Every attachment's documents of ``kind`` and their errors with rows renumbered
    into one range per attachment (its first_row..last_row), errors prefixed with its
    name: one import call per kind for the whole message."""
    documents: list[dict[str, Any]] = []
    errors: list[RowError] = []
    base = 0
    for outcome in outcomes:
        parsed = outcome.parsed
        if parsed is None or parsed.kind != kind:
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
    client: Any,
    organization_id: str,
    message: Message,
    s3_key: str,
    recipient: str,
    *,
    authentication: Authentication | None = None,
) -> Intake:
    """One organization's intake of a message: recorded once (Message-ID), the sender
    checked (authenticated by SES's verdicts, then allowed), the limits, every attachment
    read, one batch, matching."""
    started = time.perf_counter()
    if authentication is None:
        authentication = authenticate(message, get_settings().inbound_authserv_id)
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
                "virus": message.virus,
                "authentication": authentication.to_json(),
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
    others: dict[str, Any] = {}
    other_kinds: tuple[Kind, ...] = ("purchase_orders", "goods_receipts")
    for other in other_kinds:
        other_documents, other_errors, other_rows = number_rows(outcomes, other)
        if any(o.parsed is not None and o.parsed.kind == other for o in outcomes):
            others[other] = {
                "batch": other_documents,
                "errors": [error.to_json() for error in other_errors],
                "rows_total": other_rows,
            }
    if any("vendor_tax_id" in document for document in documents):
        # E-invoices name the seller's VAT id: only its keyed hash and seal are sent
        # (as shared.reconciliation.imports.store does for an upload).
        from shared.reconciliation.vendor_tax_ids import seal_vendor_tax_ids  # noqa: PLC0415

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
            "others": others,
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
            "purchase_orders": len(a.get("purchase_order_ids") or []),
            "goods_receipts": len(a.get("goods_receipt_ids") or []),
        }
        for a in done.get("attachments") or []
    ]
    reports = done.get("reports") or {}
    if not done.get("already") and any(
        (reports.get(k) or {}).get("accepted") for k in ("purchase_orders", "goods_receipts")
    ):
        # New purchase orders or receipts: every pending and exception invoice (the
        # message's own among them), as the import routes do after them; no call started
        # after SWEEP_SECONDS (the worker's timeout is 120 s): the rest keeps its earlier
        # result until the next matching.
        intake.matching = imports.match_in_chunks(
            client, organization_id, max_seconds=SWEEP_SECONDS
        )
    elif not done.get("already") and intake.batch_id and (done.get("report") or {}).get("accepted"):
        intake.matching = imports.match_in_chunks(
            client, organization_id, batch_id=str(intake.batch_id)
        )
    intake.seconds = round(time.perf_counter() - started, 3)
    return intake
