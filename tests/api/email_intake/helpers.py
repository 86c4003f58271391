"""Raw messages as SES stores them, dropped into the inbound bucket of the local moto
and delivered to the mail worker by the bucket's notification (devstack.queues), as
`make dev` does."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import boto3
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from devstack.aws import CREDENTIALS, REGION, Provisioned
from devstack.functions import FunctionHost
from devstack.queues import pollers
from devstack.ses import stored
from tests.api.conftest import Api

WORKER = "jobsEmailIntake"
DOMAIN = "inbound.invoiceflow.local"


def address(api: Api, who: str) -> str:
    reply = api.get("/api/payables/inbound/settings", as_=who)
    assert reply.status == 200, reply.json()
    found: str = reply.json()["address"]
    return found


def message(
    *,
    to: str,
    sender: str,
    subject: str = "Invoice",
    body: str = "Please find our invoice attached.",
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    message_id: str | None = None,
    extra_headers: dict[str, str] | None = None,
    ses: dict[str, Any] | None = None,
) -> bytes:
    """A raw message as SES stores it: its verdicts prepended (devstack.ses), passing
    for the sender's domain unless ``ses`` says otherwise (``{"dmarc": "fail"}``, ...;
    ``{"omit": True}``: none, a message that did not come through SES)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="vendor.example")
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    raw = msg.as_bytes()
    results = dict(ses or {})
    if results.pop("omit", False):
        # Only the Received header naming the recipient, as an MTA would write it.
        received = (
            f"Received: from mail.vendor.example by inbound-smtp.us-east-1.amazonaws.com "
            f"with SMTP id {uuid.uuid4().hex} for {to};\r\n"
        ).encode()
        return received + raw
    return stored(raw, sender=sender, recipient=to, **results)


def s3(aws: Provisioned) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=aws.endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


def drop(aws: Provisioned, raw: bytes) -> str:
    """What SES's receipt rule does: the raw message under inbound/<an SES message id>."""
    key = f"inbound/{uuid.uuid4().hex}"
    s3(aws).put_object(Bucket="invoiceflow-inbound", Key=key, Body=raw)
    return key


def deliver(host: FunctionHost, aws: Provisioned) -> list[str]:
    """The bucket's notifications handed to the worker until none is left; the errors."""
    found = [
        p for p in pollers(host, {}, aws.endpoint, aws.bucket_events()) if p.spec.name == WORKER
    ]
    assert len(found) == 1
    delivered = found[0].drain(timeout=120)
    return list(delivered.errors)


def messages(api: Api, who: str, org: str | None = None, **query: Any) -> list[dict[str, Any]]:
    reply = api.get(
        "/api/payables/inbound/messages", as_=who, org=org, query={"page_size": 100, **query}
    )
    assert reply.status == 200, reply.json()
    found: list[dict[str, Any]] = reply.json()["data"]
    return found


def by_message_id(api: Api, who: str, message_id: str) -> dict[str, Any]:
    for row in messages(api, who):
        if row["message_id"] == message_id:
            reply = api.get(f"/api/payables/inbound/messages/{row['id']}", as_=who)
            assert reply.status == 200, reply.json()
            body: dict[str, Any] = reply.json()
            return body
    raise AssertionError(f"{message_id} not found among {who}'s inbound messages")


def text_pdf(lines: list[str]) -> bytes:
    """A PDF with a text layer (reportlab), as accounting software prints invoices."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    y = 800
    for line in lines:
        page.drawString(60, y, line)
        y -= 18
    page.showPage()
    page.save()
    return buffer.getvalue()


def image_pdf() -> bytes:
    """A PDF without text (a scan): only a drawn rectangle."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.rect(50, 50, 200, 200, fill=1)
    page.showPage()
    page.save()
    return buffer.getvalue()


def invoices_csv(vendor: str, number: str, *, po: str = "", amount: str = "100.00") -> bytes:
    return (
        "vendor_name,invoice_number,invoice_date,po_number,currency,description,quantity,unit_price\n"
        f"{vendor},{number},2026-11-20,{po},EUR,Consulting,1,{amount}\n"
    ).encode()
