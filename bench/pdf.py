"""Invoice PDFs: fpdf2 (shared.pdf) against reportlab, side by side in one run.

``.venv/bin/python -m bench.pdf [--runs 7] [--warm 60] [--loader-calls 200]``

Budgets (issue 5): a one-page invoice in <= 10 ms warm, and <= 250 ms for the first
document in a fresh process including imports (median of several fresh processes).

- Fresh processes (bench/pdf_child.py), fpdf2 and reportlab interleaved: the
  renderer's imports and the first document, bare, then after what the Lambda
  function imports anyway (``--function``: FastAPI, Mangum, postgrest).
- Warm, in one process, the two libraries alternating document by document on the
  same one-page invoice (bench/pdf_sample.py), then fpdf2 alone on the other
  templates, a Unicode invoice (Arabic, Hebrew, CJK) and a 120-item one.
- Unicode: what each library needs for right-to-left text and CJK.
- Package size: the files of each library's distributions (what a Lambda zip carries).
- The document loader (bench/pdf_loader.py): ``public.invoice_document`` by RPC against
  the same read by PostgREST embedding, alternating, on a throw-away cluster.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR, Summary, fmt_ms, loadavg, log, table, verdict
from bench.pdf_sample import sample_document

WARM_BUDGET_MS = 10.0
FIRST_BUDGET_MS = 250.0
ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("fpdf2", "reportlab")
DISTRIBUTIONS = {
    "fpdf2": ("fpdf2", "fonttools", "pillow", "defusedxml", "uharfbuzz"),
    "reportlab": ("reportlab", "pillow", "charset-normalizer"),
}


def fresh(library: str, function: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.pdf_child", library]
    if function:
        command.append("--function")
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    timings: dict[str, float] = json.loads(proc.stdout)
    timings["process"] = (time.perf_counter() - started) * 1e3
    return timings


def fresh_runs(runs: int) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {}
    for function in (False, True):
        for _ in range(runs):
            for library in LIBRARIES:  # interleaved: both see the same load
                key = f"{library}{' in function' if function else ''}"
                results.setdefault(key, []).append(fresh(library, function))
    return results


def warm_runs(count: int) -> dict[str, list[float]]:
    from bench.pdf_reportlab import render as render_reportlab  # noqa: PLC0415
    from shared.pdf import render_invoice_pdf  # noqa: PLC0415

    document = sample_document()
    render_invoice_pdf(document)
    render_reportlab(document)
    series: dict[str, list[float]] = {"fpdf2": [], "reportlab": []}
    for _ in range(count):
        for name, render in (("fpdf2", render_invoice_pdf), ("reportlab", render_reportlab)):
            started = time.perf_counter()
            render(document)
            series[name].append((time.perf_counter() - started) * 1e3)
    extra = {
        "fpdf2 modern": (sample_document(template="modern"), None),
        "fpdf2 minimal": (sample_document(template="minimal"), None),
        "fpdf2 draft (watermark)": (sample_document(status="draft"), None),
        "fpdf2 Unicode (Arabic, Hebrew, CJK)": (unicode_document(), None),
        "fpdf2 120 items (4 pages)": (sample_document(items=120), None),
    }
    for name, (doc, _) in extra.items():
        render_invoice_pdf(doc)
        times = []
        for _ in range(max(5, count // 5)):
            started = time.perf_counter()
            render_invoice_pdf(doc)
            times.append((time.perf_counter() - started) * 1e3)
        series[name] = times
    return series


def unicode_document() -> dict[str, Any]:
    document = sample_document(client_name="株式会社テスト 東京", contact="محمد عبد الله")
    document["items"][0]["description"] = "שירותי ייעוץ — Ελληνικά — Привет"
    return document


def unicode_support() -> list[tuple[str, str, str]]:
    """What each library does with right-to-left and CJK names (checked, not assumed)."""
    from pypdf import PdfReader  # noqa: PLC0415
    from reportlab.pdfgen import textobject  # type: ignore[import-untyped]  # noqa: PLC0415

    from shared.pdf import render_invoice_pdf  # noqa: PLC0415

    text = PdfReader(io.BytesIO(render_invoice_pdf(unicode_document()))).pages[0].extract_text()
    fpdf2_ok = all(s in text for s in ("株式会社テスト 東京", "محمد عبد الله", "Ελληνικά"))
    rtl = "yes" if getattr(textobject, "rtlSupport", False) else "no (needs `rlbidi`)"
    return [
        (
            "right-to-left (Arabic, Hebrew)",
            "bidi + shaping built in (uharfbuzz, a runtime dependency)",
            f"bidi only with the `rlbidi` C extension (installed here: {rtl}); shaping "
            "through uharfbuzz",
        ),
        (
            "CJK next to Latin text",
            "fallback fonts per glyph (`set_fallback_fonts`)",
            "no fallback: the caller splits runs of text by font itself",
        ),
        (
            "round trip here (pypdf extracts the names from fpdf2's PDF)",
            "yes" if fpdf2_ok else "NO",
            "not built",
        ),
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
    fpdf2_first = Summary.of([r["total"] for r in cold["fpdf2"]]).median
    rl_first = Summary.of([r["total"] for r in cold["reportlab"]]).median
    fpdf2_cpu = Summary.of([r["cpu"] for r in cold["fpdf2"]]).median
    print(
        f"\nfpdf2 / reportlab, imports + first: {fpdf2_first / rl_first:.2f}x. Budget "
        f"<= {FIRST_BUDGET_MS:.0f} ms (fpdf2, bare, wall): "
        f"{verdict(fpdf2_first <= FIRST_BUDGET_MS)}; on CPU time: "
        f"{verdict(fpdf2_cpu <= FIRST_BUDGET_MS)}"
    )

    rows = []
    for key, times in warm.items():
        s = Summary.of(times)
        rows.append((key, s.n, fmt_ms(s.median), fmt_ms(s.p95), fmt_ms(s.minimum)))
    print("\n### Warm documents (ms)\n")
    print(table(["document", "n", "median", "p95", "min"], rows))
    fpdf2_warm = Summary.of(warm["fpdf2"]).median
    rl_warm = Summary.of(warm["reportlab"]).median
    print(
        f"\nfpdf2 / reportlab, warm one-page: {fpdf2_warm / rl_warm:.2f}x. Budget "
        f"<= {WARM_BUDGET_MS:.0f} ms (fpdf2): {verdict(fpdf2_warm <= WARM_BUDGET_MS)}"
    )

    print("\n### Unicode\n")
    print(table(["", "fpdf2", "reportlab"], unicode_support()))

    print("\n### Package size (installed files, no .pyc)\n")
    rows = []
    for library in LIBRARIES:
        size, files = package_size(library)
        rows.append((library, " + ".join(DISTRIBUTIONS[library]), f"{size:.1f} MiB", files))
    fonts = sum(p.stat().st_size for p in (ROOT / "shared/pdf/fonts").glob("*.ttf")) / 2**20
    rows.append(("bundled fonts (both)", "shared/pdf/fonts/*.ttf", f"{fonts:.1f} MiB", ""))
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
        json.dumps({"cold": cold, "warm": warm, "loader": loader}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
