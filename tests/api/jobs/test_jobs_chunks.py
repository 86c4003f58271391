"""The scheduled jobs in bounded calls (docs/architecture.md, "Statement timeouts";
docs/jobs.md): a run that needs several calls does the work of one, once.

The chunk sizes are set small for the tests (the jobs' own constants, 2,000 in
production), so a handful of invoices takes several calls.
"""

from __future__ import annotations

import datetime as dt

import pytest

from devstack.functions import FunctionHost
from functions.jobs import mark_overdue, reminders
from tests.api.conftest import World
from tests.api.jobs.test_jobs import new_tenant, run, scoped, ses_outage, utc_today

pytestmark = pytest.mark.usefixtures("aws")


def test_mark_overdue_in_chunks_marks_each_once_with_one_notice(
    function_host: FunctionHost, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(function_host, "jobsMarkOverdue")  # settles whatever the session made before
    monkeypatch.setattr(mark_overdue, "MARK_BATCH", 2)
    tenant = new_tenant(world)
    admin = tenant.member("admin")
    today = utc_today()
    due = {tenant.invoice(due=today - dt.timedelta(days=d))[0] for d in range(1, 6)}
    later, _ = tenant.invoice(due=today + dt.timedelta(days=3))

    first = run(function_host, "jobsMarkOverdue")
    assert (first["marked"], first["activities"], first["calls"]) == (5, 5, 3), first
    assert first["notifications_queued"] == 2, first  # the owner and the admin, once each
    statuses = dict(
        world.sql(
            "select id::text, status from public.invoices where organization_id = %s", tenant.org
        )
    )
    assert statuses == {**dict.fromkeys(due, "overdue"), later: "sent"}
    notices = world.sql(
        "select u.email, (select array_agg(x::text order by x::text) from unnest(d.invoice_ids) x)"
        " from public.email_deliveries d join auth.users u on u.id = d.user_id"
        " where d.organization_id = %s and d.kind = 'invoice_overdue' order by 1",
        tenant.org,
    )
    assert sorted(row[0] for row in notices) == sorted([tenant.people[tenant.owner], admin])
    assert all(row[1] == sorted(due) for row in notices), notices

    second = run(function_host, "jobsMarkOverdue")
    assert (second["marked"], second["notifications_queued"], second["calls"]) == (0, 0, 1)
    assert len(tenant.deliveries("invoice_overdue")) == 2


def test_reminders_open_in_chunks_and_send_each_once(
    function_host: FunctionHost, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "OPEN_BATCH", 2)
    tenant = new_tenant(world)
    today = utc_today()
    ids = {tenant.invoice(due=today - dt.timedelta(days=d))[0] for d in range(1, 6)}

    result = run(function_host, "jobsReminders", scoped(tenant))
    assert (result["opened"], result["open_calls"], result["sent"]) == (5, 3, 5), result
    rows = tenant.deliveries("payment_reminder")
    assert sorted(row[0] for row in rows) == sorted(ids)
    assert {row[2] for row in rows} == {"sent"}

    again = run(function_host, "jobsReminders", scoped(tenant))
    assert (again["opened"], again["claimed"], again["sent"]) == (0, 0, 0), again


def test_a_reminder_no_longer_due_is_superseded_when_claimed(
    function_host: FunctionHost, world: World
) -> None:
    tenant = new_tenant(world)
    invoice_id, _ = tenant.invoice(due=utc_today() - dt.timedelta(days=2), rate="80.00")
    with ses_outage():
        down = run(function_host, "jobsReminders", scoped(tenant))
    assert down["retry_later"] == 1, down
    world.sql(  # paid in full since: nothing left to remind of
        "insert into public.payments (invoice_id, amount, payment_date)"
        " values (%s, 80.00, current_date)",
        invoice_id,
    )

    result = run(function_host, "jobsReminders", scoped(tenant))
    assert (result["claimed"], result["sent"], result["superseded"]) == (0, 0, 1), result
    ((_, _, status, message_id, _, attempts),) = tenant.deliveries("payment_reminder")
    assert (status, message_id, attempts) == ("superseded", None, 1)
