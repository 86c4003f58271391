"""POST /api/invoices/{id}/send against moto's SES: every email read back from moto
(recipients, subject, the PDF attached and its text), auto-escaping, the status and
activity rules, Idempotency-Key (twice, a different body, concurrent), SES failures
(an unverified sender and an unreachable service for real, a sandbox rejection and
throttling through a stub on the real client) leaving nothing marked."""

from __future__ import annotations

import email
import email.policy
import io
import os
import threading
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from botocore.stub import Stubber
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from pypdf import PdfReader

from devstack.aws import Provisioned
from shared import aws as shared_aws
from shared.settings import get_settings
from tests.api.conftest import Api, Response, World
from tests.api.invoices.test_invoices import created, item, unique

pytestmark = pytest.mark.usefixtures("aws")


# =============================================================================
# Helpers (test_bulk_actions uses them too)
# =============================================================================


def sent_messages() -> list[Any]:
    """Every raw email moto's SES accepted, oldest first."""
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def message_by_id(message_id: str) -> Any:
    found = [m for m in sent_messages() if m.id == message_id]
    assert len(found) == 1, f"moto has {len(found)} messages with id {message_id}"
    return found[0]


def parse(raw: Any) -> EmailMessage:
    data = raw.raw_data if hasattr(raw, "raw_data") else raw
    message = email.message_from_bytes(
        data.encode() if isinstance(data, str) else data, policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    return message


def pdf_of(message: EmailMessage) -> tuple[str, str]:
    """The attached PDF's file name and text (pypdf), checked to be a PDF."""
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(parts) == 1, "one PDF attached"
    content = parts[0].get_content()
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    return str(parts[0].get_filename()), "\n".join(page.extract_text() for page in reader.pages)


def mailable_client(world: World, org: str, *, email_: str | None = None, name: str = "") -> str:
    rows = world.sql(
        "insert into public.clients (organization_id, company_name, currency, email)"
        " values (%s, %s, 'USD', %s) returning id::text",
        org,
        name or unique("Client"),
        (email_ or None) if email_ is not None else f"{uuid.uuid4().hex[:10]}@client.test",
    )
    return str(rows[0][0])


def new_invoice(api: Api, world: World, *, as_: str = "alice", **fields: Any) -> dict[str, Any]:
    org = world.org_a if as_ in ("alice", "maria") else world.people[as_].personal_org
    client_kwargs = {k: fields.pop(k) for k in ("email_", "name") if k in fields}
    client = mailable_client(world, org, **client_kwargs)
    return created(api, client, as_=as_, items=[item("Design", "3", "33.335")], **fields)


def status_of(world: World, invoice_id: str) -> str:
    return str(world.sql("select status from public.invoices where id = %s", invoice_id)[0][0])


def activities(world: World, invoice_id: str) -> list[tuple[Any, ...]]:
    return world.sql(
        "select activity, metadata ->> 'ses_message_id', created_by::text"
        " from public.client_activities"
        " where type = 'invoice_sent' and metadata ->> 'invoice_id' = %s order by timestamp",
        invoice_id,
    )


def send(api: Api, invoice_id: str, body: Any = None, **kwargs: Any) -> Response:
    return api.post(f"/api/invoices/{invoice_id}/send", json_body=body, **kwargs)


@pytest.fixture
def sender(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Changes the functions' environment for one test (settings re-read)."""

    def change(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        shared_aws.reset()

    yield change
    monkeypatch.undo()
    get_settings.cache_clear()
    shared_aws.reset()


# =============================================================================
# Sending
# =============================================================================


def test_send_emails_the_invoice_with_its_pdf_and_marks_it_sent(any_api: Api, world: World) -> None:
    invoice = new_invoice(any_api, world, name="Zoë & Co")
    client_email = invoice["client"]["email"]
    assert invoice["status"] == "draft"
    reply = send(
        any_api,
        invoice["id"],
        {"cc": ["Copy@Example.com"], "bcc": ["hidden@example.com"]},
        as_="maria",
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["invoice"]["status"] == "sent"
    assert body["invoice"]["sent_at"]
    record = body["send"]
    assert record["kind"] == "invoice"
    assert record["recipients"] == {
        "to": [client_email],
        "cc": ["copy@example.com"],
        "bcc": ["hidden@example.com"],
    }
    assert record["sent_by"] == world.people["maria"].id

    raw = message_by_id(record["ses_message_id"])
    assert set(raw.destinations) >= {client_email, "copy@example.com", "hidden@example.com"}
    message = parse(raw)
    number = invoice["invoice_number"]
    assert [a.addr_spec for a in message["To"].addresses] == [client_email]
    assert [a.addr_spec for a in message["Cc"].addresses] == ["copy@example.com"]
    assert "Bcc" not in message, "blind copies never appear in the message"
    assert message["Subject"] == record["subject"]
    assert message["Subject"].startswith(f"Invoice {number} from ")
    assert message["From"].addresses[0].addr_spec == "invoices@invoiceflow.local"
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None
    assert text is not None
    assert "$100.01" in text.get_content()
    assert "Zoë &amp; Co" in html.get_content()

    _, pdf_text = pdf_of(message)
    assert number in pdf_text
    assert "100.01" in pdf_text  # 3 x 33.335 = 100.005 -> 100.01 (half up)

    assert status_of(world, invoice["id"]) == "sent"
    logged = activities(world, invoice["id"])
    assert len(logged) == 1
    assert logged[0][1] == record["ses_message_id"]
    assert logged[0][2] == world.people["maria"].id
    assert client_email in logged[0][0]
    sends = world.sql(
        "select ses_message_id from public.invoice_sends where invoice_id = %s", invoice["id"]
    )
    assert sends == [(record["ses_message_id"],)]


def test_client_text_arrives_escaped_never_as_markup(api: Api, world: World) -> None:
    invoice = new_invoice(api, world, name="<script>alert('name')</script>")
    reply = send(
        api,
        invoice["id"],
        {"message": 'Hi <img src=x onerror="alert(1)">\n<script>alert(2)</script>'},
        as_="alice",
    )
    assert reply.status == 200, reply.json()
    message = parse(message_by_id(reply.json()["send"]["ses_message_id"]))
    html = message.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<script>" not in content
    assert "<img" not in content
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in content
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in content


def test_subject_and_recipients_given_replace_the_defaults(api: Api, world: World) -> None:
    invoice = new_invoice(api, world)
    reply = send(
        api,
        invoice["id"],
        {"to": ["a@one.test", "b@two.test"], "subject": "Your invoice, Zoë", "message": "Thanks"},
        as_="alice",
    )
    assert reply.status == 200, reply.json()
    message = parse(message_by_id(reply.json()["send"]["ses_message_id"]))
    assert [a.addr_spec for a in message["To"].addresses] == ["a@one.test", "b@two.test"]
    assert message["Subject"] == "Your invoice, Zoë"
    text = message.get_body(("plain",))
    assert text is not None
    assert "Thanks" in text.get_content()


def test_a_resend_keeps_the_status_and_a_paid_invoice_goes_as_a_receipt(
    api: Api, world: World
) -> None:
    invoice = new_invoice(api, world, status="sent")
    first = send(api, invoice["id"], as_="alice")
    again = send(api, invoice["id"], as_="alice")
    assert first.status == again.status == 200
    assert first.json()["send"]["ses_message_id"] != again.json()["send"]["ses_message_id"]
    assert status_of(world, invoice["id"]) == "sent"
    assert len(activities(world, invoice["id"])) == 2

    paid = api.post(
        "/api/payments",
        as_="alice",
        json_body={"invoice_id": invoice["id"], "amount": "100.01"},
    )
    assert paid.status == 201, paid.json()
    receipt = send(api, invoice["id"], as_="alice")
    assert receipt.status == 200, receipt.json()
    assert receipt.json()["send"]["kind"] == "receipt"
    assert receipt.json()["invoice"]["status"] == "paid"
    message = parse(message_by_id(receipt.json()["send"]["ses_message_id"]))
    assert message["Subject"].startswith(f"Receipt for invoice {invoice['invoice_number']}")


def test_a_cancelled_invoice_is_not_sent(api: Api, world: World) -> None:
    invoice = new_invoice(api, world, status="sent")
    assert api.delete(f"/api/invoices/{invoice['id']}", as_="alice").status == 200
    before = len(sent_messages())
    reply = send(api, invoice["id"], as_="alice")
    assert reply.status == 422
    assert reply.error["code"] == "rule_violation"
    assert "cancelled" in reply.error["message"]
    assert len(sent_messages()) == before


def test_a_client_without_email_needs_to(api: Api, world: World) -> None:
    invoice = new_invoice(api, world, email_="")
    before = len(sent_messages())
    reply = send(api, invoice["id"], as_="alice")
    assert reply.status == 422
    assert reply.error["code"] == "validation_failed"
    assert reply.error["details"][0]["field"] == "to"
    assert "client.email" in reply.error["message"]
    assert len(sent_messages()) == before
    assert status_of(world, invoice["id"]) == "draft"
    assert send(api, invoice["id"], {"to": ["given@example.com"]}, as_="alice").status == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": ["not-an-address"]}, "to[0]"),
        ({"to": ["a@b.test\r\nBcc: evil@x.test"]}, "to[0]"),
        ({"to": ["Name <a@b.test>"]}, "to[0]"),
        ({"to": []}, "to"),
        ({"cc": [f"c{n}@x.test" for n in range(11)]}, "cc"),
        ({"to": ["a@b.test"], "cc": ["A@b.test"]}, "body"),
        ({"subject": "two\nlines"}, "subject"),
        ({"subject": ""}, "subject"),
        ({"message": "x" * 5001}, "message"),
        ({"attachments": []}, "attachments"),
    ],
)
def test_bad_bodies_are_422_and_send_nothing(
    api: Api, world: World, body: dict[str, Any], field: str
) -> None:
    invoice = new_invoice(api, world)
    before = len(sent_messages())
    reply = send(api, invoice["id"], body, as_="alice")
    assert reply.status == 422, reply.json()
    assert reply.error["code"] == "validation_failed"
    assert any(d["field"] == field for d in reply.error["details"]), reply.error
    assert len(sent_messages()) == before


def test_a_viewer_cannot_send_and_a_stranger_finds_nothing(api: Api, world: World) -> None:
    invoice = new_invoice(api, world)
    before = len(sent_messages())
    assert send(api, invoice["id"], as_="victor").status == 403
    stranger = send(api, invoice["id"], as_="bob")
    assert stranger.status == 404
    assert stranger.error["code"] == "not_found"
    # Naming organization A is refused too.
    assert send(api, invoice["id"], as_="bob", org=world.org_a).status == 403
    assert len(sent_messages()) == before
    assert status_of(world, invoice["id"]) == "draft"


# =============================================================================
# Idempotency-Key
# =============================================================================


def test_the_same_key_sends_once_and_replays_the_first_answer(api: Api, world: World) -> None:
    invoice = new_invoice(api, world)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    before = len(sent_messages())
    first = send(api, invoice["id"], {"cc": ["c@x.test"]}, as_="alice", headers=key)
    second = send(api, invoice["id"], {"cc": ["c@x.test"]}, as_="alice", headers=key)
    assert first.status == second.status == 200
    assert second.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.json() == first.json()
    assert len(sent_messages()) == before + 1
    assert len(activities(world, invoice["id"])) == 1

    other = send(api, invoice["id"], {"cc": ["d@x.test"]}, as_="alice", headers=key)
    assert other.status == 422
    assert other.error["code"] == "idempotency_key_reused"
    # Keys are a person's own: maria's request with alice's key is a new request.
    maria = send(api, invoice["id"], {"cc": ["c@x.test"]}, as_="maria", headers=key)
    assert maria.status == 200
    assert maria.json()["send"]["id"] != first.json()["send"]["id"]
    assert len(sent_messages()) == before + 2


def test_concurrent_requests_with_one_key_send_once(http_api: Api, world: World) -> None:
    invoice = new_invoice(http_api, world)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    before = len(sent_messages())
    replies: list[Response] = []
    lock = threading.Lock()

    def go() -> None:
        reply = send(http_api, invoice["id"], as_="alice", headers=key)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in replies] == [200] * 6, [r.json() for r in replies]
    assert len({r.json()["send"]["ses_message_id"] for r in replies}) == 1
    assert len(sent_messages()) == before + 1
    assert len(activities(world, invoice["id"])) == 1


# =============================================================================
# SES failures: nothing marked sent, the caller can retry
# =============================================================================


def test_an_unverified_sender_marks_nothing_and_the_key_can_be_retried(
    api: Api, world: World, sender: Any, aws: Provisioned
) -> None:
    invoice = new_invoice(api, world)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    before = len(sent_messages())
    sender(EMAIL_FROM="Nobody <nobody@unverified.test>")
    reply = send(api, invoice["id"], as_="alice", headers=key)
    assert reply.status == 503, reply.json()
    assert reply.error["details"]["reason"] == "sender_not_verified"
    assert "nothing was sent" in reply.error["message"]
    assert len(sent_messages()) == before
    assert status_of(world, invoice["id"]) == "draft"
    assert activities(world, invoice["id"]) == []
    sender(EMAIL_FROM=f"InvoiceFlow <{aws.sender}>")
    retry = send(api, invoice["id"], as_="alice", headers=key)
    assert retry.status == 200, retry.json()
    assert "idempotent-replayed" not in retry.headers
    assert status_of(world, invoice["id"]) == "sent"


def test_an_unreachable_email_service_is_a_retryable_503(
    api: Api, world: World, sender: Any
) -> None:
    invoice = new_invoice(api, world)
    sender(AWS_ENDPOINT_URL_SES="http://127.0.0.1:9")
    reply = send(api, invoice["id"], as_="alice")
    assert reply.status == 503
    assert reply.error["details"] == {"reason": "unavailable", "retryable": True}
    assert reply.headers.get("retry-after")
    assert status_of(world, invoice["id"]) == "draft"


@pytest.mark.parametrize(
    ("aws_code", "aws_message", "status", "code", "reason"),
    [
        (
            "MessageRejected",
            "Email address is not verified. The following identities failed the check",
            422,
            "email_rejected",
            "recipient_rejected",
        ),
        ("Throttling", "Maximum sending rate exceeded.", 503, "service_unavailable", "throttled"),
    ],
)
def test_ses_rejections_and_throttling_mark_nothing(  # noqa: PLR0917
    api: Api,
    world: World,
    aws_code: str,
    aws_message: str,
    status: int,
    code: str,
    reason: str,
) -> None:
    """Where moto cannot fail as SES does (sandbox recipients, rate limits): a stub on the
    real client answers SES's error, through the same botocore parsing."""
    invoice = new_invoice(api, world)
    client = shared_aws.client("ses")
    with Stubber(client) as stub:
        for _ in range(3):  # the client's own retries (throttling is retried)
            stub.add_client_error(
                "send_raw_email",
                service_error_code=aws_code,
                service_message=aws_message,
                http_status_code=400,
            )
        reply = send(api, invoice["id"], as_="alice")
    assert reply.status == status, reply.json()
    assert reply.error["code"] == code
    assert reply.error["details"]["reason"] == reason
    assert status_of(world, invoice["id"]) == "draft"
    assert activities(world, invoice["id"]) == []
    assert send(api, invoice["id"], as_="alice").status == 200, "a retry succeeds"


def test_the_moto_server_is_the_one_sending(aws: Provisioned) -> None:
    """The functions reach moto over HTTP (the endpoint of the session), not a mock."""
    assert os.environ["AWS_ENDPOINT_URL"] == aws.endpoint
