"""``python -m bench.recurring``: the recurring invoices job issuing 10,000 invoices across
1,000 organizations.

The issue's budget: the job issues 10,000 invoices across 1,000 organizations in ≤ 30 s
here, through the real job handler against the local stack.

* One ephemeral PostgreSQL with the migrations, the local REST/Auth gateway, a moto server
  provisioned as ``make dev`` does (the bulk queue), and the functions of serverless.yml
  run through their real ``handler(event, context)`` (`devstack.functions.FunctionHost`).
* 1,000 organizations (signed-up users), in six time zones from UTC-12 to UTC+14; each has
  one client with an email address and 5 monthly profiles of 3 items started on 20 January
  2026, half of them with ``auto_send``. The job runs with the fixed clock
  ``2026-03-15T12:00:00Z`` (its ``now``): every profile has two periods due (20 January
  and 20 February), so the run issues 10,000 invoices (5,000 caught up as drafts, 5,000
  current; of these 2,500 auto-sent: one bulk send per organization and call, their ids
  queued on the bulk queue; the emails themselves are the worker's, not timed here).
* Timed: ``jobsRecurring``'s handler from the event to its answer, every call of
  ``job_issue_recurring`` (500 invoices each) and the queueing included. Checked: 10,000
  invoices, one per profile and period, 30,000 items, every profile's next period March.
* The bulk queue is consumed while the job runs, as the worker's event source mapping
  does in production and on ``make dev``: a thread receives and deletes the messages
  (counting them; no email is sent). Without a consumer, moto's SendMessageBatch slows as
  the queue deepens (measured here: 60 ms a batch at 200 messages waiting, 700 ms at
  2,000), which SQS does not; that would time moto, not the job.
* Rounds: the issued invoices are deleted and the profiles put back between rounds
  (VACUUM ANALYZE after), so each round starts from the same state.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from bench.common import OUT_DIR, Machine, Summary, connect, fmt_s, loadavg, log, table, verdict
from devstack import pgtap, postgres
from devstack.aws import CREDENTIALS, REGION, provision
from devstack.functions import FunctionHost, load_functions
from devstack.postgres import free_port
from devstack.stack import serve

BUDGET_S = 30.0
ORGS = 1000
PROFILES_PER_ORG = 5
NOW = "2026-03-15T12:00:00+00:00"
EXPECTED = ORGS * PROFILES_PER_ORG * 2
ZONES = [
    "UTC",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Europe/Paris",
    "America/New_York",
    "Asia/Tokyo",
]

MAKE_DATA_SQL = """
select tests.create_supabase_user('bench-recurring-' || n) from generate_series(1, %(orgs)s) n;
"""

MAKE_PROFILES_SQL = """
with orgs as (
  select tests.personal_org('bench-recurring-' || n) as org, n
  from generate_series(1, %(orgs)s) n
), tz as (
  update public.organization_settings s
  set time_zone = (%(zones)s::text[])[1 + o.n %% cardinality(%(zones)s::text[])]
  from orgs o where s.organization_id = o.org
  returning s.organization_id
), c as (
  insert into public.clients (organization_id, company_name, currency, email)
  select o.org, 'Recurring client ' || o.n, 'USD', 'recurring-' || o.n || '@bench.test'
  from orgs o
  returning id, organization_id
), p as (
  insert into public.recurring_profiles (
    organization_id, client_id, currency, name, interval_unit, interval_count, billing_day,
    start_date, first_billing_date, next_billing_date, payment_terms, tax_rate, auto_send)
  select c.organization_id, c.id, 'USD', 'Plan ' || k, 'month', 1, 20,
         '2026-01-20', '2026-01-20', '2026-01-20', 'net30', 8.5, k %% 2 = 0
  from c, generate_series(1, %(profiles)s) k
  returning id, organization_id
)
insert into public.recurring_profile_items
  (organization_id, profile_id, currency, position, description, quantity, rate)
select p.organization_id, p.id, 'USD', k - 1, 'Service ' || k, k, 100 + k
from p, generate_series(1, 3) k
"""

RESET_SQL = """
delete from public.bulk_job_items it using public.bulk_jobs j
  where it.job_id = j.id and j.options ->> 'origin' = 'recurring';
delete from public.bulk_jobs j where j.options ->> 'origin' = 'recurring';
delete from public.invoices i where i.recurring_profile_id is not null;
update public.recurring_profiles
  set next_period_index = 0, cycles_issued = 0, next_billing_date = first_billing_date,
      last_issued_at = null;
"""

CHECK_SQL = """
select count(*), count(distinct (recurring_profile_id, recurring_period_start)),
       (select count(*) from public.invoice_items it
        join public.invoices i on i.id = it.invoice_id where i.recurring_profile_id is not null),
       (select count(*) from public.recurring_profiles where next_billing_date <> '2026-03-20')
