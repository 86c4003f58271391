"""Email: templates rendered with Jinja2, a raw MIME message built, sent through SES.

Only functions that send email (and have ``ses:SendRawEmail`` in serverless.yml) import
this module: it pulls in Jinja2, the standard library's email package and boto3.

- `render` turns ``shared/templates/<name>.html.j2`` and ``<name>.txt.j2`` into the HTML
  and plain-text bodies. The HTML template is **auto-escaped**: a client name or a message
  typed by a user is text, never markup (``<script>`` arrives as ``&lt;script&gt;``). The
  text template is not escaped (it is not HTML) but its values cannot add headers.
- `build_raw` builds ``multipart/mixed`` [``multipart/alternative`` [text, html],
  attachments...] with RFC 2047/2231-encoded UTF-8 names, subjects and file names; with
  inline images (the organization's logo: `business_logo`), the HTML becomes
  ``multipart/related`` [html, image...], each image named by its ``Content-ID`` and shown
  by the HTML's ``<img src="cid:...">`` (nothing fetched by the reader's mail client).
- `send_raw` sends it with SES ``SendRawEmail`` and returns the SES message id; every
  failure becomes one `EmailFailure` whose ``retryable`` says whether trying again later
  can succeed (throttling, an outage) or not (a rejected recipient, an unverified sender).
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from botocore.exceptions import BotoCoreError, ClientError

from shared import aws, inline_logo

TEMPLATES = Path(__file__).parent / "templates"

# SES error codes that a later attempt can get past.
_RETRYABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
    "RequestTimeoutException",
}
_SENDER_CODES = {"MailFromDomainNotVerified", "MailFromDomainNotVerifiedException"}
_PAUSED_CODES = {"AccountSendingPausedException", "ConfigurationSetSendingPausedException"}
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x00-\x08\x0e-\x1f\x7f\u2028\u2029]+")


class EmailFailure(Exception):
    """Sending failed. ``code`` is stable (``throttled``, ``unavailable``,
    ``recipient_rejected``, ``sender_not_verified``, ``sending_paused``, ``rejected``);
    ``retryable`` is true when the same message may succeed later."""

    def __init__(self, code: str, message: str, retryable: bool, aws_code: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.aws_code = aws_code


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/pdf"


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows by ``cid:<cid>`` (RFC 2392), sent inside the message."""

    cid: str
    content: bytes
    content_type: str


LOGO_CID = "logo@invoiceflow"


def business_logo(business: dict[str, Any]) -> InlineImage | None:
    """The organization's uploaded logo as an inline image of the e-mail, or None (no
    upload: an https logo address is not fetched, nor embedded)."""
    found = inline_logo.decode(business.get("company_logo_url"))
    if found is None:
        return None
    content, content_type = found
    return InlineImage(LOGO_CID, content, content_type)


# ---------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The instance's Jinja2 environment: templates compiled once, HTML auto-escaped,
    an undefined name an error (a typo never sends an email with a hole in it)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(("html.j2", "html"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def render(template: str, **context: Any) -> tuple[str, str]:
    """The HTML and plain-text bodies of ``template`` (``<template>.html.j2`` and
    ``<template>.txt.j2`` under shared/templates) with ``context``."""
    env = environment()
    html = env.get_template(f"{template}.html.j2").render(**context)
    text = env.get_template(f"{template}.txt.j2").render(**context)
    return html, text


# ---------------------------------------------------------------------------------------
# The message
# ---------------------------------------------------------------------------------------


def one_line(value: str) -> str:
    """A header value on one line: line breaks and control characters become a space."""
    return _LINE_BREAKS.sub(" ", value).strip()


def address(addr: str, name: str | None = None) -> str:
    """``"Name <addr>"`` for a header (the name encoded when it is not ASCII)."""
    display = one_line(name) if name else ""
    local, _, domain = addr.strip().rpartition("@")
    return str(Address(display_name=display, username=local, domain=domain))


def _addresses(values: Iterable[str]) -> str:
    parsed = []
    for value in values:
        name, addr = email.utils.parseaddr(one_line(value))
        parsed.append(address(addr, name or None))
    return ", ".join(parsed)


def build_raw(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    html: str,
    text: str,
    cc: Sequence[str] = (),
    reply_to: str | None = None,
    attachments: Sequence[Attachment] = (),
    headers: dict[str, str] | None = None,
    inline_images: Sequence[InlineImage] = (),
) -> bytes:
    """A MIME message as bytes (CRLF line ends) for SES ``SendRawEmail``.

    ``sender``, ``to``, ``cc`` and ``reply_to`` are addresses, optionally ``Name <addr>``.
    Bcc recipients are never written in the message: pass them to `send_raw` only.
    """
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = _addresses([sender])
    message["To"] = _addresses(to)
    if cc:
        message["Cc"] = _addresses(cc)
    if reply_to:
        message["Reply-To"] = _addresses([reply_to])
    message["Subject"] = one_line(subject)
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "invoiceflow.local"
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    for key, value in (headers or {}).items():
        message[key] = one_line(value)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    html_part = message.get_body(("html",)) if inline_images else None
    if html_part is not None:
        for image in inline_images:
            maintype, _, subtype = image.content_type.partition("/")
            html_part.add_related(
                image.content,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{image.cid}>",
                disposition="inline",
            )
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(
            item.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=one_line(item.filename),
        )
    if not attachments:
        # Always multipart/mixed, so a reader finds the same structure in every email.
        message.make_mixed()
    return message.as_bytes()


# ---------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------


def _failure(error: ClientError, source: str = "") -> EmailFailure:
    info = error.response.get("Error", {})
    code = str(info.get("Code", ""))
    text = str(info.get("Message", "")) or code
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    lowered = text.lower()
    if code in _RETRYABLE_CODES or status >= 500 or status == 429:
        kind = "throttled" if "thrott" in code.lower() or status == 429 else "unavailable"
        return EmailFailure(kind, f"the email service is busy ({text}); retry shortly", True, code)
    # SES names the identities that failed its check: the sender's (never verified),
    # or in the sandbox the recipients' (only verified recipients may receive).
    sender_named = bool(source) and source.lower() in lowered
    if code in _SENDER_CODES or (
        code == "MessageRejected"
        and ("authority to send" in lowered or ("not verified" in lowered and sender_named))
    ):
        return EmailFailure(
            "sender_not_verified",
            f"the sending address is not verified with the email service ({text})",
            False,
            code,
        )
    if code in _PAUSED_CODES:
        return EmailFailure("sending_paused", f"sending is paused ({text})", False, code)
    if code in ("InvalidParameterValue", "MessageRejected"):
        return EmailFailure(
            "recipient_rejected", f"the email service refused the message: {text}", False, code
        )
    return EmailFailure("rejected", f"the email service refused the message: {text}", False, code)


def send_raw(raw: bytes, *, source: str, destinations: list[str]) -> str:
    """Sends ``raw`` from ``source`` to every address of ``destinations`` (To, Cc and Bcc);
    returns the SES message id, or raises `EmailFailure`."""
    try:
        reply = aws.client("ses").send_raw_email(
            Source=source, Destinations=list(destinations), RawMessage={"Data": raw}
        )
    except ClientError as error:
        raise _failure(error, email.utils.parseaddr(source)[1]) from error
    except BotoCoreError as error:  # connection refused, timeouts: the service is away
        raise EmailFailure(
            "unavailable", "the email service cannot be reached; retry shortly", True
        ) from error
    return str(reply["MessageId"])
