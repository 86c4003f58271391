"""Invoice PDFs: shared.pdf (reportlab) against the previous fpdf2 renderer, side by side.

``.venv/bin/python -m bench.pdf [--runs 7] [--warm 60] [--loader-calls 200] [--accel-path DIR]``

Budgets (issue 5): a one-page invoice in <= 10 ms warm, and <= 250 ms for the first
document in a fresh process including imports (median of several fresh processes).

- Fresh processes (bench/pdf_child.py), the two renderers interleaved: the renderer's
  imports and the first document, bare, then after what the Lambda function imports
  anyway (``--function``: FastAPI, Mangum, postgrest), then the Unicode invoice bare.
- Warm, in one process, the two renderers alternating document by document on the
  same one-page invoice (bench/pdf_sample.py), then on the other templates, a draft
  (watermark), a Unicode invoice (Arabic, Hebrew, Greek, Cyrillic, CJK, Korean) and a
  120-item one.
- With ``--accel-path``: shared.pdf warm, CPU time, in fresh processes without and with
  reportlab's optional C accelerator (``rl-accel``, not a dependency of ours).
- Unicode: the names read back from each renderer's PDF (pypdf).
- Package size: the files of each renderer's distributions (what a Lambda zip carries).
- The document loader (bench/pdf_loader.py): ``public.invoice_document`` by RPC against
  the same read by PostgREST embedding, alternating, on a throw-away cluster.

The fpdf2 renderer is bench/pdf_fpdf2.py (shared.pdf before it moved to reportlab).
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

from bench.common import OUT_DIR, Summary, fmt_ms, loadavg, log, table, verdict
from bench.pdf_sample import sample_document, unicode_document

WARM_BUDGET_MS = 10.0
FIRST_BUDGET_MS = 250.0
ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("reportlab", "fpdf2")
DISTRIBUTIONS = {
    "reportlab": ("reportlab", "pillow", "charset-normalizer", "python-bidi", "arabic-reshaper"),
    "fpdf2": ("fpdf2", "fonttools", "pillow", "defusedxml", "uharfbuzz"),
}
Render = Callable[[dict[str, Any]], bytes]


def fresh(library: str, *flags: str) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.pdf_child", library, *flags]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    timings: dict[str, float] = json.loads(proc.stdout)
    timings["process"] = (time.perf_counter() - started) * 1e3
    return timings


def fresh_runs(runs: int) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {}
    modes = (("", ()), (" in function", ("--function",)), (", Unicode invoice", ("--unicode",)))
    for suffix, flags in modes:
        for _ in range(runs):
            for library in LIBRARIES:  # interleaved: both see the same load
                results.setdefault(f"{library}{suffix}", []).append(fresh(library, *flags))
    return results


def renderers() -> dict[str, Render]:
    from bench.pdf_fpdf2 import render_invoice_pdf as fpdf2  # noqa: PLC0415
    from shared.pdf import render_invoice_pdf as reportlab  # noqa: PLC0415

    return {"reportlab": reportlab, "fpdf2": fpdf2}


def warm_runs(count: int) -> dict[str, list[float]]:
    """Each document rendered by both renderers in turn, after one untimed render:
    wall time (key ``renderer: document``) and CPU time (key ``... cpu``) of each."""
    documents = {
        "one-page (professional)": (sample_document(), count),
        "modern": (sample_document(template="modern"), max(5, count // 5)),
        "minimal": (sample_document(template="minimal"), max(5, count // 5)),
        "draft (watermark)": (sample_document(status="draft"), max(5, count // 5)),
        "Unicode (Arabic, Hebrew, CJK, Korean)": (unicode_document(), max(5, count // 5)),
        "120 items (4 pages)": (sample_document(items=120), max(5, count // 5)),
    }
    series: dict[str, list[float]] = {}
    for label, (document, n) in documents.items():
        for render in renderers().values():
            render(document)
        for _ in range(n):
            for name, render in renderers().items():
                started, cpu = time.perf_counter(), time.process_time()
                render(document)
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
        command = [sys.executable, "-m", "bench.pdf_child", "reportlab", "--warm", str(count)]
        proc = subprocess.run(
            command, capture_output=True, text=True, check=True, cwd=ROOT, env=env
        )
        out = json.loads(proc.stdout)
        assert out["accelerated"] == accel, out
        key = "with rl-accel" if accel else "without"
        results.setdefault(key, []).extend(out["warm_cpu"])
    return results


def unicode_support() -> list[tuple[str, str, str]]:
    """What each renderer's PDF gives back (checked, not assumed)."""
    from pypdf import PdfReader  # noqa: PLC0415

    names = ("株式会社テスト 東京", "محمد عبد الله", "שדרות", "Ελληνικά", "Привет", "한국어 번역")
    found = {}
    for name, render in renderers().items():
        reader = PdfReader(io.BytesIO(render(unicode_document())))
        text = reader.pages[0].extract_text()
        found[name] = ", ".join(f"{n} {'yes' if n in text else 'NO'}" for n in names)
    return [
        (
            "right-to-left (Arabic, Hebrew)",
            "arabic_reshaper (joining forms, the font's ligatures) + python-bidi "
            "`get_display` (display order); ToUnicode maps the forms back to letters",
            "bidi and shaping built in (uharfbuzz)",
        ),
        (
            "CJK and Korean beside Latin text",
            "runs split by the font that has each character, each run in its font",
            "fallback fonts per glyph (`set_fallback_fonts`)",
        ),
        ("read back by pypdf", found["reportlab"], found["fpdf2"]),
    ]


