"""Without a stack: SES's verdicts read from a raw message (`email_intake.authenticate`)
and a CSV file's kind read from its header row (`email_intake.csv_kind`)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.ses import stored
from shared.payables import email_intake

AUTHSERV = "amazonses.com"


def raw(sender: str = "Billing <billing@vendor.example>", **ses: Any) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "ap-0123456789abcdef0123@inbound.invoiceflow.local"
    msg.set_content("body")
    return stored(msg.as_bytes(), sender=sender, recipient=str(msg["To"]), **ses)


def verdict(data: bytes, authserv: str = AUTHSERV) -> email_intake.Authentication:
    return email_intake.authenticate(email_intake.parse_message(data), authserv)


def test_ses_results_are_read_with_their_domains() -> None:
    found = verdict(raw())
    assert found.found
    assert found.authenticated
    assert found.reason is None
    assert (found.spf, found.spf_domain) == ("pass", "vendor.example")
    assert found.dkim == (("pass", "vendor.example"),)
    assert (found.dmarc, found.dmarc_domain, found.from_domain) == (
        "pass",
        "vendor.example",
        "vendor.example",
    )
    assert (found.spam, found.virus) == ("PASS", "PASS")


@pytest.mark.parametrize(
    ("ses", "authenticated", "reason"),
    [
        ({"dmarc": "fail"}, False, "DMARC fails for vendor.example"),
        ({"spf": "fail", "dkim": "fail", "dmarc": None}, False, "neither SPF (fail"),
        ({"spf": "pass", "dkim": None, "dmarc": None}, True, None),
        ({"spf": "fail", "dkim": "pass", "dmarc": None}, True, None),
        # Aligned means the From domain or a sub/parent domain of it, not any domain.
        ({"spf": "fail", "dmarc": "none", "dkim_domain": "evil.example"},
         False, "nor DKIM (pass (evil.example))"),
        ({"spf": "fail", "dmarc": None, "dkim_domain": "mail.vendor.example"}, True, None),
        ({"dkim": None, "dmarc": None, "envelope_from": "bounce@evil.example"},
         False, "neither SPF (pass for evil.example)"),
        ({"spam": "FAIL"}, False, "spam verdict is FAIL"),
    ],
)  # fmt: skip
def test_the_decision(ses: dict[str, Any], authenticated: bool, reason: str | None) -> None:
    found = verdict(raw(**ses))
    assert found.authenticated is authenticated
    if reason is None:
        assert found.reason is None
    else:
        assert found.reason is not None
        assert reason in found.reason


def test_only_the_topmost_header_of_the_configured_id_counts() -> None:
    msg = EmailMessage()
    msg["From"] = "ap@vendor.example"
    # The sender's own, of SES's id, and one of another server: below SES's.
    msg["Authentication-Results"] = (
        "amazonses.com; spf=pass envelope-from=ap@vendor.example; "
        "dmarc=pass header.from=vendor.example"
    )
    msg.set_content("x")
    data = stored(
        msg.as_bytes(),
        sender="ap@vendor.example",
        recipient="x@y",
        spf="fail",
        dkim="fail",
        dmarc=None,
    )
    data = (
        b"Authentication-Results: mx.other.example; dmarc=pass header.from=vendor.example\r\n"
        + data
    )
    assert not verdict(data).authenticated  # SES's (fail) is the topmost amazonses.com one
    assert verdict(data, "mx.other.example").authenticated  # a stage naming another server
    assert "no Authentication-Results from staging.example" in str(
        verdict(data, "staging.example").reason
    )


def test_two_from_headers_are_not_authenticated() -> None:
    data = raw()
    data = data.replace(b"From: ", b"From: ceo@victim.example\r\nFrom: ", 1)
    found = verdict(data)
    assert not found.authenticated
    assert found.reason == "the message has 2 From headers; one is needed"


def test_the_virus_verdict_is_the_topmost() -> None:
    assert email_intake.parse_message(raw(virus="FAIL")).virus
    msg = EmailMessage()
    msg["From"] = "a@vendor.example"
    msg["X-SES-Virus-Verdict"] = "FAIL"  # the sender's own, below SES's PASS
    msg.set_content("x")
    data = stored(msg.as_bytes(), sender="a@vendor.example", recipient="x@y")
    assert not email_intake.parse_message(data).virus


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_no_header_value_makes_it_raise(value: str) -> None:
    msg = email_intake.parse_message(b"From: a@vendor.example\r\n\r\nx")
    msg.authentication_results = [value, "amazonses.com; " + value]
    found = email_intake.authenticate(msg, AUTHSERV)
    assert isinstance(found.authenticated, bool)


# ---------------------------------------------------------------------------------------
# A CSV file's kind


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("vendor_name,invoice_number,invoice_date,po_number,currency,description,quantity,"
         "unit_price", "vendor_invoices"),
        ("Supplier;Invoice No;Date;PO;Currency;Qty;Unit Price", "vendor_invoices"),
        ("po_number,vendor_name,order_date,currency,line_number,item_code,description,"
         "quantity,unit_price", "purchase_orders"),
        ("PO Number,Supplier,Currency,Item,Qty Ordered,Unit Cost,Match mode", "purchase_orders"),
        ("receipt_number,po_number,received_date,po_line,quantity_received", "goods_receipts"),
        ("GRN,PO No,Delivery Date,Item Code,Qty Received", "goods_receipts"),
        ("what,ever", "vendor_invoices"),  # none: the invoice parser names what is missing
    ],
)  # fmt: skip
def test_csv_kind_by_header(header: str, kind: str) -> None:
    assert email_intake.csv_kind((header + "\n1,2\n").encode()) == (kind, None)


def test_a_header_fitting_two_kinds_is_ambiguous() -> None:
    header = b"po_number,receipt_number,vendor,currency,quantity,unit_price\nPO-1,GR-1,A,EUR,1,2\n"
    kind, reason = email_intake.csv_kind(header)
    assert kind is None
    assert reason is not None
    assert "purchase orders (" in reason
    assert "receipts (" in reason
