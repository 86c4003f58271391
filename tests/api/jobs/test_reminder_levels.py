"""Reminder levels and late fees through the reminder job's handler (functions/jobs/
reminders.py; the rules in supabase/migrations/20261206110500_reminder_levels.sql), as
Lambda runs it, against the real database and the moto server's SES.

Dates are relative to today (UTC: the tenants' time zone is UTC), so nothing depends on
the day the tests run.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest

from devstack.functions import FunctionHost
from tests.api.conftest import World
from tests.api.jobs.test_jobs import (
    Tenant,
    bodies,
    new_tenant,
    parsed,
    pdf_text,
    run,
    scoped,
    ses_messages,
    utc_today,
)

pytestmark = pytest.mark.usefixtures("aws")

LEVELS = [
    {
        "days": -3,
        "subject": "Coming up: {invoice_number} for {amount_due}",
        "message": "Hello {client_name},\n\n{invoice_number} is due on {due_date},"
        " in {days_until_due} days.",
    },
    {
        "days": 2,
        "subject": "{business_name}: {invoice_number} is {days_overdue} days late",
        "message": "Hello {client_name},\n\n{amount_due} of {total} is still due.",
    },
    {
        "days": 10,
        "subject": "Final notice: {invoice_number}",
        "message": "Last call for {invoice_number} (issued {issue_date}): {amount_due}.",
    },
]


def levelled(tenant: Tenant, **extra: Any) -> None:
    tenant.reminder_settings(enabled=True, levels=LEVELS, repeatEveryDays=5, **extra)


def invoice_figures(world: World, invoice_id: str) -> tuple[Any, ...]:
    rows = world.sql(
        "select i.total_amount, i.balance_due, i.status,"
        " (select count(*) from public.invoice_late_fees f where f.invoice_id = i.id),"
        " (select count(*) from public.invoice_items it where it.invoice_id = i.id"
        "   and it.description like 'Late fee%%')"
        " from public.invoices i where i.id = %s",
        invoice_id,
    )
    return tuple(rows[0])


def test_each_level_sends_its_own_subject_and_message(
    function_host: FunctionHost, world: World
) -> None:
    tenant = new_tenant(world)
    levelled(tenant)
    today = utc_today()
    soon_id, soon_no = tenant.invoice(due=today + dt.timedelta(days=3), rate="80.00")
    late_id, late_no = tenant.invoice(due=today - dt.timedelta(days=2), rate="120.00")
    final_id, final_no = tenant.invoice(due=today - dt.timedelta(days=12), rate="40.00")
    tenant.invoice(due=today - dt.timedelta(days=1))  # between level 1 and 2: nothing

    result = run(function_host, "jobsReminders", scoped(tenant))
    assert (result["sent"], result["failed"], result["late_fees"]) == (3, 0, 0), result
    rows = {row[0]: row for row in tenant.deliveries("payment_reminder")}
    assert {invoice_id: row[1] for invoice_id, row in rows.items()} == {
        soon_id: f"level1:{today + dt.timedelta(days=3)}",
        late_id: f"level2:{today - dt.timedelta(days=2)}",
        final_id: f"level3:{today - dt.timedelta(days=12)}",
    }
    subjects = {key: str(parsed(rows[key][3])["Subject"]) for key in rows}
    assert subjects[soon_id] == f"Coming up: {soon_no} for $80.00"
    assert subjects[late_id] == f"{tenant.business}: {late_no} is 2 days late"
    assert subjects[final_id] == f"Final notice: {final_no}"
    plain, html = bodies(parsed(rows[soon_id][3]))
    assert "in 3 days." in plain
    assert f"{soon_no} is due on" in html
    plain, _ = bodies(parsed(rows[late_id][3]))
    assert "$120.00 of $120.00 is still due." in plain
    assert "{" not in plain


def test_a_late_fee_once_per_level_however_often_the_job_runs(
    function_host: FunctionHost, world: World
) -> None:
    tenant = new_tenant(world)
    levelled(tenant, lateFee={"type": "fixed", "amount": 25, "levels": [2, 3]})
    today = utc_today()
    ids = [
        tenant.invoice(due=today - dt.timedelta(days=2 + n % 3), rate="100.00")[0] for n in range(6)
    ]
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
    results.append(run(function_host, "jobsReminders", scoped(tenant)))
    assert sum(r["late_fees"] for r in results) == len(ids), results
    assert sum(r["sent"] for r in results) == len(ids), results

    rows = tenant.deliveries("payment_reminder")
    assert sorted(row[0] for row in rows) == sorted(ids), "one email per invoice and slot"
    assert {row[2] for row in rows} == {"sent"}
    assert {row[5] for row in rows} == {1}
    assert {row[3] for row in rows} <= set(ses_messages()) - before
    for invoice_id in ids:
        assert invoice_figures(world, invoice_id) == (
            Decimal("125.00"),
            Decimal("125.00"),
            "sent",
            1,
            1,
        )

    message = parsed(rows[0][3])
    plain, html = bodies(message)
    assert "A late fee of $25.00 has been added to this invoice." in plain
    assert "$25.00" in html
    assert "Late fee (reminder 2)" in pdf_text(message)

    # Later (the due dates moved back, as a later day would see them; a job runs for
    # today at the latest): level 3 adds its own fee once, the repeats after it add none.
    for shift in (8, 0, 5):
        world.sql(
            "update public.invoices set due_date = due_date - %s where id = any(%s::uuid[])",
            shift,
            ids,
        )
        run(function_host, "jobsReminders", scoped(tenant))
    slots = [row[1].split(":")[0] for row in tenant.deliveries("payment_reminder")]
    assert sorted(slots) == sorted(["level2", "level3", "repeat"] * len(ids))
    for invoice_id in ids:
        total, balance, _, fees, lines = invoice_figures(world, invoice_id)
        assert (total, balance, fees, lines) == (Decimal("150.00"), Decimal("150.00"), 2, 2)


def test_no_reminder_nor_fee_for_paid_or_cancelled_invoices(
    function_host: FunctionHost, world: World
) -> None:
    tenant = new_tenant(world)
    levelled(tenant, lateFee={"type": "percent", "amount": 10, "levels": [2]})
    today = utc_today()
    paid_id, _ = tenant.invoice(due=today - dt.timedelta(days=2), status="paid")
    cancelled_id, _ = tenant.invoice(due=today - dt.timedelta(days=2))
    world.sql("update public.invoices set status = 'cancelled' where id = %s", cancelled_id)
    open_id, _ = tenant.invoice(due=today - dt.timedelta(days=2), rate="33.33")

    result = run(function_host, "jobsReminders", scoped(tenant))
    assert (result["sent"], result["late_fees"]) == (1, 1), result
    assert [row[0] for row in tenant.deliveries("payment_reminder")] == [open_id]
    assert invoice_figures(world, open_id) == (  # 10% of 33.33, rounded half-up
        Decimal("36.66"),
        Decimal("36.66"),
        "sent",
        1,
        1,
    )
    assert invoice_figures(world, paid_id)[2:] == ("paid", 0, 0)
    assert invoice_figures(world, cancelled_id)[2:] == ("cancelled", 0, 0)
