"""One fresh process of bench/pdf.py: import a renderer and render one document.

``python -m bench.pdf_child shared.pdf|baseline [--function] [--unicode] [--warm N]``
prints JSON timings (ms): ``import`` (the renderer's imports), ``first`` (the first
document, fonts included), ``total`` (wall) and ``cpu`` (user + system time of the same
span: on a shared machine the wall time includes waiting for a CPU). ``shared.pdf`` is the
invoice renderer; ``baseline`` is bare reportlab drawing `render_baseline`'s fixed trivial
page (core font, no layout): the floor every reportlab document pays, which bench/pdf.py
runs interleaved with shared.pdf so that both see the same load. ``--function`` first
imports what the Lambda function imports anyway (FastAPI, Mangum, the PostgREST client,
shared.documents), untimed, so ``total`` is what a PDF adds to its cold start.
``--unicode`` renders bench/pdf_sample.py's Unicode invoice (Arabic, Hebrew, Greek,
Cyrillic, Japanese, Korean) instead of the Latin one. ``--warm N`` prints instead the CPU
times of N more documents and whether reportlab's C accelerator (rl-accel) was loaded.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable
from typing import Any

RENDERERS = ("shared.pdf", "baseline")
BASELINE_LINES = tuple(
    f"Line {n:02d}: the quick brown fox jumps over the lazy dog, 1234.50 USD" for n in range(30)
)


def render_baseline(document: dict[str, Any] | None = None) -> bytes:
    """The baseline: one A4 page of 30 lines of Helvetica (a core font, nothing embedded)
    on reportlab's canvas, the same whatever ``document`` is. What any reportlab PDF
    costs at least; shared.pdf's figures are read as a ratio to it."""
    del document
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]  # noqa: PLC0415
    from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]  # noqa: PLC0415

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    text = canvas.beginText(56, 780)
    text.setFont("Helvetica", 10)
    for line in BASELINE_LINES:
        text.textLine(line)
    canvas.drawText(text)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def renderer(name: str) -> Callable[[dict[str, Any]], bytes]:
    """The renderer ``name`` (its imports happen here)."""
    if name == "baseline":
        from reportlab.pdfgen import canvas  # type: ignore[import-untyped]  # noqa: F401, PLC0415

        return render_baseline
    if name == "shared.pdf":
        from shared.pdf import render_invoice_pdf  # noqa: PLC0415

        return render_invoice_pdf
    raise SystemExit(f"unknown renderer {name!r}: one of {', '.join(RENDERERS)}")


def main() -> None:
    name = sys.argv[1]
    if "--function" in sys.argv:
        import shared.api  # noqa: PLC0415
        import shared.context  # noqa: PLC0415
        import shared.documents  # noqa: F401, PLC0415
    from bench.pdf_sample import sample_document, unicode_document  # noqa: PLC0415

    document = unicode_document() if "--unicode" in sys.argv else sample_document()
    started = time.perf_counter()
    cpu_started = time.process_time()
    render = renderer(name)
    imported = time.perf_counter()
    body = render(document)
    done = time.perf_counter()
    cpu = time.process_time() - cpu_started
    assert body.startswith(b"%PDF-")
    if "--warm" in sys.argv:  # then N more documents, their CPU times
        from reportlab.lib import rl_accel  # type: ignore[import-untyped]  # noqa: PLC0415

        count = int(sys.argv[sys.argv.index("--warm") + 1])
        times = []
        for _ in range(count):
            cpu_started = time.process_time()
            render(document)
            times.append((time.process_time() - cpu_started) * 1e3)
        accelerated = rl_accel.fp_str.__module__ != "reportlab.lib.rl_accel"
        print(json.dumps({"warm_cpu": times, "accelerated": accelerated}))
        return
    print(
        json.dumps(
            {
                "import": (imported - started) * 1e3,
                "first": (done - imported) * 1e3,
                "total": (done - started) * 1e3,
                "cpu": cpu * 1e3,
                "bytes": len(body),
            }
        )
    )


if __name__ == "__main__":
    main()
