"""Invoice PDFs: shared.pdf (reportlab) against its budgets, beside a bare reportlab baseline.

``.venv/bin/python -m bench.pdf [--runs 7] [--warm 60] [--loader-calls 200] [--accel-path DIR]``

Budgets (issue 5): a one-page invoice in <= 10 ms warm, and <= 250 ms for the first
document in a fresh process including imports (median of several fresh processes).

The baseline, in the same run (the machine is shared and noisy): bare reportlab drawing a
fixed trivial page (bench/pdf_child.py ``render_baseline``: 30 lines of Helvetica, a core
font, nothing embedded, no layout), the floor any reportlab document pays. Every series
runs interleaved with it and is also given as a ratio to it: warm, document by document
in one process; cold, fresh process by fresh process (reportlab's imports and the trivial
page). A wall time that moves while its ratio does not is the machine, not the code.

- Fresh processes (bench/pdf_child.py), shared.pdf and the baseline interleaved: the
  renderer's imports and the first document, bare, then after what the Lambda function
  imports anyway (``--function``: FastAPI, Mangum, postgrest), then the Unicode invoice.
- Warm, in one process, shared.pdf and the baseline alternating document by document:
  the one-page invoice (bench/pdf_sample.py), then the other templates, a draft
  (watermark), a Unicode invoice (Arabic, Hebrew, Greek, Cyrillic, CJK, Korean) and a
  120-item one.
- With ``--accel-path``: shared.pdf warm, CPU time, in fresh processes without and with
  reportlab's optional C accelerator (``rl-accel``, not a dependency of ours).
- Unicode: the names read back from shared.pdf's PDF (pypdf).
- Package size: the files of the renderer's distributions (what a Lambda zip carries).
- The document loader (bench/pdf_loader.py): ``public.invoice_document`` by RPC against
  the same read by PostgREST embedding, alternating, on a throw-away cluster.

The fpdf2 renderer this one replaced, and the comparison with it, are in git history
(bench/RESULTS.md, "Issue 5: invoice PDFs").
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR, Summary, fmt_ms, fmt_ratio, loadavg, log, ratio, table, verdict
from bench.pdf_child import RENDERERS, render_baseline
from bench.pdf_sample import sample_document, unicode_document

WARM_BUDGET_MS = 10.0
FIRST_BUDGET_MS = 250.0
ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = ("reportlab", "pillow", "charset-normalizer", "python-bidi", "arabic-reshaper")
PAGE = "one-page (professional)"


def fresh(renderer: str, *flags: str) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.pdf_child", renderer, *flags]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    timings: dict[str, float] = json.loads(proc.stdout)
    timings["process"] = (time.perf_counter() - started) * 1e3
    return timings


def fresh_runs(runs: int) -> dict[str, list[dict[str, float]]]:
    """Keys ``renderer`` + mode suffix; the two renderers alternate which goes first."""
    results: dict[str, list[dict[str, float]]] = {}
    modes = (("", ()), (" in function", ("--function",)), (", Unicode invoice", ("--unicode",)))
    for suffix, flags in modes:
        for run in range(runs):
            for renderer in RENDERERS if run % 2 == 0 else RENDERERS[::-1]:
                results.setdefault(f"{renderer}{suffix}", []).append(fresh(renderer, *flags))
    return results


def warm_runs(count: int) -> dict[str, list[float]]:
    """Each document rendered by shared.pdf, then the baseline page, in turn, after one
    untimed render of each: wall time (key ``renderer: document``) and CPU time (key
    ``... cpu``). The baseline is paired with each document so that every row has its
    own, measured at the same moment."""
    from shared.pdf import render_invoice_pdf  # noqa: PLC0415

    documents = {
        PAGE: (sample_document(), count),
        "modern": (sample_document(template="modern"), max(5, count // 5)),
        "minimal": (sample_document(template="minimal"), max(5, count // 5)),
        "draft (watermark)": (sample_document(status="draft"), max(5, count // 5)),
        "Unicode (Arabic, Hebrew, CJK, Korean)": (unicode_document(), max(5, count // 5)),
        "120 items (4 pages)": (sample_document(items=120), max(5, count // 5)),
    }
    renders: dict[str, Callable[[dict[str, Any]], bytes]] = {
        "shared.pdf": render_invoice_pdf,
        "baseline": render_baseline,
    }
    series: dict[str, list[float]] = {}
    for label, (document, n) in documents.items():
        for render in renders.values():
            render(document)
        for i in range(n):
            for name in RENDERERS if i % 2 == 0 else RENDERERS[::-1]:
                started, cpu = time.perf_counter(), time.process_time()
                renders[name](document)
                wall = (time.perf_counter() - started) * 1e3
                series.setdefault(f"{name}: {label}", []).append(wall)
                cpu_ms = (time.process_time() - cpu) * 1e3
                series.setdefault(f"{name}: {label} cpu", []).append(cpu_ms)
    return series


def accelerated(count: int, path: str) -> dict[str, list[float]]:
    """shared.pdf's warm one-page CPU time in fresh processes without and with
    reportlab's optional C accelerator (rl-accel, installed under ``path``), ABBA."""
    results: dict[str, list[float]] = {}
    for accel in (False, True, True, False):
        env = dict(os.environ)
        if accel:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "bench.pdf_child", "shared.pdf", "--warm", str(count)]
        proc = subprocess.run(
            command, capture_output=True, text=True, check=True, cwd=ROOT, env=env
        )
        out = json.loads(proc.stdout)
        assert out["accelerated"] == accel, out
        key = "with rl-accel" if accel else "without"
        results.setdefault(key, []).extend(out["warm_cpu"])
    return results


