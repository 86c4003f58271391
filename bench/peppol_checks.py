"""Our Peppol BIS checks (shared.einvoice.checks) and validate("peppol") over the corpus.

``.venv/bin/python -m bench.peppol_checks [--rounds 200]``

The corpus of tests/einvoice/corpus.py (13 documents: every VAT category, credit notes,
three currencies, long Unicode text) written by our UBL writer for Peppol, parsed once; the
checks alone (``checks.peppol`` on the parsed tree) and the whole validation (XSD, the CEN
Schematron through Saxon, our checks), warm. CPU time (``time.process_time``) per document,
the median of the rounds (the validation: a tenth of them).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from lxml import etree

from shared.einvoice import checks, ubl, validate
from tests.einvoice.corpus import corpus


def per_document_ms(action: Callable[[], object], rounds: int, documents: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        action()
        times.append((time.process_time() - start) * 1000 / documents)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    documents = [ubl.to_ubl(case, "peppol") for case in corpus().values()]
    roots = [etree.fromstring(document) for document in documents]
    validate.warm("peppol")
    for document in documents:
        assert validate.is_valid(validate.validate(document, "peppol"))
    ours = per_document_ms(lambda: [checks.peppol(r) for r in roots], args.rounds, len(roots))
    whole = per_document_ms(
        lambda: [validate.validate(d, "peppol") for d in documents],
        max(args.rounds // 10, 5),
        len(documents),
    )
    print(
        f"{len(documents)} documents, CPU per document (median): checks.peppol "
        f"{ours * 1000:.0f} µs, validate('peppol') {whole:.2f} ms"
    )


if __name__ == "__main__":
    main()
