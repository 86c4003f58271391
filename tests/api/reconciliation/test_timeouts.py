"""A matching call cancelled by the statement timeout (57014) after a CSV import: a clean,
retryable failure that loses nothing (docs/architecture.md, "Statement timeouts").

The service role gets a 1 s ``statement_timeout`` for the test (the local REST server
applies a role's own settings to its requests, as PostgREST does; reloaded by ``NOTIFY
pgrst``), and a transaction of the test holds a SHARE lock on
``vendor_invoice_matches``, which matching writes and the import does not: the import
commits, the first matching call waits for the lock and is cancelled by the timeout. The
worker must then raise (Lambda retries the event) with the batch ``completed`` and its
invoices ``pending`` and unmatched; the retried event, once the lock is gone, matches
them all, each once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from devstack.aws import Provisioned
from devstack.functions import FunctionHost
from functions.jobs.import_worker import Retry
from shared.reconciliation import imports
from shared.reconciliation.ingest import parse_csv
from tests.api.conftest import Api, World
from tests.api.reconciliation.test_import import fresh, import_file, run_worker, upload

DATA = Path(__file__).resolve().parents[2] / "data"
PROBE = "tests_statement_timeout_probe"


def _service_setting(world: World) -> str:
    """The statement_timeout a service-role REST request runs under now."""
    keys = world.stack.config.keys
    reply = httpx.post(
        f"{world.stack.url}/rest/v1/rpc/{PROBE}",
        json={},
        headers={
            "apikey": keys.service_role_key,
            "authorization": f"Bearer {keys.service_role_key}",
        },
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json())


def _set_service_timeout(world: World, value: str | None) -> None:
    if value is None:
        world.sql("alter role service_role reset statement_timeout")
        world.sql("alter role service_role reset lock_timeout")
    else:
        world.sql(f"alter role service_role set statement_timeout = '{value}'")
        # A lock wait must end by the statement timeout, not a lock timeout (55P03 would
        # be retried the same way; this test is about 57014).
        world.sql("alter role service_role set lock_timeout = 0")
    world.sql("notify pgrst, 'reload schema'")


@pytest.fixture
def tiny_service_timeout(world: World) -> Iterator[None]:
    world.sql(
        f"create or replace function public.{PROBE}() returns text language sql stable"
        " as $$ select current_setting('statement_timeout') $$"
    )
    world.sql(f"grant execute on function public.{PROBE}() to service_role")
    before = None
    deadline = time.monotonic() + 20
    while before is None:
        world.sql("notify pgrst, 'reload schema'")
        try:
            before = _service_setting(world)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    _set_service_timeout(world, "1s")
    try:
        while _service_setting(world) != "1s":
            assert time.monotonic() < deadline, "the role setting was never applied"
            time.sleep(0.1)
        yield
    finally:
        _set_service_timeout(world, None)
        while _service_setting(world) == "1s" and time.monotonic() < deadline + 20:
            time.sleep(0.1)
        world.sql(f"drop function public.{PROBE}()")
        world.sql("notify pgrst, 'reload schema'")


def _invoices(world: World, batch_id: str) -> list[tuple[Any, ...]]:
    return world.sql(
        "select vi.invoice_number, vi.status, vi.matched_at is not null,"
        " (select count(*) from public.vendor_invoice_matches m where m.vendor_invoice_id = vi.id)"
        " from public.vendor_invoices vi where vi.import_batch_id = %s order by 1",
        batch_id,
    )


@pytest.mark.usefixtures("tiny_service_timeout")
def test_cancelled_matching_is_retried_and_loses_nothing(
    api: Api,
    aws: Provisioned,
    function_host: FunctionHost,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(imports, "MATCH_CHUNK", 2)  # 3 invoices: two calls
    who = fresh(world)
    for kind, name in (
        ("purchase_orders", "recon_purchase_orders.tsv"),
        ("goods_receipts", "recon_receipts.csv"),
    ):
        assert import_file(api, aws, function_host, who, kind=kind, name=name)["outcome"] == (
            "completed"
        )
    data = (DATA / "recon_invoices_us.csv").read_bytes()
    batch_id, event = upload(
        api, aws, who, "vendor_invoices", data=data, file_name=f"{uuid.uuid4().hex}.csv"
    )

    with psycopg.connect(world.database.url) as holder:
        holder.execute("lock table public.vendor_invoice_matches in share mode")
        started = time.monotonic()
        with pytest.raises(Retry) as raised:
            run_worker(function_host, event)
        waited = time.monotonic() - started
        holder.rollback()
    cause = raised.value.__cause__
    assert isinstance(cause, imports.MatchingInterrupted)
    assert (cause.status, cause.code) == (503, "57014")
    assert waited >= 1.0  # cancelled by the 1 s timeout, not refused at once

    # The import stands, nothing is matched, nothing is lost.
    rows = world.sql(
        "select status, rows_accepted from public.import_batches where id = %s", batch_id
    )
    assert rows == [("completed", 4)]
    before = _invoices(world, batch_id)
    assert [row[0] for row in before] == ["INV-5001", "INV-77", "X-1"]
    assert all(row[1:] == ("pending", False, 0) for row in before), before

    # Lambda's retry of the event: the batch is completed, so it only matches what is left.
    retried = run_worker(function_host, event)["results"][0]
    assert (retried["outcome"], retried["status"]) == ("skipped", "completed")
    assert (retried["matching"]["invoices"], retried["matching"]["calls"]) == (3, 2)
    after = _invoices(world, batch_id)
    assert all(row[1] != "pending" and row[2] and row[3] == 1 for row in after), after
    assert {row[0]: row[1] for row in after}["INV-5001"] == "matched"

    # A third delivery finds nothing left: nothing is matched or counted twice.
    again = run_worker(function_host, event)["results"][0]
    assert again == {"key": again["key"], "outcome": "skipped", "status": "completed"}
    assert _invoices(world, batch_id) == after
    assert world.sql(
        "select count(*) from public.vendor_invoices where import_batch_id = %s", batch_id
    ) == [(3,)]


def test_purchase_orders_arriving_are_matched_after_their_import_not_inside_it(
    api: Api, aws: Provisioned, function_host: FunctionHost, world: World
) -> None:
    """An import stores; its caller matches after the commit, in bounded calls. Inside the
    import's own transaction the invoices waiting for the purchase orders are untouched
    (they were re-matched there, unbounded, by the purchase-order triggers)."""
    who = fresh(world)
    org = world.people[who].personal_org
    invoices = import_file(
        api, aws, function_host, who, kind="vendor_invoices", name="recon_invoices_us.csv"
    )
    assert invoices["matching"]["invoices"] == 3
    waiting = world.sql(
        "select status, matched_at from public.vendor_invoices"
        " where organization_id = %s and invoice_number = 'INV-5001'",
        org,
    )
    assert waiting[0][0] == "exception"  # its PO is not there yet

    parsed = parse_csv((DATA / "recon_purchase_orders.tsv").read_bytes(), "purchase_orders")
    with psycopg.connect(world.database.url) as conn:
        conn.execute(
            "select set_config('role', 'service_role', true),"
            " set_config('request.jwt.claims', '{\"role\": \"service_role\"}', true)"
        )
        stored = conn.execute(
            "select public.import_purchase_orders(%s, %s, 'all_or_nothing', '[]', %s, null, %s)",
            (org, Jsonb(parsed.documents), parsed.rows_total, Jsonb(parsed.columns)),
        ).fetchone()
        assert stored is not None
        assert stored[0]["batch"]["status"] == "completed"
        inside = conn.execute(
            "select status, matched_at from public.vendor_invoices"
            " where organization_id = %s and invoice_number = 'INV-5001'",
            (org,),
        ).fetchall()
        conn.rollback()
    assert inside == waiting  # not re-matched inside the import's transaction

    # Through the worker: stored, then the sweep matches what waited for these orders.
    orders = import_file(
        api, aws, function_host, who, kind="purchase_orders", name="recon_purchase_orders.tsv"
    )
    assert orders["matching"]["invoices"] >= 1
    after = world.sql(
        "select status, matched_at > %s from public.vendor_invoices"
        " where organization_id = %s and invoice_number = 'INV-5001'",
        waiting[0][1],
        org,
    )
    assert after[0][1] is True  # matched again, after the import
    assert after[0][0] != "pending"
