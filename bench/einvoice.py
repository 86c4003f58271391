"""E-invoices (issue 19): writing one against its budgets, and validating it.

``.venv/bin/python -m bench.einvoice [--runs 200] [--warm 20]``

Budgets: writing one e-invoice <= 20 ms warm (UBL, CII) and <= 60 ms (Factur-X PDF: our
renderer's PDF, the CII, the PDF/A-3 with the XML embedded). Writing starts from the
document as shared.documents loads it (tests/einvoice/documents.py: a two-rate invoice
with a discount and the parties) and includes the model (shared.einvoice.from_document).
Validation (XSD + the official Schematron through Saxon, + our Peppol checks) is measured
apart, warm, and its first run in the process (compiling the rule files) too. CPU time
(``time.process_time``) and wall time, median and p95 of ``--runs``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from shared.einvoice import cii, facturx, from_document, ubl, validate
from shared.einvoice.profiles import PROFILES
from shared.pdf import render_invoice_pdf
from tests.einvoice.documents import tax_document

BUDGETS_MS = {"ubl": 20.0, "cii": 20.0, "facturx": 60.0}


def document() -> dict[str, Any]:
    return tax_document(
        [
            ("Beratung", "10", "120.00", "S", "19"),
            ("Fachbuch", "3", "24.90", "S", "7"),
            ("Schulung", "1", "999.99", "S", "19"),
            ("Versand", "1", "4.99", "S", "19"),
        ],
        discount="33.33",
    )


def write(fmt: str, doc: dict[str, Any]) -> bytes:
    invoice = from_document.from_document(doc)
    if fmt == "facturx":
        return facturx.to_facturx(invoice, render_invoice_pdf(doc))
    if PROFILES[fmt].syntax == "ubl":
        return ubl.to_ubl(invoice, fmt)
    return cii.to_cii(invoice, fmt)


def measure(action: Callable[[], object], runs: int, warm: int) -> dict[str, float]:
    for _ in range(warm):
        action()
    cpu, wall = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        action()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return {
        "cpu_median": statistics.median(cpu),
        "cpu_p95": statistics.quantiles(cpu, n=20)[18],
        "wall_median": statistics.median(wall),
        "wall_p95": statistics.quantiles(wall, n=20)[18],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warm", type=int, default=20)
    args = parser.parse_args()
    doc = document()
    print("writing (document -> model -> format), ms:")
    print(f"{'format':15} {'cpu med':>8} {'cpu p95':>8} {'wall med':>9} {'wall p95':>9}  budget")
    for fmt in ("ubl", "xrechnung-ubl", "peppol", "cii", "xrechnung-cii", "facturx"):
        result = measure(lambda fmt=fmt: write(fmt, doc), args.runs, args.warm)  # type: ignore[misc]
        budget = BUDGETS_MS["facturx" if fmt == "facturx" else PROFILES[fmt].syntax]
        verdict = "PASS" if result["cpu_median"] <= budget else "FAIL"
        print(
            f"{fmt:15} {result['cpu_median']:8.2f} {result['cpu_p95']:8.2f} "
            f"{result['wall_median']:9.2f} {result['wall_p95']:9.2f}  <= {budget:.0f} {verdict}"
        )
    print("\nvalidating (XSD + official Schematron [+ ours]), ms:")
    print(f"{'profile':15} {'first':>8} {'cpu med':>8} {'cpu p95':>8} {'wall med':>9}")
    for fmt in ("ubl", "xrechnung-ubl", "peppol", "cii", "xrechnung-cii", "facturx"):
        invoice = from_document.from_document(doc)
        xml = (
            ubl.to_ubl(invoice, fmt) if PROFILES[fmt].syntax == "ubl" else cii.to_cii(invoice, fmt)
        )
        profile = PROFILES[fmt].validation
        start = time.perf_counter()
        assert validate.is_valid(validate.validate(xml, profile)), fmt
        first = (time.perf_counter() - start) * 1000
        result = measure(lambda xml=xml, p=profile: validate.validate(xml, p), args.runs, args.warm)  # type: ignore[misc]
        print(
            f"{fmt:15} {first:8.1f} {result['cpu_median']:8.2f} {result['cpu_p95']:8.2f} "
            f"{result['wall_median']:9.2f}"
        )


if __name__ == "__main__":
    main()
