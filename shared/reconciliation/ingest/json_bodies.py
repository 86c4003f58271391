"""The documents of a JSON import body (``{..., "lines": [...]}`` each): the same checks
as a CSV file, with ISO dates and plain decimal numbers only; errors name
``lines[i].field``, and a document's row is its index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.reconciliation.ingest.columns import COLUMNS, WHAT, Kind, Policy
from shared.reconciliation.ingest.documents import Assembler, Parsed, RowError
from shared.reconciliation.ingest.values import Reading


def validate_json(
    kind: Kind, documents: Sequence[Any], *, policy: Policy = "all_or_nothing"
) -> Parsed:
    """The documents of a JSON import (``{..., "lines": [...]}`` each): the same checks as
    a CSV file, ISO dates and plain decimal numbers; errors name ``lines[i].field``, the
    row is the document's index."""
    assembler = Assembler(kind, policy, {})
    reading = Reading(strict=True)
    allowed_doc = {c.name for c in COLUMNS[kind] if c.level == "doc"}
    allowed_line = {c.name for c in COLUMNS[kind] if c.level == "line"}
    # A line's own match mode is ``lines[i].match_mode`` (``line_match_mode`` in a file).
    line_names = {"match_mode": "line_match_mode"} if "line_match_mode" in allowed_line else {}
    allowed_line = {line_names.get(n, n) for n in allowed_line} | set(line_names)
    allowed_line -= set(line_names.values())
    documents_out: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            assembler.errors.append(
                RowError(index, None, None, f"must be an object, one {WHAT[kind]}")
            )
            continue
        problems = [
            RowError(index, name, None, f"{name}: unknown field")
            for name in document
            if name not in allowed_doc and name != "lines"
        ]
        lines = document.get("lines")
        if not isinstance(lines, list) or not 1 <= len(lines) <= 1000:
            problems.append(RowError(index, "lines", None, "lines: give 1 to 1000 lines"))
        else:
            for position, line in enumerate(lines):
                if not isinstance(line, dict):
                    problems.append(
                        RowError(
                            index,
                            f"lines[{position}]",
                            None,
                            f"lines[{position}]: must be an object",
                        )
                    )
                    continue
                problems += [
                    RowError(
                        index,
                        f"lines[{position}].{name}",
                        None,
                        f"lines[{position}].{name}: unknown field",
                    )
                    for name in line
                    if name not in allowed_line
                ]
        if problems or not isinstance(lines, list):
            assembler.errors += problems
            continue
        # Each document is assembled alone: two documents with one key are duplicates,
        # which the import RPC reports (as it does duplicates of stored documents).
        single = Assembler(kind, policy, {v: k for k, v in line_names.items()})
        for position, line in enumerate(lines):
            own = {line_names.get(name, name): value for name, value in line.items()}
            single.add(index, {**document, **own}, reading, at=f"lines[{position}].")
        for group in single.groups.values():
            group.rows = [index]
            group.bad_rows = sorted(set(group.bad_rows))
        found = single.finish()
        seen: set[tuple[str, ...]] = set()
        assembler.errors += [e for e in single.errors if not _seen(seen, e)]
        if single.errors or not found:
            if not single.errors:
                assembler.errors.append(RowError(index, None, None, "nothing to import"))
            continue
        documents_out += found
    assembler.errors.sort(key=lambda e: e.row)
    return Parsed(kind, documents_out, assembler.errors, len(documents))


def _seen(seen: set[tuple[str, ...]], error: RowError) -> bool:
    """Document-level errors repeat once per line in a JSON document: keep one."""
    key = (str(error.row), error.column or "", error.message)
    if key in seen:
        return True
    seen.add(key)
    return False