def unicode_support() -> list[tuple[str, str]]:
    """What shared.pdf's PDF gives back (checked, not assumed)."""
    from pypdf import PdfReader  # noqa: PLC0415

    from shared.pdf import render_invoice_pdf  # noqa: PLC0415

    names = ("株式会社テスト 東京", "محمد عبد الله", "שדרות", "Ελληνικά", "Привет", "한국어 번역")
    reader = PdfReader(io.BytesIO(render_invoice_pdf(unicode_document())))
    text = reader.pages[0].extract_text()
    found = ", ".join(f"{n} {'yes' if n in text else 'NO'}" for n in names)
    return [
        (
            "right-to-left (Arabic, Hebrew)",
            "arabic_reshaper (joining forms, the font's ligatures) + python-bidi "
            "`get_display` (display order); ToUnicode maps the forms back to letters",
        ),
        (
            "CJK and Korean beside Latin text",
            "runs split by the font that has each character, each run in its font",
        ),
        ("read back by pypdf", found),
    ]


def package_size() -> tuple[float, int]:
    total, files = 0, 0
    for name in DISTRIBUTIONS:
        dist = metadata.distribution(name)
        for entry in dist.files or []:
            path = Path(str(dist.locate_file(entry)))
            if path.suffix == ".pyc" or "__pycache__" in path.parts:
                continue
            if path.is_file():
                total += path.stat().st_size
                files += 1
    return total / 2**20, files


def cold_report(cold: dict[str, list[dict[str, float]]], runs: int) -> None:
    rows: list[tuple[object, ...]] = []
    for key, results in cold.items():
        imports = Summary.of([r["import"] for r in results])
        first = Summary.of([r["first"] for r in results])
        total = Summary.of([r["total"] for r in results])
        process = Summary.of([r["process"] for r in results])
        cpu = Summary.of([r["cpu"] for r in results])
        rows.append(
            (
                key,
                fmt_ms(imports.median),
                fmt_ms(first.median),
                f"{fmt_ms(total.median)} (min {fmt_ms(total.minimum)})",
                f"{fmt_ms(cpu.median)} (min {fmt_ms(cpu.minimum)})",
                fmt_ms(process.median),
            )
        )
    print(f"\n### First document in a fresh process (ms, median of {runs} runs)\n")
    headers = [
        "renderer",
        "imports",
        "first document",
        "imports + first",
        "CPU of imports + first",
        "whole process",
    ]
    print(table(headers, rows))

    def med(key: str, field: str) -> float:
        return Summary.of([r[field] for r in cold[key]]).median

    first_wall, first_cpu = med("shared.pdf", "total"), med("shared.pdf", "cpu")
    print(
        f"\nBudget <= {FIRST_BUDGET_MS:.0f} ms (shared.pdf, bare): wall {fmt_ms(first_wall)} ms "
        f"{verdict(first_wall <= FIRST_BUDGET_MS)}; CPU {fmt_ms(first_cpu)} ms "
        f"{verdict(first_cpu <= FIRST_BUDGET_MS)}. shared.pdf / baseline, imports + first: "
        f"wall {fmt_ratio(ratio(first_wall, med('baseline', 'total')))}, "
        f"CPU {fmt_ratio(ratio(first_cpu, med('baseline', 'cpu')))}"
    )


