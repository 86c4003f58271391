"""The recurring invoices job (docs/jobs.md, "Recurring invoices"), invoked by name through
the function host as EventBridge runs it, against the real database, the moto server and
the bulk queue's worker.

Each test makes its own organization and scopes the job to it (``organization_ids``) with a
fixed clock (``now``): the dates compared are the test's own, never today's.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import pytest

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from devstack.queues import QueuePoller
from shared.jobs import JobInputError
from tests.api.conftest import World
from tests.api.jobs.test_jobs import ses_messages

pytestmark = pytest.mark.usefixtures("aws")

JOB = "jobsRecurring"


def new_org(world: World, time_zone: str = "UTC") -> str:
    person = world.add_person(f"recurring-{uuid.uuid4().hex[:8]}")
    world.sql(
        "update public.organization_settings set time_zone = %s where organization_id = %s",
        time_zone,
        person.personal_org,
    )
    return person.personal_org


def add_client(world: World, org: str, mail: str | None = None) -> str:
    rows = world.sql(
        "insert into public.clients (organization_id, company_name, email, currency)"
        " values (%s, %s, %s, 'USD') returning id::text",
        org,
        f"Client {uuid.uuid4().hex[:6]}",
        mail,
    )
    return str(rows[0][0])


def add_profile(world: World, org: str, client: str, **fields: Any) -> str:
    """A profile made through its RPC (as the database's owner: no JWT)."""
    import json  # noqa: PLC0415

    doc = {"client_id": client, "frequency": "monthly", **fields}
    rows = world.sql(
        "select (public.create_recurring_profile(%s, %s::jsonb,"
        ' \'[{"description": "Retainer", "quantity": 1, "rate": "250.00"}]\')'
        " ->> 'id')",
        org,
        json.dumps(doc),
    )
    return str(rows[0][0])


def run(host: FunctionHost, org: str | list[str], now: str, **extra: Any) -> dict[str, Any]:
    orgs = org if isinstance(org, list) else [org]
    result: dict[str, Any] = host.invoke_by_name(
        JOB, {"organization_ids": orgs, "now": now, **extra}
    )
    return result


def issued(world: World, profile: str) -> list[tuple[Any, ...]]:
    return world.sql(
        "select recurring_period_start, issue_date, due_date, status from public.invoices"
        " where recurring_profile_id = %s order by recurring_period_start",
        profile,
    )


def emails_to(mail: str) -> list[Any]:
    return [m for m in ses_messages().values() if mail in m.destinations]


@pytest.fixture
def worker(function_host: FunctionHost, aws: Provisioned) -> QueuePoller:
    """Lambda's event source mapping for the bulk queue, drained by the test."""
    return QueuePoller(
        function_host, function_host.by_name["jobsBulkWorker"], aws.bulk_queue_url, aws.endpoint
    )


def test_missed_periods_are_issued_once_each_dated_for_their_period(
    world: World, function_host: FunctionHost
) -> None:
    org = new_org(world)
    profile = add_profile(world, org, add_client(world, org), start_date="2025-01-31")
    first = run(function_host, org, "2025-06-15T12:00:00+00:00")
    assert (first["issued"], first["drafts"], first["emailing"]) == (5, 5, 0)
    assert [(str(r[0]), str(r[1]), r[3]) for r in issued(world, profile)] == [
        ("2025-01-31", "2025-01-31", "draft"),
        ("2025-02-28", "2025-02-28", "draft"),
        ("2025-03-31", "2025-03-31", "draft"),
        ("2025-04-30", "2025-04-30", "draft"),
        ("2025-05-31", "2025-05-31", "draft"),
    ]
    assert all(r[2] - r[1] == dt.timedelta(days=30) for r in issued(world, profile))
    again = run(function_host, org, "2025-06-15T12:00:00+00:00")
    assert again["issued"] == 0
    later = run(function_host, org, "2025-06-30T23:00:00+00:00")
    assert (later["issued"], len(issued(world, profile))) == (1, 6)


def test_small_chunks_issue_the_same_periods(world: World, function_host: FunctionHost) -> None:
    org = new_org(world)
    client = add_client(world, org)
    profiles = [add_profile(world, org, client, start_date="2025-01-10") for _ in range(3)]
    summary = run(function_host, org, "2025-04-20T08:00:00+00:00", batch_limit=2)
    assert summary["issued"] == 12  # 3 profiles x January to April
    assert summary["calls"] == 7  # 2 a call; the seventh finds nothing
    for profile in profiles:
        assert [str(r[0]) for r in issued(world, profile)] == [
            "2025-01-10",
            "2025-02-10",
            "2025-03-10",
            "2025-04-10",
        ]


def test_two_runs_at_once_issue_each_period_once(world: World, function_host: FunctionHost) -> None:
    org = new_org(world)
    client = add_client(world, org)
    profiles = [add_profile(world, org, client, start_date="2025-01-05") for _ in range(40)]
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        try:
            barrier.wait()
            results.append(run(function_host, org, "2025-03-20T12:00:00+00:00", batch_limit=7))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sum(r["issued"] for r in results) == 40 * 3
    counts = world.sql(
        "select count(*), count(distinct (recurring_profile_id, recurring_period_start)),"
        " count(distinct invoice_number) from public.invoices where organization_id = %s",
        org,
    )[0]
    assert counts == (120, 120, 120)
    cycles = world.sql(
        "select distinct cycles_issued from public.recurring_profiles where id = any(%s::uuid[])",
        profiles,
    )
    assert cycles == [(3,)]


@pytest.mark.parametrize(
    ("time_zone", "before", "after"),
    [
        # UTC+14: 1 March starts at 10:00 UTC on 29 February.
        ("Pacific/Kiritimati", "2024-02-29T09:59:00+00:00", "2024-02-29T10:01:00+00:00"),
        # UTC-12: 1 March starts at 12:00 UTC on 1 March.
        ("Etc/GMT+12", "2024-03-01T11:59:00+00:00", "2024-03-01T12:01:00+00:00"),
    ],
)
def test_a_period_is_due_on_its_day_where_the_business_is(
    world: World, function_host: FunctionHost, time_zone: str, before: str, after: str
) -> None:
    org = new_org(world, time_zone)
    profile = add_profile(world, org, add_client(world, org), start_date="2024-03-01")
    assert run(function_host, org, before)["issued"] == 0
    assert run(function_host, org, after)["issued"] == 1
    assert [str(r[1]) for r in issued(world, profile)] == ["2024-03-01"]


def test_auto_send_emails_only_the_current_period_through_the_bulk_queue(
    world: World, function_host: FunctionHost, worker: QueuePoller
) -> None:
    org = new_org(world)
    mail = f"ap-{uuid.uuid4().hex[:6]}@client.example"
    profile = add_profile(
        world, org, add_client(world, org, mail), start_date="2025-01-15", auto_send=True
    )
    summary = run(function_host, org, "2025-04-20T09:00:00+00:00")
    assert (summary["issued"], summary["drafts"], summary["emailing"]) == (4, 3, 1)
    assert summary["messages_queued"] == 1
    worker.drain()
    rows = issued(world, profile)
    assert [r[3] for r in rows] == ["draft", "draft", "draft", "sent"]
    assert len(emails_to(mail)) == 1, "one email for the catch-up, not four"
    # A second run and drain send nothing more.
    assert run(function_host, org, "2025-04-20T10:00:00+00:00")["issued"] == 0
    worker.drain()
    assert len(emails_to(mail)) == 1


def test_a_malformed_event_names_its_field(function_host: FunctionHost) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"now": "yesterday"}, "now"),
        ({"now": "2025-01-01T00:00:00"}, "now"),
        ({"as_of": "2025-01-01"}, "as_of"),
        ({"batch_limit": 0}, "batch_limit"),
        ({"organization_ids": ["x"]}, "organization_ids"),
    ]
    for event, field in cases:
        with pytest.raises(JobInputError, match=field):
            function_host.invoke_by_name(JOB, event)
