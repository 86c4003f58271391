"""Issue 18's realtime budgets, on a throw-away cluster and the local stack:

    .venv/bin/python -m bench.realtime [--seconds 20] [--orgs 10] [--per-org 10] [--rate 50]

1. Change-to-delivery (p95 ≤ 100 ms): ``--orgs`` organizations of ``--per-org`` members
   each (100 subscribers), every one with the official Python client (``realtime``, all
   in one process of their own) following its organization's invoices (postgres_changes,
   ``*``, ``organization_id=eq.<org>``), while a writer process writes invoices at
   ``--rate`` a second, round robin over the
   organizations, each a transaction as PostgREST runs it (role authenticated, the
   member's claims), a new invoice and a change of it in turn. Latency: from the
   write's commit returning to the subscriber's callback, for every delivery (a change
   reaches its organization's 10 members). Deliveries to the wrong organization are
   counted (budget: 0).
2. The writes' own latency with Realtime on vs off (within 10 %): the same writer with
   the server, its replication feed, the subscribers and the realtime migration on
   (REPLICA IDENTITY FULL on invoices, the broadcast triggers), against runs before and
   after with no server and the migration's part undone; and the migration alone, in a
   phase of its own, in blocks alternating within one run, and back to back on single
   writes (a vendor invoice created by hand, an invoice changed).
3. What an import costs in messages: 10,000 vendor invoices in one statement, and
   matching chunks of 250 as the import worker runs them, with the triggers on and off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg

from bench.common import OUT_DIR, Machine, loadavg, log, user_token
from devstack import pgtap
from devstack.postgres import admin_url, test_database
from devstack.stack import serve

# The migration's broadcast triggers on the tables these writes touch ("off" disables
# them, as if the migration were not there).
TRIGGERS = {
    "public.vendor_invoices": [
        "signal_dashboard_changed_after_insert",
        "signal_dashboard_changed_after_update",
        "signal_dashboard_changed_after_delete",
    ],
    "public.vendor_invoice_matches": [
        "broadcast_match_results_after_insert",
        "broadcast_match_results_after_update",
    ],
    "public.reconciliation_exceptions": [
        "broadcast_exception_changes_after_insert",
        "broadcast_exception_changes_after_update",
        "broadcast_exception_changes_after_delete",
        "signal_dashboard_changed_after_insert",
        "signal_dashboard_changed_after_update",
        "signal_dashboard_changed_after_delete",
    ],
}
# What the migration does to the published tables the writer writes (off: as before it).
REPLICA_IDENTITY = ("public.invoices",)


def set_triggers(url: str, enabled: bool) -> None:
    """The migration's broadcast triggers and REPLICA IDENTITY FULL on (as migrated) or
    off (as if the realtime migration were not there)."""
    verb = "enable" if enabled else "disable"
    identity = "full" if enabled else "default"
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        for table, names in TRIGGERS.items():
            for name in names:
                conn.execute(f"alter table {table} {verb} trigger {name}")
        for table in REPLICA_IDENTITY:
            conn.execute(f"alter table {table} replica identity {identity}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def describe(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.5) * 1000, 2),
        "p95_ms": round(percentile(values, 0.95) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2) if values else float("nan"),
        "mean_ms": round(statistics.fmean(values) * 1000, 3) if values else float("nan"),
    }


def one(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params or None).fetchone()
    assert row is not None
    return row[0]


# --------------------------------------------------------------------------------------
# The world: organizations, members, a client each.


def make_world(url: str, orgs: int, per_org: int) -> list[dict[str, Any]]:
    setup = pgtap.run_file(url, pgtap.SETUP_FILE)
    assert setup.ok, setup.explain()
    world = []
    with psycopg.connect(url, autocommit=True) as conn:
        for o in range(orgs):
            owner = f"rt-bench-{o}-0"
            members = [str(one(conn, "select tests.create_supabase_user(%s)", owner))]
            org = str(one(conn, "select tests.personal_org(%s)", owner))
            for m in range(1, per_org):
                name = f"rt-bench-{o}-{m}"
                members.append(str(one(conn, "select tests.create_supabase_user(%s)", name)))
                conn.execute("select tests.add_member(%s, %s, 'member')", (org, name))
            client = one(
                conn,
                "insert into public.clients (organization_id, company_name, currency)"
                " values (%s, %s, 'USD') returning id::text",
                org,
                f"Bench client {o}",
            )
            world.append({"org": org, "members": members, "client": client})
    return world


# --------------------------------------------------------------------------------------
# The writer: invoices at a fixed rate, each a PostgREST-like transaction.


def writer(  # noqa: PLR0917 - a multiprocessing target, called positionally
    url: str,
    world: list[dict[str, Any]],
    rate: float,
    seconds: float,
    start_seq: int,
    out: Any,
    toggle_every: int = 0,
) -> None:
    latencies: list[float] = []
    commits: dict[int, float] = {}
    orgs_of: dict[int, int] = {}
    triggers_on: list[bool] = []
    with psycopg.connect(url, prepare_threshold=None) as conn:
        start = time.time() + 0.2
        for i in range(int(rate * seconds)):
            seq = start_seq + i
            if toggle_every and i % toggle_every == 0:  # blocks of on and off, alternating
                set_triggers(url, enabled=(i // toggle_every) % 2 == 1)
            o = seq % len(world)
            claims = json.dumps({"sub": world[o]["members"][0], "role": "authenticated"})
            delay = start + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            began = time.perf_counter()
            with conn.transaction():
                conn.execute("set local role authenticated")
                conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
                if i % 2 == 0 or world[o].get("last") is None:  # a new invoice
                    world[o]["last"] = one(
                        conn,
                        "insert into public.invoices (organization_id, client_id, notes)"
                        " values (%s, %s, %s) returning id",
                        world[o]["org"],
                        world[o]["client"],
                        f"bench {seq}",
                    )
                else:  # a change of the organization's last one
                    conn.execute(
                        "update public.invoices set notes = %s where id = %s",
                        (f"bench {seq}", world[o]["last"]),
                    )
            commits[seq] = time.time()
            latencies.append(time.perf_counter() - began)
            orgs_of[seq] = o
            triggers_on.append(bool(toggle_every) and (i // toggle_every) % 2 == 1)
    out.put({"latencies": latencies, "commits": commits, "orgs": orgs_of, "on": triggers_on})


def write_phase(  # noqa: PLR0917
    url: str,
    world: list[dict[str, Any]],
    rate: float,
    seconds: float,
    start_seq: int,
    toggle_every: int = 0,
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=writer, args=(url, world, rate, seconds, start_seq, queue, toggle_every)
    )
    proc.start()
    result: dict[str, Any] = queue.get(timeout=seconds + 120)
    proc.join(30)
    return result


# --------------------------------------------------------------------------------------
# The subscribers: one official client per member, in a process of their own.


def subscribers(  # noqa: PLR0917 - a multiprocessing target, called positionally
    gateway: str, anon: str, tokens: list[tuple[int, str, str]], ready: Any, stop: Any, out: Any
) -> None:
    from realtime import AsyncRealtimeClient  # noqa: PLC0415 - in the child only
    from realtime.types import RealtimePostgresChangesListenEvent as Event  # noqa: PLC0415

    changes: list[tuple[int, int, float, str]] = []  # (subscriber, seq, received, org)

    async def main() -> None:
        clients = []
        confirmed: set[int] = set()
        for k, (_o, org, token) in enumerate(tokens):
            client = AsyncRealtimeClient(gateway + "/realtime/v1", token=anon, max_retries=1)
            client.access_token = token
            clients.append(client)

            def on_change(payload: Any, k: int = k) -> None:
                record = payload["data"]["record"]
                seq = int(str(record["notes"]).split()[1])
                changes.append((k, seq, time.time(), record["organization_id"]))

            def on_system(message: Any, k: int = k) -> None:
                if message.extension == "postgres_changes":
                    confirmed.add(k)

            invoices = client.channel(f"invoices-{k}")
            invoices.on_postgres_changes(
                Event.All,
                schema="public",
                table="invoices",
                filter=f"organization_id=eq.{org}",
                callback=on_change,
            )
            invoices.on_system(on_system)
            await invoices.subscribe()
        deadline = time.monotonic() + 60
        while len(confirmed) < len(tokens) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        for client in clients:
            await client.close()

    asyncio.run(main())
    out.put({"changes": changes})


def delivery(
    world: list[dict[str, Any]],
    tokens: list[tuple[int, str, str]],
    on: dict[str, Any],
    received: dict[str, Any],
) -> dict[str, Any]:
    commits: dict[int, float] = on["commits"]
    orgs_of: dict[int, int] = on["orgs"]
    latencies, crossing, seen = [], 0, set()
    for k, seq, at, org in received["changes"]:
        if seq not in commits:
            continue
        if org != tokens[k][1] or orgs_of[seq] != tokens[k][0]:
            crossing += 1
        seen.add((k, seq))
        latencies.append(at - commits[seq])
    expected = sum(len(world[o]["members"]) for o in orgs_of.values())
    return {
        "writes": len(commits),
        "expected_deliveries": expected,
        "delivered": len(seen),
        "cross_tenant": crossing,
        "postgres_changes": describe(latencies),
    }


def trigger_overhead(url: str, world: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """What the realtime migration adds to single writes, back to back (no rate, no
    server), in blocks of 100 with it on and off alternating, so that both see the same
    load; each a PostgREST-like transaction: a vendor invoice created by hand (its
    dashboard_changed broadcast) and an invoice changed (REPLICA IDENTITY FULL: the old row
    in the WAL)."""
    times: dict[str, dict[bool, list[float]]] = {
        "vendor_invoice_insert": {True: [], False: []},
        "invoice_update": {True: [], False: []},
    }
    with psycopg.connect(url, prepare_threshold=None) as conn:
        invoices = [
            one(
                conn,
                "insert into public.invoices (organization_id, client_id, notes)"
                " values (%s, %s, 'overhead') returning id",
                w["org"],
                w["client"],
            )
            for w in world
        ]
        conn.commit()
        n = 0
        for r in range(2 * rounds):
            enabled = r % 2 == 1
            set_triggers(url, enabled=enabled)
            for i in range(100):
                o = i % len(world)
                n += 1
                claims = json.dumps({"sub": world[o]["members"][0], "role": "authenticated"})
                for what in times:
                    began = time.perf_counter()
                    with conn.transaction():
                        conn.execute("set local role authenticated")
                        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
                        if what == "vendor_invoice_insert":
                            conn.execute(
                                "insert into public.vendor_invoices (organization_id,"
                                " vendor_name, invoice_number, invoice_date, currency,"
                                " subtotal, total_amount) values (%s, 'Overhead Supplies',"
                                " %s, current_date, 'USD', 10, 10)",
                                (world[o]["org"], f"OVERHEAD-{n}"),
                            )
                        else:
                            conn.execute(
                                "update public.invoices set notes = %s where id = %s",
                                (f"overhead {n}", invoices[o]),
                            )
                    times[what][enabled].append(time.perf_counter() - began)
    set_triggers(url, enabled=True)
    out: dict[str, Any] = {}
    for what, series in times.items():
        on, off = describe(series[True]), describe(series[False])
        out[what] = {
            "on": on,
            "off": off,
            "mean_added_ms": round(on["mean_ms"] - off["mean_ms"], 3),
            "p50_added_ms": round(on["p50_ms"] - off["p50_ms"], 3),
            "mean_ratio": round(on["mean_ms"] / off["mean_ms"], 3),
            "p50_ratio": round(on["p50_ms"] / off["p50_ms"], 3),
        }
    return out


def import_cost(url: str, org: str, match_org: str, chunks: int) -> dict[str, Any]:
    """10,000 vendor invoices in one statement in ``org``; ``chunks`` matchings of 250 in
    ``match_org`` (its own 250 x chunks invoices: a chunk's cost, not the duplicates'
    search over the 10,000). With the triggers on, then off; rolled back."""
    out: dict[str, Any] = {}
    insert = (
        "insert into public.vendor_invoices (organization_id, vendor_name, invoice_number,"
        " invoice_date, currency, subtotal, total_amount)"
        " select %s, 'Nobody We Know', 'BENCH-' || n, date '2026-01-01', 'USD', 10, 10"
        " from generate_series(1, %s) n"
    )
    count = "select count(*) from realtime.messages"
    for enabled in (True, False):
        set_triggers(url, enabled=enabled)
        with psycopg.connect(url, prepare_threshold=None) as conn:
            conn.execute(insert, (match_org, 250 * chunks))
            before = one(conn, count)
            began = time.perf_counter()
            conn.execute(insert, (org, 10_000))
            insert_s = time.perf_counter() - began
            after_insert = one(conn, count)
            chunk_s = []
            for _ in range(chunks):
                # A new transaction per chunk, as the worker's calls are.
                conn.execute("select set_config('invoiceflow.dashboard_signalled', '', true)")
                ids = [
                    r[0]
                    for r in conn.execute(
                        "select id from public.vendor_invoices where organization_id = %s"
                        " and status = 'pending' order by id limit 250",
                        (match_org,),
                    ).fetchall()
                ]
                began = time.perf_counter()
                conn.execute("select private.match_vendor_invoices(%s, %s)", (match_org, ids))
                chunk_s.append(time.perf_counter() - began)
            messages = one(conn, count)
            events = {
                str(e): int(n)
                for e, n in conn.execute(
                    "select event, count(*) from realtime.messages group by event"
                ).fetchall()
            }
            conn.rollback()
        out["on" if enabled else "off"] = {
            "insert_10000_s": round(insert_s, 3),
            "insert_10000_messages": after_insert - before,
            "match_chunk_s": [round(s, 3) for s in chunk_s],
            "match_messages_per_chunk": round((messages - after_insert) / chunks, 1),
            "events": events if enabled else {},
        }
    set_triggers(url, enabled=True)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": asdict(Machine.describe()), "args": vars(args)}
    with test_database() as db:
        log("making the organizations and their members")
        world = make_world(db.url, args.orgs, args.per_org)

        log("imports: 10,000 vendor invoices, matching chunks of 250, triggers on and off")
        results["import"] = import_cost(db.url, world[0]["org"], world[1]["org"], args.chunks)

        log("the triggers' own cost: inserts back to back, blocks of 100 on and off")
        results["trigger_overhead"] = trigger_overhead(db.url, world, args.overhead_rounds)
        if args.skip_delivery:
            results["loadavg_end"] = loadavg()
            return results

        log(f"writes with Realtime off ({args.seconds} s at {args.rate}/s)")
        set_triggers(db.url, enabled=False)
        off_before = write_phase(db.url, world, args.rate, args.seconds, 1_000_000)
        log(f"writes with the broadcast triggers alone, no server ({args.seconds} s)")
        set_triggers(db.url, enabled=True)
        triggers = write_phase(db.url, world, args.rate, args.seconds, 1_500_000)
        log(f"writes, the triggers on and off in alternating blocks of 50 ({2 * args.seconds} s)")
        alternating = write_phase(db.url, world, args.rate, 2 * args.seconds, 1_700_000, 50)
        set_triggers(db.url, enabled=True)

        log("starting the gateway (REST, Auth, Realtime) and the subscribers")
        server = serve(db.url)
        keys = server.config.keys
        tokens = [
            (o, w["org"], user_token(keys.jwt_secret, member))
            for o, w in enumerate(world)
            for member in w["members"]
        ]
        ctx = multiprocessing.get_context("spawn")
        ready, stop, queue = ctx.Event(), ctx.Event(), ctx.Queue()
        proc = ctx.Process(
            target=subscribers, args=(server.url, keys.anon_key, tokens, ready, stop, queue)
        )
        proc.start()
        if not ready.wait(300):
            raise RuntimeError("the subscribers did not all join")
        time.sleep(1)
        log(f"writes with Realtime on, {len(tokens)} subscribers ({args.seconds} s)")
        on = write_phase(db.url, world, args.rate, args.seconds, 2_000_000)
        time.sleep(3)  # the last deliveries
        stop.set()
        received = queue.get(timeout=120)
        proc.join(60)
        server.stop()

        log(f"writes with Realtime off again ({args.seconds} s)")
        set_triggers(db.url, enabled=False)
        off_after = write_phase(db.url, world, args.rate, args.seconds, 3_000_000)
        set_triggers(db.url, enabled=True)

    results["delivery"] = delivery(world, tokens, on, received)
    off = off_before["latencies"] + off_after["latencies"]
    writes: dict[str, Any] = {
        "off": describe(off),
        "on": describe(on["latencies"]),
        "triggers_only": describe(triggers["latencies"]),
        "off_before": describe(off_before["latencies"]),
        "off_after": describe(off_after["latencies"]),
    }
    writes["alternating_on"] = describe(
        [t for t, on_ in zip(alternating["latencies"], alternating["on"], strict=True) if on_]
    )
    writes["alternating_off"] = describe(
        [t for t, on_ in zip(alternating["latencies"], alternating["on"], strict=True) if not on_]
    )
    for q in ("p50", "p95", "mean"):
        writes[f"alternating_{q}_ratio"] = round(
            writes["alternating_on"][f"{q}_ms"] / writes["alternating_off"][f"{q}_ms"], 3
        )
    for phase in ("on", "triggers_only"):
        for q in ("p50", "p95", "mean"):
            writes[f"{phase}_{q}_ratio"] = round(
                writes[phase][f"{q}_ms"] / writes["off"][f"{q}_ms"], 3
            )
    results["writes"] = writes
    results["loadavg_end"] = loadavg()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--per-org", type=int, default=10)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--chunks", type=int, default=2, help="matching chunks of 250 measured")
    parser.add_argument(
        "--overhead-rounds", type=int, default=10, help="blocks of 100 inserts, on and off"
    )
    parser.add_argument("--skip-delivery", action="store_true", help="imports and overhead only")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "realtime.json")
    args = parser.parse_args(argv)
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2, default=str))


if __name__ == "__main__":
    main()