def warm_report(warm: dict[str, list[float]]) -> None:
    rows: list[tuple[object, ...]] = []
    for key, times in warm.items():
        if key.endswith(" cpu") or not key.startswith("shared.pdf: "):
            continue
        label = key.removeprefix("shared.pdf: ")
        s, c = Summary.of(times), Summary.of(warm[f"{key} cpu"])
        base_cpu = Summary.of(warm[f"baseline: {label} cpu"]).median
        rows.append(
            (
                label,
                s.n,
                fmt_ms(s.median),
                fmt_ms(s.p95),
                fmt_ms(s.minimum),
                fmt_ms(c.median),
                fmt_ms(base_cpu),
                fmt_ratio(ratio(c.median, base_cpu)),
            )
        )
    print("\n### Warm documents (ms; shared.pdf and the baseline page alternating)\n")
    headers = [
        "shared.pdf: document",
        "n",
        "median",
        "p95",
        "min",
        "CPU median",
        "baseline CPU",
        "CPU / baseline",
    ]
    print(table(headers, rows))
    wall = Summary.of(warm[f"shared.pdf: {PAGE}"]).median
    cpu = Summary.of(warm[f"shared.pdf: {PAGE} cpu"]).median
    base_wall = Summary.of(warm[f"baseline: {PAGE}"]).median
    base_cpu = Summary.of(warm[f"baseline: {PAGE} cpu"]).median
    print(
        f"\nBudget <= {WARM_BUDGET_MS:.0f} ms (shared.pdf, warm one-page): wall "
        f"{fmt_ms(wall)} ms {verdict(wall <= WARM_BUDGET_MS)}; CPU {fmt_ms(cpu)} ms "
        f"{verdict(cpu <= WARM_BUDGET_MS)}. shared.pdf / baseline: wall "
        f"{fmt_ratio(ratio(wall, base_wall))}, CPU {fmt_ratio(ratio(cpu, base_cpu))}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pdf", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per renderer")
    parser.add_argument("--warm", type=int, default=60, help="warm documents per renderer")
    parser.add_argument(
        "--loader-calls",
        type=int,
        default=200,
        help="document loader calls per way and caller (0: skip; needs PostgreSQL)",
    )
    parser.add_argument(
        "--accel-path",
        default="",
        help="a directory with rl-accel installed (pip install --target DIR rl-accel): "
        "also measure shared.pdf with reportlab's C accelerator",
    )
    args = parser.parse_args(argv)
    log(f"load average at start: {loadavg()}")
    log(f"{args.runs} fresh processes per renderer and mode, interleaved")
    cold = fresh_runs(args.runs)
    log(f"{args.warm} warm documents per renderer, alternating")
    warm = warm_runs(args.warm)
    log(f"load average at end: {loadavg()}")
    cold_report(cold, args.runs)
    warm_report(warm)

    accel: dict[str, list[float]] = {}
    if args.accel_path:
        accel = accelerated(args.warm, args.accel_path)
        print("\n### reportlab's C accelerator (rl-accel), warm one-page CPU ms\n")
        rows: list[tuple[object, ...]] = []
        for key, times in accel.items():
            c = Summary.of(times)
            rows.append((key, c.n, fmt_ms(c.median), fmt_ms(c.minimum)))
        print(table(["shared.pdf", "n", "CPU median", "CPU min"], rows))

    print("\n### Unicode\n")
    print(table(["", "shared.pdf"], unicode_support()))

    print("\n### Package size (installed files, no .pyc)\n")
    size, files = package_size()
    fonts = sum(p.stat().st_size for p in (ROOT / "shared/pdf/fonts").glob("*.ttf")) / 2**20
    rows = [
        (" + ".join(DISTRIBUTIONS), f"{size:.1f} MiB", files),
        ("bundled fonts: shared/pdf/fonts/*.ttf", f"{fonts:.1f} MiB", ""),
    ]
    print(table(["distributions", "size", "files"], rows))

    loader: dict[str, list[float]] = {}
    if args.loader_calls:
        from bench import pdf_loader  # noqa: PLC0415 - starts PostgreSQL and the gateway

        loader = pdf_loader.measure(args.loader_calls)
        rows = []
        for key, times in loader.items():
            s = Summary.of(times)
            rows.append((key, s.n, fmt_ms(s.median), fmt_ms(s.p95), fmt_ms(s.minimum)))
        print("\n### Document loader: one round trip through the local gateway (ms)\n")
        print(table(["way, caller", "n", "median", "p95", "min"], rows))
        rpc = Summary.of(loader["rpc (shared.documents), user"]).median
        embedded = Summary.of(loader["embedding, user"]).median
        print(f"\nrpc / embedding (user): {rpc / embedded:.2f}x")

    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "pdf.json").write_text(
        json.dumps({"cold": cold, "warm": warm, "accel": accel, "loader": loader}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
