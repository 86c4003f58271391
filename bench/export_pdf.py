"""The report export's PDF writer (shared.exports.writers.write_pdf, on reportlab), beside
bare reportlab drawing the same cells:

    .venv/bin/python -m bench.export_pdf [--rows 2000] [--rounds 5] [--names mixed|latin]

The invoice list's table (``lists.INVOICE_COLUMNS``, its PDF columns: number, client,
status, dates, currency, total, paid, balance) of ``--rows`` rows (2,000: the PDF's cap,
``PDF_MAX_ROWS``, which this measure set), USD and JPY amounts, client names Latin only or
mixed (Latin, Chinese, Korean, Arabic, Hebrew: ``mixed``, the default, the case the
fallback fonts and shaping cost most in). The rows are made in memory: the database read
and the S3 upload are bench/export.py's. No budget of its own: the writer's share of an
export request (whose budgets bench/export.py measures) at the cap, recorded with its
ratio to the baseline.

The baseline, in the same run (the machine is shared and noisy): ``bare`` is reportlab's
canvas alone putting the same rows' PDF cells on A4 pages, 45 rows a page, in Helvetica
(a core font: characters outside Latin-1 drawn as ``?``), with no fonts, runs, shaping,
measuring or formatting: the floor of drawing that many strings with reportlab.

Each measurement is a **fresh process** (a new Lambda instance): the writer's imports
(``import``, wall), the first PDF (``cold``: fonts loaded and registered) and the median of
3 more in the same process (``warm``), each in wall and CPU time (``_cpu``: the process's,
steadier on a shared machine), and the file's size; rounds interleave ``writer`` and
``bare``, alternating which goes first. The fpdf2 writer this one replaced is in git
history (bench/RESULTS.md, "The PDF writer on reportlab").
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bench.common import Machine, fmt_ratio, loadavg, log, table

if TYPE_CHECKING:
    from shared.exports.table import Table

WRITERS = ("bare", "writer")
BARE_ROWS_PER_PAGE = 45
LATIN = ("Acmé Ünïcode GmbH", "Northwind Traders Ltd", "Żółć & Sons sp. z o.o.")
MIXED = (*LATIN, "東京商事株式会社", "한국무역상사", "شركة الأمل للتجارة", "חברת שלום בע״מ")


def _rows(count: int, names: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    start = date(2025, 1, 1)
    for i in range(count):
        yen = i % 4 == 0
        total = Decimal(150000 + i) if yen else Decimal(f"{1200 + i}.50")
        paid = total if i % 3 == 0 else Decimal(0)
        yield (
            f"INV-{i:06d}",
            names[i % len(names)],
            "paid" if i % 3 == 0 else "sent",
            False,
            (start + timedelta(days=i % 90)).isoformat(),
            (start + timedelta(days=30 + i % 90)).isoformat(),
            "net30",
            "JPY" if yen else "USD",
            total,
            Decimal(0),
            Decimal(0),
            Decimal(0),
            total,
            paid,
            total - paid,
            None,
            None,
            f"00000000-0000-0000-0000-{i:012d}",
        )


def _bare_pdf(table: Table, sink: io.BytesIO, *, generated_at: datetime) -> None:
    """The baseline: the table's PDF cells as plain strings on reportlab's canvas."""
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]  # noqa: PLC0415
    from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]  # noqa: PLC0415

    shown = [i for i, column in enumerate(table.columns) if column.in_pdf]
    canvas = Canvas(sink, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{table.title} {generated_at.isoformat()}")
    text = None
    for n, row in enumerate(table.rows):
        if n % BARE_ROWS_PER_PAGE == 0:
            if text is not None:
                canvas.drawText(text)
                canvas.showPage()
            text = canvas.beginText(28, 800)
            text.setFont("Helvetica", 8)
        assert text is not None
        cells = (str(row[i]).encode("latin-1", "replace").decode("latin-1") for i in shown)
        text.textLine("  ".join(cells))
    if text is not None:
        canvas.drawText(text)
    canvas.showPage()
    canvas.save()


def child(writer: str, rows: int, names: str) -> None:
    started = time.perf_counter()
    from shared.exports import lists  # noqa: PLC0415
    from shared.exports.table import Table  # noqa: PLC0415

    if writer == "bare":
        from reportlab.pdfgen import canvas  # type: ignore[import-untyped]  # noqa: F401, PLC0415

        write_pdf: Callable[..., None] = _bare_pdf
    else:
        import shared.pdf  # noqa: F401, PLC0415
        from shared.exports import writers  # noqa: PLC0415

        write_pdf = writers.write_pdf
    imported = time.perf_counter() - started
    chosen = MIXED if names == "mixed" else LATIN

    def once() -> tuple[float, float, int]:
        table = Table(
            name="invoices",
            title="Invoices",
            subtitle="issued 2025-01-01 to 2025-03-31",
            columns=lists.INVOICE_COLUMNS,
            rows=_rows(rows, chosen),
        )
        sink = io.BytesIO()
        began, cpu = time.perf_counter(), time.process_time()
        write_pdf(table, sink, generated_at=datetime(2026, 12, 1, tzinfo=UTC))
        return time.perf_counter() - began, time.process_time() - cpu, len(sink.getvalue())

    cold, cold_cpu, size = once()
    warm = [once() for _ in range(3)]
    print(
        json.dumps(
            {
                "import": imported,
                "cold": cold,
                "cold_cpu": cold_cpu,
                "warm": statistics.median(w[0] for w in warm),
                "warm_cpu": statistics.median(w[1] for w in warm),
                "bytes": size,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_pdf")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--names", choices=("mixed", "latin"), default="mixed")
    parser.add_argument("--child", choices=WRITERS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.rows, args.names)
        return 0
    machine = Machine.describe()
    results: dict[str, list[dict[str, float]]] = {w: [] for w in WRITERS}
    for round_ in range(args.rounds):
        order = WRITERS if round_ % 2 == 0 else WRITERS[::-1]
        for writer in order:
            command = [sys.executable, "-m", "bench.export_pdf", "--child", writer]
            out = subprocess.run(
                [*command, "--rows", str(args.rows), "--names", args.names],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[writer].append(json.loads(out.strip().splitlines()[-1]))
            log(f"round {round_ + 1} {writer}: {results[writer][-1]} (load {loadavg()})")

    def med(writer: str, key: str) -> float:
        return statistics.median(r[key] for r in results[writer])

    lines = []
    for key in ("import", "cold", "cold_cpu", "warm", "warm_cpu"):
        ours, floor = med("writer", key), med("bare", key)
        lines.append((key, f"{ours:.3f} s", f"{floor:.3f} s", fmt_ratio(ours / floor)))
    lines.append(
        (
            "bytes",
            f"{med('writer', 'bytes'):,.0f}",
            f"{med('bare', 'bytes'):,.0f}",
            fmt_ratio(med("writer", "bytes") / med("bare", "bytes")),
        )
    )
    print(
        f"PDF export writer, {args.rows} rows, {args.names} names, {args.rounds} rounds"
        f" (medians); {machine.nproc} CPUs {machine.cpu_model}; load at start"
        f" {machine.loadavg_start}, at end {loadavg()}"
    )
    print(table(("", "writer (shared.exports)", "bare reportlab", "writer/bare"), lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
