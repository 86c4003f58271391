"""Report export budgets (issue 5), side by side in one run:

    .venv/bin/python -m bench.export [--rows 100000] [--rounds 3]

A tenant of ``--rows`` invoices (``bench.dataset``: 5 organizations, organization 1 holding
``--rows``, the others 5,000 each), the local stack's REST gateway and a moto S3 server.
Each measurement runs in a **fresh process** (as a new Lambda instance would), after one
small warm-up export in the same format (imports, connections), interleaved by round:

- ``csv`` / ``xlsx``: ``GET /api/reports/export?report=invoices&format=…`` through the
  function's ``handler(event, context)``: every page read through PostgREST with the
  user's JWT, written, uploaded to S3 (multipart) and presigned — the whole request.
- ``bare-xlsx``: the same rows (read into memory first, not timed) written with bare
  xlsxwriter in ``constant_memory`` mode, typed calls and the same formats, to a file in
  /tmp: the baseline of the XLSX budget (≤ 1.3x).
- ``fetch``: only the keyset pages (the rows converted, nothing written), to show what
  reading costs.
- memory: the process's peak RSS growth during the export (``VmHWM`` reset through
  ``/proc/self/clear_refs`` just before it, against ``VmRSS`` before it), and in a
  separate traced run the ``tracemalloc`` peak of the Python heap. Budget ≤ 100 MiB.

Also: a page deep in the tenant by OFFSET and by keyset through the view, and by the
``export_invoice_page`` RPC (the export's source); and the import cost the lazy imports
keep out of a CSV export.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench import dataset
from bench.common import OUT_DIR, Machine, connect, fmt_ratio, loadavg, log, table, user_token

CASES = ("csv", "xlsx", "bare-xlsx", "fetch")
MIB = 1024 * 1024


# ---------------------------------------------------------------------------------------
# In the child process


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5", encoding="utf-8")


def _call(handler: Any, host: Any, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = host._pool.submit(handler, event, None).result()
    if result["statusCode"] != 200:
        raise RuntimeError(f"{result['statusCode']} {result['body'][:400]}")
    body: dict[str, Any] = json.loads(result["body"])
    return body


def _source_rows(config: dict[str, Any]) -> Any:
    from shared import db  # noqa: PLC0415
    from shared.exports import lists, reading  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    query = reading.ReportQuery(
        client=db.rest(get_settings(), config["token"]),
        organization_id=config["org"],
        date_from=None,
        date_to=None,
        options={},
    )
    return lists.invoices(query)


def _typed(row: tuple[Any, ...], kinds: list[str]) -> tuple[Any, ...]:
    """A row of the database's strings as Python values (dates, Decimal)."""
    parse: dict[str, Any] = {
        "date": date.fromisoformat,
        "datetime": datetime.fromisoformat,
        "money": Decimal,
        "decimal": Decimal,
    }
    return tuple(
        parse[k](v) if v is not None and k in parse and isinstance(v, str) else v
        for k, v in zip(kinds, row, strict=True)
    )


def _bare_xlsx(rows: list[tuple[Any, ...]], kinds: list[str], path: str) -> None:
    """What a developer writes with xlsxwriter alone: typed calls, the same formats."""
    import xlsxwriter  # type: ignore[import-untyped]  # noqa: PLC0415

    from shared.exports.table import minor_unit  # noqa: PLC0415

    workbook = xlsxwriter.Workbook(path, {"constant_memory": True})
    sheet = workbook.add_worksheet("Invoices")
    money = {
        0: workbook.add_format({"num_format": "#,##0"}),
        2: workbook.add_format({"num_format": "#,##0.00"}),
        3: workbook.add_format({"num_format": "#,##0.000"}),
    }
    dates = workbook.add_format({"num_format": "yyyy-mm-dd"})
    stamps = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    decimals = workbook.add_format({"num_format": "#,##0.0##"})
    currency_at = 7
    for r, row in enumerate(rows, start=1):
        fmt = money[minor_unit(row[currency_at])]
        for c, value in enumerate(row):
            if value is None:
                continue
            kind = kinds[c]
            if kind == "money":
                sheet.write_number(r, c, float(value), fmt)
            elif kind == "text":
                sheet.write_string(r, c, value)
            elif kind == "date":
                sheet.write_datetime(r, c, value, dates)
            elif kind == "datetime":
                sheet.write_datetime(r, c, value.replace(tzinfo=None), stamps)
            elif kind == "decimal":
                sheet.write_number(r, c, float(value), decimals)
            elif kind == "bool":
                sheet.write_boolean(r, c, value)
            else:
                sheet.write_number(r, c, value)
    workbook.close()


