"""The raw message as the worker reads it (no stack): recipients, attachments, the
Message-ID, and that no input makes the parser raise."""

from __future__ import annotations

from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.payables import email_intake

TOKEN = "ap-0123456789abcdef0123"
DOMAIN = "inbound.invoiceflow.local"


def raw(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("body")
    return msg


def test_the_token_is_read_from_the_envelope_headers_in_any_case() -> None:
    msg = raw(From="a@vendor.example", To="someone@elsewhere.example")
    received = f"Received: from x by inbound-smtp.amazonaws.com for {TOKEN.upper()}@{DOMAIN};"
    data = (received + "\r\n").encode() + msg.as_bytes()
    parsed = email_intake.parse_message(data)
    assert email_intake.tokens_for(parsed, DOMAIN) == {TOKEN: f"{TOKEN}@{DOMAIN}"}
    assert email_intake.tokens_for(parsed, "other.example") == {}


def test_plus_addresses_and_other_domains() -> None:
    msg = raw(From="a@vendor.example", To=f"billing+{TOKEN}@{DOMAIN}, {TOKEN}@evil.example")
    parsed = email_intake.parse_message(msg.as_bytes())
    assert list(email_intake.tokens_for(parsed, DOMAIN)) == [TOKEN]


def test_attachments_with_encoded_names_and_inside_a_forwarded_message() -> None:
    inner = raw(From="vendor@vendor.example", To="dana@example.com", Subject="Rechnung")
    inner.add_attachment(
        b"%PDF-1.4 x", maintype="application", subtype="pdf", filename="Rechnung Nr. 5 für März.pdf"
    )
    outer = raw(From="dana@example.com", To=f"{TOKEN}@{DOMAIN}", Subject="Fwd: Rechnung")
    outer.add_attachment(inner)
    outer.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="list.csv")
    parsed = email_intake.parse_message(outer.as_bytes())
    found = [(a.filename, a.content_type, a.data) for a in parsed.attachments]
    assert found == [
        ("Rechnung Nr. 5 für März.pdf", "application/pdf", b"%PDF-1.4 x"),
        ("list.csv", "text/csv", b"a,b\n1,2\n"),
    ]


def test_the_sender_with_an_encoded_name_holding_a_comma() -> None:
    data = (
        b"From: =?utf-8?q?M=C3=BCller=2C_Hans?= <Hans.Mueller@Vendor.example>\r\n"
        b"To: "
        + f"{TOKEN}@{DOMAIN}".encode()
        + b"\r\nSubject: =?utf-8?q?Rechnung_f=C3=BCr_M=C3=A4rz?=\r\n\r\nx"
    )
    parsed = email_intake.parse_message(data)
    assert (parsed.from_name, parsed.from_address) == (
        "Müller, Hans",
        "hans.mueller@vendor.example",
    )
    assert parsed.subject == "Rechnung für März"


def test_a_message_without_message_id_is_known_by_its_bytes() -> None:
    data = raw(From="a@vendor.example", To=f"{TOKEN}@{DOMAIN}").as_bytes()
    first = email_intake.parse_message(data).message_id
    assert first == email_intake.parse_message(data).message_id
    assert first != email_intake.parse_message(data + b"\n").message_id


def test_kinds_are_read_from_the_content_first() -> None:
    def kind(name: str, content_type: str, data: bytes) -> str:
        return email_intake.kind_of(email_intake.Attachment(1, name, content_type, data))

    assert kind("invoice.csv", "application/pdf", b"%PDF-1.4\n%%EOF") == "pdf"
    assert (
        kind("x.bin", "application/octet-stream", b"<?xml version='1.0'?><Invoice/>") == "einvoice"
    )
    assert kind("rows.csv", "application/octet-stream", b"a,b\n") == "csv"
    assert kind("photo.jpg", "image/jpeg", b"\xff\xd8\xff") == "other"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_no_bytes_make_the_parser_raise(data: bytes) -> None:
    parsed = email_intake.parse_message(data)
    email_intake.tokens_for(parsed, DOMAIN)
    for attachment in parsed.attachments:
        email_intake.kind_of(attachment)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["From", "To", "Cc", "Message-ID", "Subject", "Date", "Received",
                             "Content-Type", "Content-Disposition", "Delivered-To"]),
            st.text(max_size=200),
        ),
        max_size=12,
    ),
    st.binary(max_size=500),
)  # fmt: skip
def test_no_headers_make_the_parser_raise(headers: list[tuple[str, str]], body: bytes) -> None:
    lines = b"".join(
        f"{name}: {value}".encode("utf-8", "surrogateescape").replace(b"\n", b" ") + b"\r\n"
        for name, value in headers
    )
    parsed = email_intake.parse_message(lines + b"\r\n" + body)
    email_intake.tokens_for(parsed, DOMAIN)
