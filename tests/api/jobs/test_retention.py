"""The retention job (functions/jobs/retention.py) through its handler: settled system logs
older than 90 days purged in chunks and recorded, recent and pending ones kept, an
organization closed more than 7 years ago erased, one closed 6 years ago kept."""

from __future__ import annotations

import uuid

import pytest

from devstack.functions import FunctionHost
from functions.jobs import retention
from tests.api.conftest import World
from tests.api.jobs.test_jobs import run


def test_retention_purges_only_what_the_rules_allow(
    function_host: FunctionHost, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(function_host, "jobsRetention")  # settles whatever the session left
    monkeypatch.setattr(retention, "CHUNK", 2)
    person = world.add_person(f"ret-{uuid.uuid4().hex[:8]}")
    old = world.add_person(f"ret-old-{uuid.uuid4().hex[:8]}")
    recent = world.add_person(f"ret-recent-{uuid.uuid4().hex[:8]}")
    org = person.personal_org
    for weeks, status, age in [
        (10, "sent", 100),
        (11, "failed", 100),
        (12, "superseded", 95),
        (13, "sent", 91),
        (14, "pending", 200),
        (15, "sent", 89),
    ]:
        world.sql(
            "insert into public.email_deliveries (kind, organization_id, user_id, period_start,"
            " period_end, status, created_at) values ('weekly_summary', %s, %s,"
            " current_date - %s * 7, current_date - %s * 7 + 6, %s, now() - %s * interval '1 day')",
            org,
            person.id,
            weeks,
            weeks,
            status,
            age,
        )
    world.sql(
        "update public.organizations set closed_at = now() - interval '7 years 2 days'"
        " where id = %s",
        old.personal_org,
    )
    world.sql(
        "update public.organizations set closed_at = now() - interval '6 years' where id = %s",
        recent.personal_org,
    )
    started = world.sql("select coalesce(max(id), 0) from public.retention_purges")[0][0]

    result = run(function_host, "jobsRetention")
    assert result["purged"] == {"email_deliveries": 4, "organizations": 1}, result
    assert result["calls"] == 3, result  # 2 + 2 deliveries, then nothing left
    left = world.sql(
        "select status from public.email_deliveries where organization_id = %s order by status",
        org,
    )
    assert left == [("pending",), ("sent",)]
    gone = world.sql(
        "select id::text from public.organizations where id in (%s, %s)",
        old.personal_org,
        recent.personal_org,
    )
    assert gone == [(recent.personal_org,)]
    recorded = world.sql(
        "select rule, table_name, row_count, purged_organization::text from public.retention_purges"
        " where id > %s order by id",
        started,
    )
    assert sum(r[2] for r in recorded if r[1] == "email_deliveries") == 4
    assert ("closed_organization_7_years", "organizations", 1, old.personal_org) in recorded

    again = run(function_host, "jobsRetention")
    assert (again["purged"], again["calls"]) == ({}, 1)
