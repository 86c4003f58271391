"""The scheduled jobs (docs/api.md, "Scheduled jobs"), invoked by name through the
function host as Lambda runs them, against the real database and the moto server.

Each test makes its own organizations (a new owner each) and scopes the sending jobs to
them with ``organization_ids``, so the session's other data stays out of the counts.
Mark overdue has no such scope (it is one statement over every organization): its
tests settle the database with a first run, then count what they made.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from pypdf import PdfReader

from devstack.aws import Provisioned
from devstack.functions import ROOT, FunctionHost
from devstack.postgres import free_port
from shared import aws as shared_aws
from shared.jobs import JobInputError
from shared.settings import get_settings
from tests.api.conftest import World

pytestmark = pytest.mark.usefixtures("aws")


# =============================================================================
# Helpers
# =============================================================================


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass
class Tenant:
    world: World
    owner: str  # the person's name in the world
    org: str
    client: str = ""
    email: str = ""
    business: str = ""
    people: dict[str, str] = field(default_factory=dict)  # name -> email

    def member(self, role: str, **preferences: bool) -> str:
        """A new member with ``role`` (and email preferences); returns their email."""
        name = unique(f"jobs-{role}")
        person = self.world.add_person(name, self.org, role)
        if preferences:
            self.world.sql(
                "update public.user_settings set email_notifications = email_notifications || %s"
                " where user_id = %s",
                _json(preferences),
                person.id,
            )
        self.people[name] = person.email
        return person.email

    def add_client(self, mail: str | None) -> str:
        rows = self.world.sql(
            "insert into public.clients (organization_id, company_name, email, currency)"
            " values (%s, %s, %s, 'USD') returning id::text",
            self.org,
            unique("Client"),
            mail,
        )
        return str(rows[0][0])

    def invoice(
        self,
        *,
        due: dt.date,
        status: str = "sent",
        rate: str = "150.00",
        client: str | None = None,
        sent_days_ago: int = 30,
    ) -> tuple[str, str]:
        """An invoice of one item (no tax) due on ``due``; returns its id and number."""
        issue = min(due, utc_today()) - dt.timedelta(days=40)
        rows = self.world.sql(
            "insert into public.invoices (organization_id, client_id, issue_date, due_date,"
            " tax_rate) values (%s, %s, %s, %s, 0) returning id::text, invoice_number",
            self.org,
            client or self.client,
            issue,
            due,
        )
        invoice_id, number = str(rows[0][0]), str(rows[0][1])
        self.world.sql(
            "insert into public.invoice_items (invoice_id, description, quantity, rate)"
            " values (%s, 'Consulting', 1, %s)",
            invoice_id,
            Decimal(rate),
        )
        if status in ("sent", "paid"):
            self.world.sql("update public.invoices set status = 'sent' where id = %s", invoice_id)
            self.world.sql(
                "update public.invoices set sent_at = now() - make_interval(days => %s)"
                " where id = %s",
                sent_days_ago,
                invoice_id,
            )
        if status == "paid":
            self.world.sql(
                "insert into public.payments (invoice_id, amount, payment_date)"
                " values (%s, %s, current_date)",
                invoice_id,
                Decimal(rate),
            )
        return invoice_id, number

    def reminder_settings(self, **values: Any) -> None:
        self.world.sql(
            "update public.organization_settings set reminder_settings = %s"
            " where organization_id = %s",
            _json(values),
            self.org,
        )

    def legacy_reminders(self, **old: Any) -> None:
        """The settings of before reminder levels, as the migration maps them (the slots:
        level1 from the days before due, level2 on day +1, repeat daily or weekly)."""
        self.world.sql(
            "update public.organization_settings"
            " set reminder_settings = private.reminder_settings_from_legacy(%s)"
            " where organization_id = %s",
            _json(old),
            self.org,
        )

    def deliveries(self, kind: str) -> list[tuple[Any, ...]]:
        """(invoice_id, slot, status, message_id, recipient, attempts) of the organization."""
        return self.world.sql(
            "select invoice_id::text, slot, status, message_id, recipient, attempts"
            " from public.email_deliveries where organization_id = %s and kind = %s"
            " order by created_at, id",
            self.org,
            kind,
        )


def _json(value: Any) -> str:
    import json  # noqa: PLC0415 - only here

    return json.dumps(value)


def new_tenant(world: World) -> Tenant:
    name = unique("jobs")
    person = world.add_person(name)
    tenant = Tenant(world=world, owner=name, org=person.personal_org)
    tenant.email = f"ap-{uuid.uuid4().hex[:6]}@client.example"
    tenant.client = tenant.add_client(tenant.email)
    tenant.people[name] = person.email
    tenant.business = str(
        world.sql(
            "select business_name from public.organization_settings where organization_id = %s",
            tenant.org,
        )[0][0]
    )
    tenant.legacy_reminders(enabled=True, daysBeforeDue=7, overdueFrequency="daily")
    return tenant


def run(host: FunctionHost, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    """Invokes a job by its serverless.yml name, as EventBridge (or devstack.invoke) does."""
    result: dict[str, Any] = host.invoke_by_name(name, event or {})
    return result


def scoped(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    return {"organization_ids": [tenant.org], **extra}


def ses_messages() -> dict[str, Any]:
    """Every message the moto server's SES accepted, by message id (the server runs in
    this process)."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return {message.id: message for message in backend.sent_messages}


