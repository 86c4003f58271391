"""``python -m bench.webhooks``: 1,000 outbound webhook deliveries, 10 % of the endpoints
failing, all through the real outbox, dispatcher, queue and worker.

The issue's budget: 1,000 outbound deliveries with 10 % failing endpoints complete (retries
included) with none lost and none duplicated past its event id.

* One ephemeral PostgreSQL with the migrations, the local REST/Auth gateway, a moto server
  provisioned as ``make dev`` does (the webhook queue and its dead-letter queue), and the
  functions of serverless.yml run through their real ``handler(event, context)``.
* 100 organizations, each with one endpoint (``client.created``) on a local receiver
  (`devstack.webhook_receiver`) that verifies every signature with the ``standardwebhooks``
  library: 90 answer 204, 10 (10 %) answer 503 to the first two attempts of each event.
* 10 clients created in each organization (1,000 ``client.created`` events, written by the
  outbox triggers in the clients' transaction): 1,000 deliveries, 1,200 attempts expected.
* Timed from the commit of the clients to the last delivery settled: the dispatcher
  invoked every 0.5 s (EventBridge's minute, shortened), the worker fed by
  ``--consumers`` queue pollers (Lambda's concurrency) in batches of 10, retries after
  ``WEBHOOK_RETRY_BASE_SECONDS`` = 1 s, then 2 s (the back-off, shortened from 30 s).
* Checked: every delivery succeeded; the receiver accepted each (endpoint, event id) once
  and only once (none lost, none duplicated); every signature valid; the attempts counted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from moto.server import ThreadedMotoServer

from bench.common import OUT_DIR, Machine, connect, loadavg, log, table, verdict
from devstack import pgtap, postgres
from devstack.aws import provision
from devstack.functions import FunctionHost, load_functions
from devstack.postgres import free_port
from devstack.queues import QueuePoller
from devstack.stack import serve
from devstack.webhook_receiver import Receiver

ORGS = 100
FAILING = 10  # endpoints answering 503 twice per event
CLIENTS_PER_ORG = 10
EXPECTED = ORGS * CLIENTS_PER_ORG
EXPECTED_ATTEMPTS = EXPECTED + FAILING * CLIENTS_PER_ORG * 2

MAKE_ORGS_SQL = """
select tests.create_supabase_user('bench-webhooks-' || n) from generate_series(1, %(orgs)s) n
"""

MAKE_CLIENTS_SQL = """
insert into public.clients (organization_id, company_name, currency)
select tests.personal_org('bench-webhooks-' || n), 'Client ' || n || '-' || k, 'USD'
from generate_series(1, %(orgs)s) n, generate_series(1, %(clients)s) k
"""

STATE_SQL = """
select count(*) filter (where status in ('succeeded', 'failed')), count(*),
       count(*) filter (where status = 'succeeded'), coalesce(sum(attempts), 0)
from public.webhook_deliveries
"""

LATENCY_SQL = """
select extract(epoch from d.succeeded_at - ev.created_at) * 1000,
       e.url like '%%/fail/%%'