def child(case: str, traced: bool) -> None:
    config = json.loads(sys.stdin.read())
    from devstack.functions import FunctionHost, http_event, load_functions  # noqa: PLC0415

    host = FunctionHost(load_functions(), workers=1)
    spec = host.by_name["reportsExport"].at("GET", "/api/reports/export")
    handler = host.handler(spec)
    headers = {"authorization": f"Bearer {config['token']}"}
    result: dict[str, Any] = {"case": case}
    if case in ("csv", "xlsx"):
        warm = http_event(
            spec, "GET", "/api/reports/export", f"report=overview&format={case}", headers
        )
        _call(handler, host, warm)
        event = http_event(
            spec, "GET", "/api/reports/export", f"report=invoices&format={case}", headers
        )
        before = _status("VmRSS")
        if traced:
            tracemalloc.start()
        _reset_peak()
        cpu = time.process_time()
        started = time.perf_counter()
        body = _call(handler, host, event)
        result["seconds"] = time.perf_counter() - started
        result["cpu"] = time.process_time() - cpu
        result["rss_growth"] = _status("VmHWM") - before
        result["rss_peak"] = _status("VmHWM")
        if traced:
            result["traced_peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        result["rows"] = body["rows"]
        result["bytes"] = body["bytes"]
    elif case == "fetch":
        _source_rows(config).rows.__next__()  # warm: connection, first page
        started = time.perf_counter()
        t = _source_rows(config)
        result["rows"] = sum(1 for _ in t.rows)
        result["seconds"] = time.perf_counter() - started
    else:
        t = _source_rows(config)
        kinds = [c.kind for c in t.columns]
        rows = [_typed(row, kinds) for row in t.rows]  # what the bare code is handed
        path = str(OUT_DIR / "bare.xlsx")
        _bare_xlsx(rows[:100], kinds, path)  # warm: the import, the code paths
        cpu = time.process_time()
        started = time.perf_counter()
        _bare_xlsx(rows, kinds, path)
        result["seconds"] = time.perf_counter() - started
        result["cpu"] = time.process_time() - cpu
        result["rows"] = len(rows)
        result["bytes"] = Path(path).stat().st_size
        Path(path).unlink()
    host.close()
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------
# In the parent


def _run_child(
    case: str, env: dict[str, str], config: dict[str, Any], traced: bool
) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.export", "--child", case]
    if traced:
        argv.append("--traced")
    out = subprocess.run(
        argv, input=json.dumps(config), capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{case}: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _imports(env: dict[str, str], runs: int) -> dict[str, float]:
    probe = (
        "import sys, time; w = time.process_time(); import {m}; "
        "print((time.process_time() - w) * 1000, int('xlsxwriter' in sys.modules), "
        "int('reportlab' in sys.modules))"
    )
    found: dict[str, list[float]] = {}
    flags: dict[str, str] = {}
    for _ in range(runs):
        for label, module in (
            ("functions.reports.export", "functions.reports.export"),
            ("+ xlsxwriter", "xlsxwriter"),
            ("+ shared.pdf", "shared.pdf"),  # the PDF writer's reportlab and fonts
        ):
            out = subprocess.run(
                [sys.executable, "-c", probe.format(m=module)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            ).stdout.split()
            found.setdefault(label, []).append(float(out[0]))
            if label == "functions.reports.export":
                flags["xlsxwriter loaded by the module"] = out[1]
                flags["reportlab loaded by the module"] = out[2]
    result = {label: statistics.median(values) for label, values in found.items()}
    result.update({k: float(v) for k, v in flags.items()})
    return result


def _pages(rest: str, anon: str, token: str, org: str, depth: int) -> dict[str, float]:
    """Pages ``depth`` rows into the tenant, each request plus its JSON parse (with
    ``Decimal``, as `shared.db.run` parses), per 1,000 rows: the view through PostgREST by
    OFFSET and by keyset (an array of objects, amounts as numbers), and the
    ``export_invoice_page`` RPC by keyset (an array of arrays, amounts as strings) with
    pages of 1,000, 2,000 and 5,000 rows."""
    from shared.exports.lists import INVOICE_SELECT  # noqa: PLC0415

    headers = {"apikey": anon, "authorization": f"Bearer {token}"}
    base = {
        "select": INVOICE_SELECT,
        "organization_id": f"eq.{org}",
        "order": "issue_date.desc,id.desc",
        "limit": "1000",
    }
    with httpx.Client(base_url=rest, headers=headers, timeout=60) as client:
        before = client.get(
            "/invoice_list", params={**base, "offset": str(depth - 1), "limit": "1"}
        )
        last = before.json()[0]
        day, ident = last["issue_date"], last["id"]
        keyset = {
            **base,
            "issue_date": f"lte.{day}",
            "and": f"(or(issue_date.lt.{day},and(issue_date.eq.{day},id.lt.{ident})))",
        }
        offset = {**base, "offset": str(depth)}

        def view(params: dict[str, str]) -> Callable[[], list[Any]]:
            def call() -> list[Any]:
                reply = client.get("/invoice_list", params=params)
                assert reply.status_code == 200, reply.text[:300]
                rows: list[Any] = json.loads(reply.content, parse_float=Decimal)
                return rows

            return call

        def rpc(rows: int) -> Callable[[], list[Any]]:
            body = {
                "organization_id": org,
                "after_issue_date": day,
                "after_id": ident,
                "page_rows": rows,
            }

            def call() -> list[Any]:
                reply = client.post("/rpc/export_invoice_page", json=body)
                assert reply.status_code == 200, reply.text[:300]
                found: list[Any] = json.loads(reply.content, parse_float=Decimal)
                return found

            return call

        cases: dict[str, tuple[Callable[[], list[Any]], int]] = {
            "view offset": (view(offset), 1000),
            "view keyset": (view(keyset), 1000),
            "rpc keyset 1000": (rpc(1000), 1000),
            "rpc keyset 2000": (rpc(2000), 2000),
            "rpc keyset 5000": (rpc(5000), 5000),
        }
        times: dict[str, list[float]] = {label: [] for label in cases}
        for _ in range(7):
            for label, (call, size) in cases.items():
                started = time.perf_counter()
                got = call()
                times[label].append((time.perf_counter() - started) * 1000 * 1000 / size)
                assert len(got) == size, (label, len(got))
        first = cases["view offset"][0]()[0]["id"]
        assert first == cases["view keyset"][0]()[0]["id"] == cases["rpc keyset 1000"][0]()[0][17]
    return {label: statistics.median(values) for label, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=CASES)
    parser.add_argument("--traced", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.traced)
        return 0

    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from devstack import postgres  # noqa: PLC0415
    from devstack.aws import provision  # noqa: PLC0415
    from devstack.postgres import free_port  # noqa: PLC0415
    from devstack.stack import serve  # noqa: PLC0415

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    machine = Machine.describe()
    results: dict[str, list[dict[str, Any]]] = {case: [] for case in CASES}
    traced: dict[str, dict[str, Any]] = {}
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(cluster.admin_url) as conn:  # the data set is loaded as the superuser
            others = 5_000
            total = args.rows + 4 * others
            dataset.load(
                conn,
                orgs=5,
                invoices=total,
                clients_per_org=50,
                large_share=args.rows / total,
                item_invoices=5,
                existing_items=0,
            )
            row = conn.execute(
                "select o.organization_id::text, o.user_id::text,"
                " (select count(*) from public.invoices i"
                "  where i.organization_id = o.organization_id)"
                " from bench.orgs o where o.n = 1"
            ).fetchone()
            assert row is not None
            org, uid, count = row
            log(f"tenant: {count:,} invoices")
        gateway = serve(cluster.url)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        moto.start()
        try:
            host, port = moto.get_host_and_port()
            aws = provision(f"http://{host}:{port}")
            keys = gateway.config.keys
            token = user_token(keys.jwt_secret, uid, 7200)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "AWS_"))},
                **aws.environment(),
                "SUPABASE_URL": gateway.url,
                "SUPABASE_ANON_KEY": keys.anon_key,
                "SUPABASE_JWT_SECRET": keys.jwt_secret,
                "RATE_LIMIT_PER_WINDOW": "0",
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            }
            config = {"token": token, "org": org}
            log("pages: OFFSET, keyset, RPC, 94% in")
            pages = _pages(gateway.url + "/rest/v1", keys.anon_key, token, org, args.rows - 6000)
            log("imports")
            imports = _imports(env, 5)
            for round_ in range(args.rounds):
                order = CASES[round_ % len(CASES) :] + CASES[: round_ % len(CASES)]
                for case in order:
                    log(f"round {round_ + 1}/{args.rounds}: {case}")
                    results[case].append(_run_child(case, env, config, traced=False))
            for case in ("csv", "xlsx"):
                log(f"traced: {case}")
                traced[case] = _run_child(case, env, config, traced=True)
        finally:
            moto.stop()
            gateway.stop()

    def med(case: str, key: str = "seconds") -> float:
        return float(statistics.median(r[key] for r in results[case]))

    def worst(case: str, key: str) -> float:
        return float(max(r[key] for r in results[case]))

    xlsx_ratio = med("xlsx") / med("bare-xlsx")
    xlsx_cpu_ratio = med("xlsx", "cpu") / med("bare-xlsx", "cpu")
    rows = [
        (
            "CSV export, 100k rows (whole request)",
            f"{med('csv'):.2f} s",
            ", ".join(f"{r['seconds']:.2f}" for r in results["csv"]),
            "≤ 3 s",
            "PASS" if med("csv") <= 3 else "FAIL",
        ),
        (
            "CSV export: CPU of the function's process",
            f"{med('csv', 'cpu'):.2f} s",
            ", ".join(f"{r['cpu']:.2f}" for r in results["csv"]),
            "",
            "",
        ),
        (
            "XLSX export (whole request)",
            f"{med('xlsx'):.2f} s",
            ", ".join(f"{r['seconds']:.2f}" for r in results["xlsx"]),
            "",
            "",
        ),
        (
            "bare xlsxwriter, same rows in memory",
            f"{med('bare-xlsx'):.2f} s",
            ", ".join(f"{r['seconds']:.2f}" for r in results["bare-xlsx"]),
            "",
            "",
        ),
        (
            "XLSX export / bare xlsxwriter",
            fmt_ratio(xlsx_ratio),
            ", ".join(
                fmt_ratio(a["seconds"] / b["seconds"])
                for a, b in zip(results["xlsx"], results["bare-xlsx"], strict=True)
            ),
            "≤ 1.3x",
            "PASS" if xlsx_ratio <= 1.3 else "FAIL",
        ),
        (
            "XLSX export / bare xlsxwriter, CPU time of each process",
            fmt_ratio(xlsx_cpu_ratio),
            ", ".join(
                f"{a['cpu']:.2f}/{b['cpu']:.2f} s"
                for a, b in zip(results["xlsx"], results["bare-xlsx"], strict=True)
            ),
            "≤ 1.3x",
            "PASS" if xlsx_cpu_ratio <= 1.3 else "FAIL",
        ),
        (
            "reading the pages only (export_invoice_page)",
            f"{med('fetch'):.2f} s",
            ", ".join(f"{r['seconds']:.2f}" for r in results["fetch"]),
            "",
            "",
        ),
        (
            "CSV peak RSS growth (max of runs)",
            f"{worst('csv', 'rss_growth') / MIB:.1f} MiB",
            f"process peak {worst('csv', 'rss_peak') / MIB:.0f} MiB; traced heap peak"
            f" {traced['csv']['traced_peak'] / MIB:.1f} MiB",
            "≤ 100 MiB",
            "PASS" if worst("csv", "rss_growth") <= 100 * MIB else "FAIL",
        ),
        (
            "XLSX peak RSS growth (max of runs)",
            f"{worst('xlsx', 'rss_growth') / MIB:.1f} MiB",
            f"process peak {worst('xlsx', 'rss_peak') / MIB:.0f} MiB; traced heap peak"
            f" {traced['xlsx']['traced_peak'] / MIB:.1f} MiB",
            "≤ 100 MiB",
            "PASS" if worst("xlsx", "rss_growth") <= 100 * MIB else "FAIL",
        ),
        (
            "a page 94% in, ms per 1,000 rows (request + parse)",
            " / ".join(f"{label} {value:.1f}" for label, value in pages.items()),
            "median of 7, interleaved",
            "",
            "",
        ),
        (
            "import functions.reports.export (CPU)",
            f"{imports['functions.reports.export']:.0f} ms",
            f"xlsxwriter loaded: {int(imports['xlsxwriter loaded by the module'])}, reportlab"
            f" loaded: {int(imports['reportlab loaded by the module'])}; alone: xlsxwriter"
            f" {imports['+ xlsxwriter']:.0f} ms, shared.pdf {imports['+ shared.pdf']:.0f} ms",
            "",
            "",
        ),
    ]
    report = "\n".join(
        [
            f"bench.export, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.rows:,} invoice rows,"
            f" {args.rounds} rounds; load average at start {machine.loadavg_start},"
            f" at end {loadavg()}",
            f"files: CSV {results['csv'][0]['bytes'] / MIB:.1f} MiB,"
            f" XLSX {results['xlsx'][0]['bytes'] / MIB:.1f} MiB,"
            f" rows {results['csv'][0]['rows']:,}",
            "",
            table(("measure", "median", "runs", "budget", "verdict"), rows),
        ]
    )
    print(report)
    (OUT_DIR / "export.md").write_text(report + "\n", encoding="utf-8")
    (OUT_DIR / "export.json").write_text(
        json.dumps(
            {"results": results, "traced": traced, "pages": pages, "imports": imports}, indent=2
        ),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