from public.invoices where recurring_profile_id is not null
"""


class Consumer:
    """Takes the bulk queue's messages off as they arrive (the worker's event source
    mapping, without the emails), counting them."""

    def __init__(self, endpoint: str, url: str) -> None:
        self.sqs: Any = boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        )
        self.url = url
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            reply = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            messages = reply.get("Messages", [])
            if messages:
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                        for n, m in enumerate(messages)
                    ],
                )
                self.received += len(messages)

    def settle(self, expected: int, timeout: float = 120.0) -> int:
        """Waits until ``expected`` messages have been taken; how many were."""
        deadline = time.monotonic() + timeout
        while self.received < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.received

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Result:
    runs: list[float] = field(default_factory=list)  # seconds, event to answer
    calls: list[int] = field(default_factory=list)
    issued: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    consumed: list[int] = field(default_factory=list)
    checks: list[list[int]] = field(default_factory=list)
    load: str = ""

    @property
    def passed(self) -> bool:
        return (
            bool(self.runs)
            and max(self.runs) <= BUDGET_S
            and all(c == [EXPECTED, EXPECTED, EXPECTED * 3, 0] for c in self.checks)
            and self.consumed == self.queued
        )

    def render(self) -> str:
        runs = Summary.of(self.runs)
        calls = self.calls[0] if self.calls else 0
        rows = [
            (
                "jobsRecurring handler (all calls + queueing)",
                runs.n,
                fmt_s(runs.median),
                fmt_s(runs.minimum),
                fmt_s(runs.maximum),
                f"{runs.median / EXPECTED * 1000:.2f}",
                f"{runs.median / max(calls, 1):.2f}",
            ),
        ]
        head = (
            f"{EXPECTED:,} invoices across {ORGS:,} organizations per run ({calls} calls of 500);"
            f" messages queued {self.queued}, consumed {self.consumed}; checks (invoices,"
            f" distinct periods, items, profiles not at March) {self.checks};"
            f" budget: every run ≤ {BUDGET_S:.0f} s —"
            f" {verdict(self.passed)}"
        )
        return (
            head
            + "\n\n"
            + table(
                ("what", "runs", "median s", "min s", "max s", "ms/invoice", "s/call"),
                rows,
            )
        )


def measure(rounds: int) -> Result:
    result = Result()
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        setup = pgtap.run_file(cluster.url, pgtap.SETUP_FILE)
        assert setup.ok, setup.explain()
        with connect(cluster.admin_url) as conn:
            log("making 1,000 organizations and 5,000 profiles")
            conn.execute(MAKE_DATA_SQL, {"orgs": ORGS})
            conn.execute(
                MAKE_PROFILES_SQL, {"orgs": ORGS, "profiles": PROFILES_PER_ORG, "zones": ZONES}
            )
            conn.execute("vacuum analyze")
        gateway = serve(cluster.url)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        moto.start()
        try:
            host_name, port = moto.get_host_and_port()
            provisioned = provision(f"http://{host_name}:{port}")
            keys = gateway.config.keys
            os.environ.update(
                {
                    "SUPABASE_URL": gateway.url,
                    "SUPABASE_ANON_KEY": keys.anon_key,
                    "SUPABASE_JWT_SECRET": keys.jwt_secret,
                    "SUPABASE_SERVICE_ROLE_KEY": keys.service_role_key,
                    "LOG_LEVEL": "WARNING",
                    **provisioned.environment(),
                }
            )
            from shared import aws  # noqa: PLC0415 - after the environment is set
            from shared.settings import get_settings  # noqa: PLC0415

            get_settings.cache_clear()
            aws.reset()
            host = FunctionHost(load_functions())
            consumer = Consumer(provisioned.endpoint, provisioned.bulk_queue_url)
            # Warm up: the function imported, the connections open (nothing is due yet).
            host.invoke_by_name("jobsRecurring", {"now": "2026-01-01T00:00:00+00:00"})
            for n in range(rounds):
                started = time.perf_counter()
                answer = host.invoke_by_name("jobsRecurring", {"now": NOW})
                elapsed = time.perf_counter() - started
                before = sum(result.consumed)
                taken = consumer.settle(before + int(answer["messages_queued"])) - before
                result.consumed.append(taken)
                with connect(cluster.admin_url) as conn:
                    row = conn.execute(CHECK_SQL).fetchone()
                    assert row is not None
                    result.checks.append([int(v) for v in row])
                    conn.execute(RESET_SQL)
                    conn.execute("vacuum analyze")
                result.runs.append(elapsed)
                result.calls.append(int(answer["calls"]))
                result.issued.append(int(answer["issued"]))
                result.queued.append(int(answer["messages_queued"]))
                log(
                    f"round {n + 1}: {elapsed:.2f} s, {answer['issued']} issued in"
                    f" {answer['calls']} calls, {answer['messages_queued']} messages queued,"
                    f" checks {result.checks[-1]}"
                )
            consumer.stop()
            host.close()
        finally:
            moto.stop()
            gateway.stop()
    result.load = loadavg()
    return result


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="job runs, each from scratch")
    args = parser.parse_args(argv)
    machine = Machine.describe()
    log(f"machine: {machine.nproc} CPUs, load {machine.loadavg_start}")
    result = measure(args.rounds)
    print(result.render())
    print(f"load average at the end: {result.load}")
    OUT_DIR.mkdir(exist_ok=True)
    out = Path(OUT_DIR) / "recurring.json"
    out.write_text(json.dumps({"machine": asdict(machine), "result": asdict(result)}, indent=2))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