def package_size(library: str) -> tuple[float, int]:
    total, files = 0, 0
    for name in DISTRIBUTIONS[library]:
        dist = metadata.distribution(name)
        for entry in dist.files or []:
            path = Path(str(dist.locate_file(entry)))
            if path.suffix == ".pyc" or "__pycache__" in path.parts:
                continue
            if path.is_file():
                total += path.stat().st_size
                files += 1
    return total / 2**20, files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pdf", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per library")
    parser.add_argument("--warm", type=int, default=60, help="warm documents per library")
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
    log(f"{args.runs} fresh processes per library and mode, interleaved")
    cold = fresh_runs(args.runs)
    log(f"{args.warm} warm documents per library, alternating")
    warm = warm_runs(args.warm)
    log(f"load average at end: {loadavg()}")

    rows: list[tuple[object, ...]] = []
    for key, runs in cold.items():
        imports = Summary.of([r["import"] for r in runs])
        first = Summary.of([r["first"] for r in runs])
        total = Summary.of([r["total"] for r in runs])
        process = Summary.of([r["process"] for r in runs])
        cpu = Summary.of([r["cpu"] for r in runs])
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
    print("\n### First document in a fresh process (ms, median of", args.runs, "runs)\n")
    print(
        table(
            [
                "renderer",
                "imports",
                "first document",
                "imports + first",
                "CPU of imports + first",
                "whole process",
            ],
            rows,
        )
    )
    rl_first = Summary.of([r["total"] for r in cold["reportlab"]]).median
    rl_cpu = Summary.of([r["cpu"] for r in cold["reportlab"]]).median
    fpdf2_first = Summary.of([r["total"] for r in cold["fpdf2"]]).median
    print(
        f"\nreportlab / fpdf2, imports + first: {rl_first / fpdf2_first:.2f}x. Budget "
        f"<= {FIRST_BUDGET_MS:.0f} ms (shared.pdf, reportlab, bare): wall "
        f"{fmt_ms(rl_first)} ms {verdict(rl_first <= FIRST_BUDGET_MS)}; CPU "
        f"{fmt_ms(rl_cpu)} ms {verdict(rl_cpu <= FIRST_BUDGET_MS)}"
    )

    rows = []
    for key, times in warm.items():
        if key.endswith(" cpu"):
            continue
        s, c = Summary.of(times), Summary.of(warm[f"{key} cpu"])
        rows.append(
            (key, s.n, fmt_ms(s.median), fmt_ms(s.p95), fmt_ms(s.minimum), fmt_ms(c.median))
        )
    print("\n### Warm documents (ms, the two renderers alternating)\n")
    print(table(["renderer: document", "n", "median", "p95", "min", "CPU median"], rows))
    page = "one-page (professional)"
    rl_warm = Summary.of(warm[f"reportlab: {page}"]).median
    rl_warm_cpu = Summary.of(warm[f"reportlab: {page} cpu"]).median
    fpdf2_warm = Summary.of(warm[f"fpdf2: {page}"]).median
    print(
        f"\nreportlab / fpdf2, warm one-page: {rl_warm / fpdf2_warm:.2f}x. Budget "
        f"<= {WARM_BUDGET_MS:.0f} ms (shared.pdf, reportlab): wall {fmt_ms(rl_warm)} ms "
        f"{verdict(rl_warm <= WARM_BUDGET_MS)}; CPU {fmt_ms(rl_warm_cpu)} ms "
        f"{verdict(rl_warm_cpu <= WARM_BUDGET_MS)}"
    )
    accel: dict[str, list[float]] = {}
    if args.accel_path:
        accel = accelerated(args.warm, args.accel_path)
        print("\n### reportlab's C accelerator (rl-accel), warm one-page CPU ms\n")
        rows = []
        for key, times in accel.items():
            c = Summary.of(times)
            rows.append((key, c.n, fmt_ms(c.median), fmt_ms(c.minimum)))
        print(table(["shared.pdf", "n", "CPU median", "CPU min"], rows))

    print("\n### Unicode\n")
    print(table(["", "reportlab (shared.pdf)", "fpdf2 (bench/pdf_fpdf2.py)"], unicode_support()))

    print("\n### Package size (installed files, no .pyc)\n")
    rows = []
    for library in LIBRARIES:
        size, files = package_size(library)
        rows.append((library, " + ".join(DISTRIBUTIONS[library]), f"{size:.1f} MiB", files))
    fonts = sum(p.stat().st_size for p in (ROOT / "shared/pdf/fonts").glob("*.ttf")) / 2**20
    rows.append(
        ("bundled fonts (both renderers)", "shared/pdf/fonts/*.ttf", f"{fonts:.1f} MiB", "")
    )
    print(table(["library", "distributions", "size", "files"], rows))

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
