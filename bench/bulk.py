"""``python -m bench.bulk``: a bulk send of 500 invoices, queued and processed against moto.

The issue's budget: a bulk send of 500 invoices completes (queued and processed against
moto) in ≤ 60 s here.

* One ephemeral PostgreSQL with the migrations, the local REST/Auth gateway, a moto
  server provisioned as ``make dev`` does (bucket, bulk queue with its dead-letter queue,
  verified sender), and the functions of serverless.yml run through their real
  ``handler(event, context)`` (`devstack.functions.FunctionHost`).
* One organization; per round, 500 new draft invoices (3 items each) of 500 clients with
  an email address.
* **bulk** (timed from the request to the last item recorded): ``POST
  /api/invoices/bulk-actions {"action": "send", "ids": [500 ids]}`` → 202, then the bulk
  queue drained into ``jobsBulkWorker`` by `devstack.queues.QueuePoller` (the event
  Lambda builds, batches of 10 messages of 10 ids, **one poller**: Lambda would run
  several concurrently, so this is the slow case), until the job reports completed.
  Checked afterwards: 500 emails in moto, 500 sends recorded, every invoice sent.
* **bare** (the baseline, same run): the same work without the database's bookkeeping —
  for 500 other fresh invoices, load the document, compose (templates + PDF) and
  ``send_raw`` through SES, one after the other in this process. The ratio bulk/bare is
  the cost of the queue, the claims and the records.
* Rounds alternate bulk/bare/bare/bulk (ABBA) on the shared machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends

from bench.common import (
    OUT_DIR,
    Machine,
    Summary,
    connect,
    fmt_ratio,
    fmt_s,
    loadavg,
    log,
    ratio,
    table,
    user_token,
    verdict,
)
from devstack import pgtap, postgres
from devstack.aws import provision
from devstack.functions import FunctionHost, http_event, load_functions
from devstack.postgres import free_port
from devstack.queues import QueuePoller
from devstack.stack import serve

BUDGET_S = 60.0
PHASES: list[dict[str, float]] = []  # ms per invoice of each bare run: load, compose, send
INVOICES = 500

MAKE_INVOICES_SQL = """
with c as (
  insert into public.clients (organization_id, company_name, currency, email)
  select %(org)s, 'Bench client ' || %(round)s || '-' || n, 'USD',
         'client-' || %(round)s || '-' || n || '@bench.test'
  from generate_series(1, %(n)s) n
  returning id
), i as (
  insert into public.invoices (organization_id, client_id, currency, due_date, notes)
  select %(org)s, c.id, 'USD', current_date + 30, 'bench ' || %(round)s from c
  returning id
)
insert into public.invoice_items
  (organization_id, invoice_id, currency, description, quantity, rate)
