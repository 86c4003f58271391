"""One fresh process of bench/pdf.py: import a renderer and render one invoice.

``python -m bench.pdf_child reportlab|fpdf2 [--function] [--unicode]`` prints JSON
timings (ms): ``import`` (the renderer's imports), ``first`` (the first document, fonts
included), ``total`` (wall) and ``cpu`` (user + system time of the same span: on a
shared machine the wall time includes waiting for a CPU). ``reportlab`` is `shared.pdf`,
``fpdf2`` the previous renderer kept in bench/pdf_fpdf2.py. ``--function`` first imports
what the Lambda function imports anyway (FastAPI, Mangum, the PostgREST client,
shared.documents), untimed, so ``total`` is what a PDF adds to its cold start.
``--unicode`` renders bench/pdf.py's Unicode invoice (Arabic, Hebrew, Greek, Cyrillic,
Japanese) instead of the Latin one. ``--warm N`` prints instead the CPU times of N more
documents and whether reportlab's C accelerator (rl-accel) was loaded.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    library = sys.argv[1]
    if "--function" in sys.argv:
        import shared.api  # noqa: PLC0415
        import shared.context  # noqa: PLC0415
        import shared.documents  # noqa: F401, PLC0415
    from bench.pdf_sample import sample_document, unicode_document  # noqa: PLC0415

    document = unicode_document() if "--unicode" in sys.argv else sample_document()
    started = time.perf_counter()
    cpu_started = time.process_time()
    if library == "fpdf2":
        from bench.pdf_fpdf2 import render_invoice_pdf  # noqa: PLC0415
    else:
        from shared.pdf import render_invoice_pdf  # noqa: PLC0415
    imported = time.perf_counter()
    body = render_invoice_pdf(document)
    done = time.perf_counter()
    cpu = time.process_time() - cpu_started
    assert body.startswith(b"%PDF-")
    if "--warm" in sys.argv:  # then N more documents, their CPU times
        from reportlab.lib import rl_accel  # type: ignore[import-untyped]  # noqa: PLC0415

        count = int(sys.argv[sys.argv.index("--warm") + 1])
        times = []
        for _ in range(count):
            cpu_started = time.process_time()
            render_invoice_pdf(document)
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