from public.webhook_deliveries d
join public.webhook_events ev on ev.id = d.event_id
join public.webhook_endpoints e on e.id = d.endpoint_id
where d.status = 'succeeded'
"""


@dataclass
class Result:
    seconds: float = 0.0
    deliveries: int = 0
    succeeded: int = 0
    attempts: int = 0
    accepted_once: int = 0
    duplicates: int = 0
    lost: int = 0
    invalid_signatures: int = 0
    dispatcher_runs: int = 0
    healthy_ms: dict[str, float] = field(default_factory=dict)
    failing_ms: dict[str, float] = field(default_factory=dict)
    consumers: int = 0
    load: str = ""

    @property
    def passed(self) -> bool:
        return (
            self.deliveries == EXPECTED
            and self.succeeded == EXPECTED
            and self.accepted_once == EXPECTED
            and self.duplicates == 0
            and self.lost == 0
            and self.invalid_signatures == 0
            and self.attempts == EXPECTED_ATTEMPTS
        )

    def render(self) -> str:
        head = (
            f"{EXPECTED:,} deliveries to {ORGS} endpoints, {FAILING} of them ({FAILING}%) failing"
            f" twice per event; {self.consumers} queue consumers; budget: all complete, none"
            f" lost, none duplicated — {verdict(self.passed)}"
        )
        rows = [
            ("all settled (s, commit to last delivery)", f"{self.seconds:.1f}"),
            ("deliveries / s", f"{self.deliveries / self.seconds:.0f}" if self.seconds else "-"),
            ("deliveries succeeded", f"{self.succeeded} of {self.deliveries}"),
            ("attempts (expected)", f"{self.attempts} ({EXPECTED_ATTEMPTS})"),
            ("accepted once per (endpoint, event id)", str(self.accepted_once)),
            (
                "lost / duplicated / bad signatures",
                f"{self.lost} / {self.duplicates} / {self.invalid_signatures}",
            ),
            ("dispatcher runs", str(self.dispatcher_runs)),
            (
                "event to delivered, healthy endpoints: p50 / p95 ms",
                f"{self.healthy_ms.get('p50', 0):.0f} / {self.healthy_ms.get('p95', 0):.0f}",
            ),
            (
                "event to delivered, failing endpoints (2 retries): p50 / p95 ms",
                f"{self.failing_ms.get('p50', 0):.0f} / {self.failing_ms.get('p95', 0):.0f}",
            ),
        ]
        return head + "\n\n" + table(("what", "value"), rows)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
        "max": ordered[-1],
    }


def measure(consumers: int) -> Result:
    result = Result(consumers=consumers)
    receiver = Receiver().start()
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        setup = pgtap.run_file(cluster.url, pgtap.SETUP_FILE)
        assert setup.ok, setup.explain()
        with connect(cluster.admin_url) as conn:
            log(f"making {ORGS} organizations with an endpoint each")
            conn.execute(MAKE_ORGS_SQL, {"orgs": ORGS})
            for n in range(1, ORGS + 1):
                path = f"/fail/2/{n}" if n <= FAILING else f"/ok/{n}"
                row = conn.execute(
                    "select public.create_webhook_endpoint(tests.personal_org(%s),"
                    " %s, array['client.created']) ->> 'secret'",
                    (f"bench-webhooks-{n}", receiver.url + path),
                ).fetchone()
                assert row is not None
                receiver.secrets.append(str(row[0]))
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
                    "WEBHOOK_RETRY_BASE_SECONDS": "1",
                    "WEBHOOK_MAX_ATTEMPTS": "5",
                }
            )
            from shared import aws  # noqa: PLC0415 - after the environment is set
            from shared.settings import get_settings  # noqa: PLC0415

            get_settings.cache_clear()
            aws.reset()
            host = FunctionHost(load_functions())
            host.invoke_by_name("jobsWebhookDispatch", {})  # warm: nothing to claim yet
            spec = host.by_name["jobsWebhookWorker"]
            pollers = [
                QueuePoller(host, spec, provisioned.webhook_queue_url, provisioned.endpoint)
                for _ in range(consumers)
            ]
            stop = threading.Event()

            def dispatch() -> None:
                while not stop.is_set():
                    host.invoke_by_name("jobsWebhookDispatch", {})
                    result.dispatcher_runs += 1
                    stop.wait(0.5)

            errors: list[str] = []
            with connect(cluster.admin_url) as conn:
                log(f"creating {EXPECTED:,} clients (the events)")
                conn.execute(MAKE_CLIENTS_SQL, {"orgs": ORGS, "clients": CLIENTS_PER_ORG})
            started = time.perf_counter()
            dispatcher = threading.Thread(target=dispatch, daemon=True)
            dispatcher.start()
            for poller in pollers:
                poller.start(on_error=errors.append)
            with connect(cluster.admin_url) as conn:
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    row = conn.execute(STATE_SQL).fetchone()
                    assert row is not None
                    if int(row[0]) == int(row[1]) == EXPECTED:
                        break
                    time.sleep(0.1)
                result.seconds = time.perf_counter() - started
                stop.set()
                for poller in pollers:
                    poller.stop()
                dispatcher.join(timeout=10)
                row = conn.execute(STATE_SQL).fetchone()
                assert row is not None
                result.deliveries = int(row[1])
                result.succeeded = int(row[2])
                result.attempts = int(row[3])
                latencies = conn.execute(LATENCY_SQL).fetchall()
                result.healthy_ms = _percentiles(
                    [float(ms) for ms, failing in latencies if not failing]
                )
                result.failing_ms = _percentiles(
                    [float(ms) for ms, failing in latencies if failing]
                )
                expected = {
                    (path, str(event))
                    for path, event in conn.execute(
                        "select regexp_replace(e.url, '^https?://[^/]+', ''), d.event_id"
                        " from public.webhook_deliveries d"
                        " join public.webhook_endpoints e on e.id = d.endpoint_id"
                    ).fetchall()
                }
            accepted = receiver.accepted
            result.accepted_once = sum(1 for key in expected if accepted.get(key) == 1)
            result.duplicates = sum(count - 1 for count in accepted.values() if count > 1)
            result.lost = sum(1 for key in expected if accepted.get(key, 0) == 0)
            result.invalid_signatures = sum(1 for r in receiver.received if not r.verified)
            if errors:
                log(f"worker errors: {errors[:3]}")
            host.close()
        finally:
            moto.stop()
            gateway.stop()
            receiver.stop()
    result.load = loadavg()
    return result


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--consumers", type=int, default=2, help="queue pollers (Lambda concurrency)"
    )
    args = parser.parse_args(argv)
    machine = Machine.describe()
    log(f"machine: {machine.nproc} CPUs, load {machine.loadavg_start}")
    result = measure(args.consumers)
    print(result.render())
    print(f"load average at the end: {result.load}")
    OUT_DIR.mkdir(exist_ok=True)
    out = Path(OUT_DIR) / "webhooks.json"
    out.write_text(json.dumps({"machine": asdict(machine), "result": asdict(result)}, indent=2))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