def parsed(message_id: str) -> EmailMessage:
    raw = ses_messages()[message_id].raw_data
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def pdf_text(message: EmailMessage) -> str:
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1, "one attachment"
    (attachment,) = attachments
    assert attachment.get_content_type() == "application/pdf"
    content = attachment.get_content()
    assert isinstance(content, bytes)
    assert content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """The functions' environment changed for the block (settings and AWS clients anew)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    get_settings.cache_clear()
    shared_aws.reset()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        shared_aws.reset()


def ses_outage() -> Any:
    """SES unreachable (nothing listens on the port): a retryable failure."""
    return environment(AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")


# =============================================================================
# Mark overdue and the overdue notices
# =============================================================================


def test_mark_overdue_twice_marks_once(function_host: FunctionHost, world: World) -> None:
    run(function_host, "jobsMarkOverdue")  # settles whatever the session made before
    tenant = new_tenant(world)
    today = utc_today()
    late, _ = tenant.invoice(due=today - dt.timedelta(days=3))
    due_today, _ = tenant.invoice(due=today)
    draft, _ = tenant.invoice(due=today - dt.timedelta(days=3), status="draft")
    paid, _ = tenant.invoice(due=today - dt.timedelta(days=3), status="paid")

    first = run(function_host, "jobsMarkOverdue")
    counts = (first["marked"], first["activities"], first["organizations"])
    assert counts == (1, 1, 1), first
    assert first["notifications_queued"] == 1, first
    assert first["as_of"] == today.isoformat()
    statuses = dict(
        world.sql(
            "select id::text, status from public.invoices where organization_id = %s", tenant.org
        )
    )
    assert statuses == {late: "overdue", due_today: "sent", draft: "draft", paid: "paid"}
    activities = world.sql(
        "select metadata ->> 'invoice_id' from public.client_activities"
        " where organization_id = %s and type = 'invoice_overdue'",
        tenant.org,
    )
    assert activities == [(late,)]

    second = run(function_host, "jobsMarkOverdue")
    assert (second["marked"], second["activities"], second["notifications_queued"]) == (0, 0, 0)
    assert len(tenant.deliveries("invoice_overdue")) == 1


def test_mark_overdue_concurrent_runs_count_once(function_host: FunctionHost, world: World) -> None:
    run(function_host, "jobsMarkOverdue")
    tenant = new_tenant(world)
    for days in range(1, 6):
        tenant.invoice(due=utc_today() - dt.timedelta(days=days))
    spec = function_host.by_name["jobsMarkOverdue"]
    futures = [function_host.submit(spec, {}) for _ in range(2)]
    results = [future.result() for future in futures]
    assert sorted(r["marked"] for r in results) == [0, 5], results
    assert sum(r["notifications_queued"] for r in results) == 1


def test_overdue_notices_go_to_owners_and_admins_who_asked_once(
    function_host: FunctionHost, world: World
) -> None:
    run(function_host, "jobsMarkOverdue")
    tenant = new_tenant(world)
    owner_email = tenant.people[tenant.owner]
    admin_email = tenant.member("admin")
    quiet_email = tenant.member("admin", invoiceOverdue=False)
    member_email = tenant.member("member")
    other = new_tenant(world)  # another organization, its own invoice past due
    other.invoice(due=utc_today() - dt.timedelta(days=2))
    _, first = tenant.invoice(due=utc_today() - dt.timedelta(days=4), rate="120.00")
    _, second = tenant.invoice(due=utc_today() - dt.timedelta(days=2), rate="80.50")
    run(function_host, "jobsMarkOverdue")

    result = run(function_host, "jobsNotifications", scoped(tenant))
    assert (result["claimed"], result["sent"], result["failed"]) == (2, 2, 0), result
    rows = tenant.deliveries("invoice_overdue")
    assert {row[2] for row in rows} == {"sent"}
    recipients = {row[4] for row in rows}
    assert recipients == {owner_email, admin_email}
    assert quiet_email not in recipients
    assert member_email not in recipients
    for row in rows:
        message = parsed(row[3])
        assert message["To"].addresses[0].addr_spec == row[4]
        assert message["Subject"] == f"2 invoices are now overdue at {tenant.business}"
        text, html = bodies(message)
        for body in (text, html):
            assert first in body
            assert second in body
            assert "$200.50" in body  # the total due
        assert "/invoices?status=overdue" in text

    again = run(function_host, "jobsNotifications", scoped(tenant))
    assert (again["claimed"], again["sent"]) == (0, 0)
    # The other organization's notice was left alone by a run scoped to this one.
    assert {row[2] for row in other.deliveries("invoice_overdue")} == {"pending"}


# =============================================================================
# Reminders
# =============================================================================


def test_reminders_email_the_client_with_the_pdf_once(
    function_host: FunctionHost, world: World
) -> None:
    tenant = new_tenant(world)
    today = utc_today()
    overdue_id, overdue_no = tenant.invoice(due=today - dt.timedelta(days=5), rate="1234.50")
    soon_id, soon_no = tenant.invoice(due=today + dt.timedelta(days=3), rate="99.99")
    tenant.invoice(due=today + dt.timedelta(days=30))  # not yet in its window
    tenant.invoice(due=today - dt.timedelta(days=5), status="paid")
    tenant.invoice(due=today - dt.timedelta(days=5), client=tenant.add_client(None))  # no email
    tenant.invoice(due=today - dt.timedelta(days=5), status="draft")
    world.sql(  # client-supplied text is text in the HTML, never markup
        "update public.clients set contact_person = 'Ana <script>x</script>' where id = %s",
        tenant.client,
    )

    result = run(function_host, "jobsReminders", scoped(tenant))
    assert (result["claimed"], result["sent"], result["failed"]) == (2, 2, 0), result
    rows = {row[0]: row for row in tenant.deliveries("payment_reminder")}
    assert set(rows) == {overdue_id, soon_id}
    assert rows[overdue_id][1] == f"repeat:{today.isoformat()}"
    assert rows[soon_id][1] == f"level1:{(today + dt.timedelta(days=3)).isoformat()}"

    for invoice_id, number, total, subject_start in (
        (overdue_id, overdue_no, "$1,234.50", f"Overdue: invoice {overdue_no}"),
        (soon_id, soon_no, "$99.99", f"Reminder: invoice {soon_no}"),
    ):
        row = rows[invoice_id]
        assert row[2] == "sent"
        assert row[4] == tenant.email
        message = parsed(row[3])
        assert [a.addr_spec for a in message["To"].addresses] == [tenant.email]
        assert str(message["Subject"]).startswith(subject_start)
        text = pdf_text(message)
        assert number in text
        assert total in text
        plain, html = bodies(message)
        assert number in plain
        assert total in plain
        assert number in html
        assert "Dear Ana <script>x</script>," in plain
        assert "<script>" not in html
        assert "Ana &lt;script&gt;x&lt;/script&gt;" in html
    timeline = world.sql(
        "select metadata ->> 'invoice_id' from public.client_activities"
        " where organization_id = %s and type = 'communication'",
        tenant.org,
    )
    assert sorted(t[0] for t in timeline) == sorted([overdue_id, soon_id])

    again = run(function_host, "jobsReminders", scoped(tenant))
    assert (again["claimed"], again["sent"], again["opened"]) == (0, 0, 0), again


def test_reminders_concurrent_runs_send_each_once(
    function_host: FunctionHost, world: World
) -> None:
    tenant = new_tenant(world)
    ids = {tenant.invoice(due=utc_today() - dt.timedelta(days=d))[0] for d in range(1, 9)}
    before = set(ses_messages())
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def one_run() -> None:
        barrier.wait()
        results.append(run(function_host, "jobsReminders", scoped(tenant, batch_limit=2)))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    assert sum(r["sent"] for r in results) == len(ids), results
    rows = tenant.deliveries("payment_reminder")
    assert sorted(row[0] for row in rows) == sorted(ids)
    assert {row[2] for row in rows} == {"sent"}
    assert {row[5] for row in rows} == {1}
    new_messages = set(ses_messages()) - before
    ours = {row[3] for row in rows}
    assert ours <= new_messages
    assert len(ours) == len(ids)


def test_reminders_catch_up_after_missed_days_with_one(
    function_host: FunctionHost, world: World
) -> None:
    tenant = new_tenant(world)
    today = utc_today()
    daily_id, _ = tenant.invoice(due=today - dt.timedelta(days=20))
    # The job last ran four days ago ...
    past = run(function_host, "jobsReminders", scoped(tenant, as_of=str(today - dt.timedelta(4))))
    assert past["sent"] == 1
    # ... and missed three days: today's run sends one reminder, not four.
    now = run(function_host, "jobsReminders", scoped(tenant))
    assert (now["claimed"], now["sent"]) == (1, 1), now
    slots = [row[1] for row in tenant.deliveries("payment_reminder")]
    assert slots == [f"repeat:{today - dt.timedelta(days=4)}", f"repeat:{today}"]

    weekly = new_tenant(world)
    weekly.legacy_reminders(overdueFrequency="weekly")
    weekly.invoice(due=today - dt.timedelta(days=20))  # slots on days 1, 8, 15 after due
    result = run(function_host, "jobsReminders", scoped(weekly))
    assert result["sent"] == 1
    assert [row[1] for row in weekly.deliveries("payment_reminder")] == [
        f"repeat:{today - dt.timedelta(days=20) + dt.timedelta(days=15)}"
    ]
    assert daily_id


def test_reminders_follow_the_organization_settings(
    function_host: FunctionHost, world: World
) -> None:
    today = utc_today()
    off = new_tenant(world)
    off.legacy_reminders(enabled=False)
    off.invoice(due=today - dt.timedelta(days=3))
    off.invoice(due=today + dt.timedelta(days=2))
    never_overdue = new_tenant(world)
    never_overdue.legacy_reminders(overdueFrequency="none", daysBeforeDue=2)
    never_overdue.invoice(due=today - dt.timedelta(days=3))
    soon_id, _ = never_overdue.invoice(due=today + dt.timedelta(days=2))
    just_sent = new_tenant(world)  # sent yesterday, due in 3 days: the window opened before
    just_sent.invoice(due=today + dt.timedelta(days=3), sent_days_ago=1)

    result = run(
        function_host,
        "jobsReminders",
        {"organization_ids": [off.org, never_overdue.org, just_sent.org]},
    )
    assert result["sent"] == 1, result
    assert off.deliveries("payment_reminder") == []
    assert just_sent.deliveries("payment_reminder") == []
    assert [row[0] for row in never_overdue.deliveries("payment_reminder")] == [soon_id]


def test_reminders_leave_other_organizations_alone(
    function_host: FunctionHost, world: World
) -> None:
    mine, theirs = new_tenant(world), new_tenant(world)
    mine.invoice(due=utc_today() - dt.timedelta(days=2))
    theirs.invoice(due=utc_today() - dt.timedelta(days=2))
    result = run(function_host, "jobsReminders", scoped(mine))
    assert result["sent"] == 1
    assert theirs.deliveries("payment_reminder") == []
    (row,) = mine.deliveries("payment_reminder")
    assert row[4] == mine.email != theirs.email


def test_ses_outage_is_not_marked_sent_and_is_retried_next_run(
    function_host: FunctionHost, world: World
) -> None:
    tenant = new_tenant(world)
    invoice_id, _ = tenant.invoice(due=utc_today() - dt.timedelta(days=2))
    before = set(ses_messages())
    with ses_outage():
        down = run(function_host, "jobsReminders", scoped(tenant))
    assert (down["sent"], down["retry_later"]) == (0, 1), down
    ((_, _, status, message_id, _, attempts),) = tenant.deliveries("payment_reminder")
    assert (status, message_id, attempts) == ("pending", None, 1)
    assert set(ses_messages()) == before
    assert not world.sql(
        "select 1 from public.client_activities where type = 'communication'"
        " and metadata ->> 'invoice_id' = %s",
        invoice_id,
    )

    back = run(function_host, "jobsReminders", scoped(tenant))
    assert (back["claimed"], back["sent"]) == (1, 1), back
    ((_, _, status, message_id, _, attempts),) = tenant.deliveries("payment_reminder")
    assert status == "sent"
    assert message_id in ses_messages()
    assert attempts == 2
    assert run(function_host, "jobsReminders", scoped(tenant))["sent"] == 0


def test_a_refused_sender_fails_for_good(
    function_host: FunctionHost, world: World, aws: Provisioned
) -> None:
    tenant = new_tenant(world)
    tenant.invoice(due=utc_today() - dt.timedelta(days=2))
    with environment(EMAIL_FROM="Nobody <nobody@unverified.example>"):
        refused = run(function_host, "jobsReminders", scoped(tenant))
    assert (refused["sent"], refused["failed"]) == (0, 1), refused
    ((_, _, status, _, _, _),) = tenant.deliveries("payment_reminder")
    assert status == "failed"
    assert run(function_host, "jobsReminders", scoped(tenant))["claimed"] == 0
    assert aws.sender != "nobody@unverified.example"


# =============================================================================
# Summaries
# =============================================================================


def test_summaries_once_per_member_and_period(function_host: FunctionHost, world: World) -> None:
    tenant = new_tenant(world)
    viewer_email = tenant.member("viewer")
    no_weekly = tenant.member("admin", weeklyReport=False)
    today = utc_today()
    last_week = today - dt.timedelta(days=today.weekday() + 7)  # last week's Monday
    invoice_id, _ = tenant.invoice(due=today + dt.timedelta(days=10), rate="400.00")
    world.sql("update public.invoices set issue_date = %s where id = %s", last_week, invoice_id)
    world.sql(
        "insert into public.payments (invoice_id, amount, payment_date) values (%s, 150, %s)",
        invoice_id,
        last_week + dt.timedelta(days=1),
    )

    weekly = run(function_host, "jobsSummaries", scoped(tenant, period="week"))
    assert (weekly["claimed"], weekly["sent"]) == (2, 2), weekly
    assert weekly["from"] == last_week.isoformat()
    assert weekly["to"] == (last_week + dt.timedelta(days=6)).isoformat()
    rows = tenant.world.sql(
        "select recipient, message_id from public.email_deliveries"
        " where organization_id = %s and kind = 'weekly_summary'",
        tenant.org,
    )
    assert {r[0] for r in rows} == {tenant.people[tenant.owner], viewer_email}
    assert no_weekly not in {r[0] for r in rows}
    message = parsed(rows[0][1])
    assert str(message["Subject"]).startswith(f"Your weekly summary for {tenant.business}")
    text, html = bodies(message)
    assert "Billed:          $400.00 (1 invoice)" in text
    assert "Collected:       $150.00 (1 payment)" in text
    assert "$250.00" in html  # outstanding now

    again = run(function_host, "jobsSummaries", scoped(tenant, period="week"))
    assert (again["opened"], again["claimed"]) == (0, 0), again
    monthly = run(function_host, "jobsSummaries", scoped(tenant, period="month"))
    assert monthly["sent"] == 3  # monthly: nobody opted out
    assert run(function_host, "jobsSummaries", scoped(tenant, period="month"))["sent"] == 0


def test_jobs_refuse_bad_events(function_host: FunctionHost) -> None:
    with pytest.raises(JobInputError, match="period"):
        run(function_host, "jobsSummaries", {"period": "year"})
    with pytest.raises(JobInputError, match="as_of"):
        run(function_host, "jobsMarkOverdue", {"as_of": "yesterday"})
    with pytest.raises(JobInputError, match="organization_ids"):
        run(function_host, "jobsReminders", {"organization_ids": ["not-a-uuid"]})


# =============================================================================
# By name, through the devstack
# =============================================================================


def test_python_m_devstack_invoke_runs_a_job_by_name(emulator: str, world: World) -> None:
    tenant = new_tenant(world)
    tenant.invoice(due=utc_today() - dt.timedelta(days=1))
    done = subprocess.run(
        [sys.executable, "-m", "devstack.invoke", "jobsMarkOverdue", "--url", emulator],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"marked":' in done.stdout
    assert '"job": "mark_overdue"' in done.stdout
    assert world.sql(
        "select status from public.invoices where organization_id = %s", tenant.org
    ) == [("overdue",)]
