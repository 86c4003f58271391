"""shared.email: templates auto-escaped, a well-formed MIME message read back with the
standard library's parser, and SES's answers (moto's real ones where it can fail) mapped
to one EmailFailure saying whether a retry can help."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from shared import aws
from shared import email as mail

CONTEXT: dict[str, Any] = {
    "business_name": "Acme & Sons",
    "client_name": "<script>alert('x')</script> Zoë",
    "invoice_number": "INV-0042",
    "total": "$1,234.50",
    "balance_due": "$1,234.50",
    "due_date": "Dec 31, 2026",
    "issue_date": "Dec 1, 2026",
    "message": 'Hello <img src=x onerror="alert(1)">\nsecond line',
    "is_receipt": False,
    "footer": "Thanks",
    "reply_to": "billing@acme.test",
}
SENDER = "invoices@invoiceflow.local"


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_html_is_escaped_and_text_is_plain() -> None:
    html, text = mail.render("invoice", **CONTEXT)
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Zoë" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "Acme &amp; Sons" in html
    assert "<script>alert('x')</script> Zoë" in text  # plain text is not HTML
    assert "INV-0042" in html
    assert "INV-0042" in text
    assert "$1,234.50" in text


def test_a_missing_value_is_an_error_not_a_hole() -> None:
    context = dict(CONTEXT)
    del context["invoice_number"]
    with pytest.raises(Exception, match="invoice_number"):
        mail.render("invoice", **context)


def test_build_raw_is_mixed_with_alternative_and_attachment() -> None:
    html, text = mail.render("invoice", **CONTEXT)
    raw = mail.build_raw(
        sender=f"Zoë Ltd <{SENDER}>",
        to=["Ünïcode Client <client@example.com>", "second@example.com"],
        cc=["cc@example.com"],
        reply_to="billing@acme.test",
        subject="Facture n° INV-0042\r\nBcc: injected@evil.test",
        html=html,
        text=text,
        attachments=[mail.Attachment("Facture é 42.pdf", b"%PDF-1.4 fake")],
    )
    assert b"\r\n" in raw
    assert all(ord(c) < 128 for c in raw.decode("ascii"))
    message = parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    assert message["Subject"] == "Facture n° INV-0042 Bcc: injected@evil.test"
    assert "Bcc" not in message
    assert message["From"].addresses[0].display_name == "Zoë Ltd"
    assert [a.addr_spec for a in message["To"].addresses] == [
        "client@example.com",
        "second@example.com",
    ]
    assert message["To"].addresses[0].display_name == "Ünïcode Client"
    assert message["Cc"].addresses[0].addr_spec == "cc@example.com"
    assert message["Reply-To"].addresses[0].addr_spec == "billing@acme.test"
    assert message["Message-ID"]
    assert message["Date"]
    parts = list(message.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parts[0].iter_parts()] == ["text/plain", "text/html"]
    body = message.get_body(("html",))
    assert body is not None
    assert "&lt;script&gt;" in body.get_content()
    attachment = parts[1]
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "Facture é 42.pdf"
    assert attachment.get_content() == b"%PDF-1.4 fake"


@pytest.fixture
def ses(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset()
    with mock_aws():
        client = boto3.client("ses", region_name="us-east-1")
        client.verify_email_identity(EmailAddress=SENDER)
        yield client
    aws.reset()


def raw_to(*to: str) -> bytes:
    return mail.build_raw(sender=SENDER, to=list(to), subject="s", html="<p>h</p>", text="t")


def test_send_raw_returns_the_message_id_moto_recorded(ses: Any) -> None:
    message_id = mail.send_raw(
        raw_to("a@example.com"), source=SENDER, destinations=["a@example.com", "hidden@x.com"]
    )
    assert message_id
    quota = ses.get_send_quota()
    assert quota["SentLast24Hours"] >= 2


def test_an_unverified_sender_is_not_retryable(ses: Any) -> None:
    with pytest.raises(mail.EmailFailure) as failure:
        mail.send_raw(
            raw_to("a@example.com"), source="nobody@unverified.test", destinations=["a@example.com"]
        )
    assert failure.value.code == "sender_not_verified"
    assert failure.value.retryable is False
    assert failure.value.aws_code == "MessageRejected"


def test_a_rejected_recipient_is_not_retryable(ses: Any) -> None:
    with pytest.raises(mail.EmailFailure) as failure:
        mail.send_raw(raw_to("a@example.com"), source=SENDER, destinations=["no-domain"])
    assert failure.value.code == "recipient_rejected"
    assert failure.value.retryable is False


def test_throttling_is_retryable(ses: Any) -> None:
    client = aws.client("ses")
    with Stubber(client) as stub:
        for _ in range(3):  # the client's own retries (standard mode, 3 attempts)
            stub.add_client_error(
                "send_raw_email",
                service_error_code="Throttling",
                service_message="Maximum sending rate exceeded.",
                http_status_code=400,
            )
        with pytest.raises(mail.EmailFailure) as failure:
            mail.send_raw(raw_to("a@example.com"), source=SENDER, destinations=["a@example.com"])
    assert failure.value.code == "throttled"
    assert failure.value.retryable is True


def test_an_unreachable_service_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.reset()
    try:
        with pytest.raises(mail.EmailFailure) as failure:
            mail.send_raw(raw_to("a@example.com"), source=SENDER, destinations=["a@example.com"])
    finally:
        aws.reset()
    assert failure.value.code == "unavailable"
    assert failure.value.retryable is True


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (
            f"Email address is not verified. The following identities failed the check"
            f" in region US-EAST-1: {SENDER}",
            "sender_not_verified",
        ),
        (
            "Email address is not verified. The following identities failed the check"
            " in region US-EAST-1: client@example.com",
            "recipient_rejected",
        ),
    ],
)
def test_ses_names_who_failed_its_check(ses: Any, message: str, code: str) -> None:
    with Stubber(aws.client("ses")) as stub:
        stub.add_client_error(
            "send_raw_email", service_error_code="MessageRejected", service_message=message
        )
        with pytest.raises(mail.EmailFailure) as failure:
            mail.send_raw(
                raw_to("client@example.com"), source=SENDER, destinations=["client@example.com"]
            )
    assert failure.value.code == code
    assert failure.value.retryable is False