select %(org)s, i.id, 'USD', 'Work item ' || k, k, 100 + k from i, generate_series(1, 3) k
"""


@dataclass
class Result:
    bulk: list[float] = field(default_factory=list)  # seconds, request to completed
    request: list[float] = field(default_factory=list)  # the 202 alone
    bare: list[float] = field(default_factory=list)
    emails: list[int] = field(default_factory=list)
    load: str = ""

    @property
    def passed(self) -> bool:
        return (
            bool(self.bulk)
            and max(self.bulk) <= BUDGET_S
            and all(e == INVOICES for e in self.emails)
        )

    def render(self) -> str:
        bulk, bare, request = (
            Summary.of(self.bulk),
            Summary.of(self.bare),
            Summary.of(self.request),
        )
        rows = [
            (
                "bulk: POST (202) + queue + worker",
                bulk.n,
                fmt_s(bulk.median),
                fmt_s(bulk.minimum),
                fmt_s(bulk.maximum),
                f"{bulk.median / INVOICES * 1000:.1f}",
                fmt_ratio(ratio(bulk.median, bare.median)),
            ),
            (
                "  of which the POST answering 202",
                request.n,
                fmt_s(request.median),
                fmt_s(request.minimum),
                fmt_s(request.maximum),
                "",
                "",
            ),
            (
                "bare: load, compose, send_raw",
                bare.n,
                fmt_s(bare.median),
                fmt_s(bare.minimum),
                fmt_s(bare.maximum),
                f"{bare.median / INVOICES * 1000:.1f}",
                "1.00x",
            ),
        ]
        head = (
            f"{INVOICES} invoices per run; emails in moto per bulk run: {self.emails};"
            f" budget: every bulk run ≤ {BUDGET_S:.0f} s — {verdict(self.passed)}"
        )
        return (
            head
            + "\n\n"
            + table(("what", "runs", "median s", "min s", "max s", "ms/invoice", "ratio"), rows)
        )


def _emails() -> int:
    return len(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def _new_invoices(url: str, org: str, round_: str) -> list[str]:
    with connect(url) as conn:
        conn.execute(MAKE_INVOICES_SQL, {"org": org, "round": round_, "n": INVOICES})
        rows = conn.execute(
            "select id::text from public.invoices where notes = %s order by id",
            (f"bench {round_}",),
        ).fetchall()
    return [r[0] for r in rows]


def _bulk(
    host: FunctionHost, poller: QueuePoller, url: str, token: str, ids: list[str]
) -> tuple[float, float, int]:
    from shared.settings import get_settings  # noqa: PLC0415 - after the environment is set

    spec, params, _ = host.match("POST", "/api/invoices/bulk-actions")
    assert spec is not None
    body = json.dumps({"action": "send", "ids": ids}).encode()
    event = http_event(
        spec,
        "POST",
        "/api/invoices/bulk-actions",
        "",
        {
            "authorization": f"Bearer {token}",
            "content-type": "application/json",
            "content-length": str(len(body)),
        },
        body,
        params,
    )
    before = _emails()
    get_settings.cache_clear()
    started = time.perf_counter()
    reply = host.invoke(spec, event)
    answered = time.perf_counter() - started
    assert int(reply["statusCode"]) == 202, reply
    job = json.loads(reply["body"])["job_id"]
    with connect(url) as conn:
        while True:
            delivery = poller.poll_once(wait_seconds=0)
            assert not delivery.errors, delivery.errors
            row = conn.execute(
                "select finished_at is not null from public.bulk_jobs where id = %s", (job,)
            ).fetchone()
            if row and row[0]:
                break
            if delivery.received == 0:
                time.sleep(0.05)
        elapsed = time.perf_counter() - started
        counts = conn.execute(
            "select count(*) filter (where status = 'ok'), count(*) from public.bulk_job_items"
            " where job_id = %s",
            (job,),
        ).fetchone()
        sent = conn.execute(
            "select count(*) from public.invoices where id = any(%s::uuid[]) and status = 'sent'",
            (ids,),
        ).fetchone()
    assert counts == (INVOICES, INVOICES), counts
    assert sent == (INVOICES,), sent
    return elapsed, answered, _emails() - before


def _bare(client: Any, org: str, ids: list[str]) -> float:
    from shared import sending  # noqa: PLC0415
    from shared.documents import load_invoice_document  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    before = _emails()
    phases = {"load": 0.0, "compose": 0.0, "send": 0.0}
    started = time.perf_counter()
    for invoice_id in ids:
        t0 = time.perf_counter()
        document = load_invoice_document(client, org, invoice_id)
        t1 = time.perf_counter()
        assert document is not None
        email = sending.client_email(document)
        assert email
        composed = sending.compose(document, settings, to=[email])
        t2 = time.perf_counter()
        sending.send(composed, settings, document)
        t3 = time.perf_counter()
        phases["load"] += t1 - t0
        phases["compose"] += t2 - t1
        phases["send"] += t3 - t2
    elapsed = time.perf_counter() - started
    assert _emails() - before == len(ids)
    PHASES.append({k: round(v / len(ids) * 1000, 1) for k, v in phases.items()})
    return elapsed


def measure(rounds: int) -> Result:
    result = Result()
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        setup = pgtap.run_file(cluster.url, pgtap.SETUP_FILE)
        assert setup.ok, setup.explain()
        with connect(cluster.admin_url) as conn:  # the data set is loaded as the superuser
            made = conn.execute("select tests.create_supabase_user('bench')::text").fetchone()
            found = conn.execute("select tests.personal_org('bench')::text").fetchone()
        assert made is not None
        assert found is not None
        uid, org = made[0], found[0]
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
                    "RATE_LIMIT_PER_WINDOW": "0",
                    **provisioned.environment(),
                }
            )
            from shared import aws, db  # noqa: PLC0415 - after the environment is set
            from shared.settings import get_settings  # noqa: PLC0415

            get_settings.cache_clear()
            aws.reset()
            token = user_token(keys.jwt_secret, uid, 7200)
            host = FunctionHost(load_functions())
            worker = host.by_name["jobsBulkWorker"]
            poller = QueuePoller(host, worker, provisioned.bulk_queue_url, provisioned.endpoint)
            user_client = db.rest(get_settings(), token)
            # Warm up: one small send through each path (imports, fonts, connections).
            warm = _new_invoices(cluster.url, org, "warm")
            _bare(user_client, org, warm[:3])
            order = ["bulk", "bare", "bare", "bulk"] * ((rounds + 1) // 2)
            for n, kind in enumerate(order[: rounds * 2]):
                ids = _new_invoices(cluster.url, org, f"r{n}")
                if kind == "bulk":
                    elapsed, answered, emails = _bulk(host, poller, cluster.url, token, ids)
                    result.bulk.append(elapsed)
                    result.request.append(answered)
                    result.emails.append(emails)
                    log(f"bulk: {elapsed:.2f} s ({answered:.2f} s to 202), {emails} emails")
                else:
                    elapsed = _bare(user_client, org, ids)
                    result.bare.append(elapsed)
                    log(f"bare: {elapsed:.2f} s")
            host.close()
        finally:
            moto.stop()
            gateway.stop()
    result.load = loadavg()
    return result


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="bulk runs (as many bare ones)")
    args = parser.parse_args(argv)
    machine = Machine.describe()
    log(f"machine: {machine.nproc} CPUs, load {machine.loadavg_start}")
    result = measure(args.rounds)
    text = result.render()
    print(text)
    print(f"\nbare, ms per invoice by phase: {PHASES[1:]}")
    print(f"load average at the end: {result.load}")
    OUT_DIR.mkdir(exist_ok=True)
    out = Path(OUT_DIR) / "bulk.json"
    out.write_text(json.dumps({"machine": asdict(machine), "result": asdict(result)}, indent=2))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
