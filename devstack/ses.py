"""What SES's receipt rule does to a raw message before its S3 action stores it, for the
local stack (moto has no SES receiving): the headers it prepends, its ``Received`` line
naming the recipient, the spam and virus verdicts, ``Received-SPF`` and its
``Authentication-Results`` (authserv-id ``amazonses.com``) with the SPF, DKIM and DMARC
results — as AWS documents them for SES email receiving. `make dev`, the tests and the
bench put a message into the inbound bucket through `stored`; the mail worker trusts only
this topmost ``Authentication-Results`` (docs/payables.md, "The sender").
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr

AUTHSERV_ID = "amazonses.com"


def ses_headers(
    *,
    sender: str,
    recipient: str,
    spf: str = "pass",
    dkim: str | None = "pass",
    dmarc: str | None = "pass",
    spam: str = "PASS",
    virus: str = "PASS",
    dkim_domain: str | None = None,
    envelope_from: str | None = None,
    authserv_id: str = AUTHSERV_ID,
) -> bytes:
    """The headers SES prepends for a message from ``sender`` (a From value) to
    ``recipient``: results for the sender's own domain unless ``dkim_domain`` or
    ``envelope_from`` say otherwise; ``dkim``/``dmarc`` None leave that result out."""
    address = parseaddr(sender)[1].lower() or "unknown@invalid.example"
    domain = address.rpartition("@")[2]
    mail_from = (envelope_from or address).lower()
    mail_from_domain = mail_from.rpartition("@")[2]
    ses_id = uuid.uuid4().hex
    spf_comment = (
        f"(spfCheck: domain of {mail_from_domain} designates 192.0.2.25 as permitted sender)"
        if spf == "pass"
        else f"(spfCheck: domain of {mail_from_domain} does not designate 192.0.2.25 as "
        "permitted sender)"
    )
    spf_part = (
        f"spf={spf} {spf_comment} client-ip=192.0.2.25; envelope-from={mail_from}; "
        f"helo=mail.{mail_from_domain};"
    )
    results = [f"{authserv_id};", f" {spf_part}"]
    if dkim is not None:
        results.append(f" dkim={dkim} header.i=@{dkim_domain or domain};")
    if dmarc is not None:
        results.append(f" dmarc={dmarc} header.from={domain};")
    lines = [
        f"Return-Path: <{mail_from}>",
        f"Received: from mail.{mail_from_domain} (mail.{mail_from_domain} [192.0.2.25]) by "
        f"inbound-smtp.us-east-1.amazonaws.com with SMTP id {ses_id} for {recipient}; "
        f"{format_datetime(datetime.now(UTC))}",
        f"X-SES-Spam-Verdict: {spam}",
        f"X-SES-Virus-Verdict: {virus}",
        f"Received-SPF: {spf} {spf_comment} client-ip=192.0.2.25; envelope-from={mail_from}; "
        f"helo=mail.{mail_from_domain};",
        "Authentication-Results: " + "\r\n".join(results),
        f"X-SES-RECEIPT: {ses_id}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def stored(raw: bytes, *, sender: str, recipient: str, **results: str | None) -> bytes:
    """``raw`` as SES's S3 action stores it: its headers prepended (`ses_headers`)."""
    return ses_headers(sender=sender, recipient=recipient, **results) + raw  # type: ignore[arg-type]
