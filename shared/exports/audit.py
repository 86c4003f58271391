"""The audit trail for the export (``report=audit`` of ``GET /api/reports/export``, admins
and owners only: the route checks the role, the audit log's row-level security shows
nobody else an entry): the filters of ``GET /api/audit`` (``table``, ``record_id``,
``actor``, ``action``; ``from``/``to`` are the days of the change, UTC), newest first, read
in keyset pages on the entry's id (ids grow with time: ``id < last``), each page through
PostgREST with the caller's JWT. A row says what changed in one cell: the fields an update
changed (``field: old -> new``), the whole row of an insert or a delete.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

from shared import db
from shared.errors import validation
from shared.exports.reading import PAGE_ROWS, ReportQuery, read_ahead, subtitle, to_datetime
from shared.exports.table import Column, Row, Table
from shared.listing import one_of

ACTIONS = ("insert", "update", "delete")
TABLE = re.compile(r"^(public\.)?[a-z][a-z0-9_]{0,62}$")
COLUMNS = (
    "id,table_name,record_id,operation,old_record,new_record,changed_by,changed_by_role,changed_at"
)
# Timestamps and derived totals change with every write: they say nothing about the change.
QUIET = {"updated_at"}
MAX_CHANGES = 2000  # characters of the "changes" cell


def _value(value: Any) -> str:
    return (
        json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    )


def changes(operation: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    if operation == "UPDATE" and old is not None and new is not None:
        parts = [
            f"{key}: {_value(old.get(key))} -> {_value(new.get(key))}"
            for key in sorted(set(old) | set(new))
            if key not in QUIET and old.get(key) != new.get(key)
        ]
    else:
        row = new if operation == "INSERT" else old
        parts = [f"{key}={_value(value)}" for key, value in sorted((row or {}).items())]
    text = "; ".join(parts)
    return text if len(text) <= MAX_CHANGES else text[: MAX_CHANGES - 1] + "…"


def _uuid(field: str, raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    try:
        return str(UUID(str(raw)))
    except ValueError:
        raise validation(field, f"{raw!r} is not a UUID") from None


def audit(query: ReportQuery) -> Table:
    o = query.options
    table = o.get("table")
    if table is not None and not TABLE.match(str(table)):
        raise validation("table", "give a table name such as invoices")
    record_id = _uuid("record_id", o.get("record_id"))
    actor = _uuid("actor", o.get("actor"))
    actions = one_of("action", o.get("action"), ACTIONS)
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise validation("from", "is after to")

    def build(count: bool = False) -> Any:
        q = (
            query.client.from_("audit_log")
            .select(COLUMNS, count="exact" if count else None)
            .eq("organization_id", str(query.organization_id))
        )
        if table is not None:
            name = str(table)
            q = q.eq("table_name", name if name.startswith("public.") else f"public.{name}")
        if record_id:
            q = q.eq("record_id", record_id)
        if actor:
            q = q.eq("changed_by", actor)
        if actions:
            q = q.in_("operation", [a.upper() for a in actions])
        if query.date_from is not None:
            q = q.gte("changed_at", f"{query.date_from.isoformat()}T00:00:00+00:00")
        if query.date_to is not None:
            end = query.date_to + timedelta(days=1)
            q = q.lt("changed_at", f"{end.isoformat()}T00:00:00+00:00")
        return q

    def page(after: int | None, count: bool) -> db.Result:
        q = build(count)
        if after is not None:
            q = q.lt("id", after)
        return db.run(q.order("id", desc=True).limit(PAGE_ROWS))

    first = page(None, True)

    def following(last: dict[str, Any]) -> list[dict[str, Any]]:
        return page(int(last["id"]), False).data or []

    def rows() -> Iterator[Row]:
        for entries in read_ahead(first.data or [], following, PAGE_ROWS):
            for e in entries:
                yield (
                    to_datetime(e["changed_at"]),
                    str(e["table_name"]).removeprefix("public."),
                    e["record_id"],
                    str(e["operation"]).lower(),
                    e["changed_by"],
                    e["changed_by_role"],
                    changes(e["operation"], e.get("old_record"), e.get("new_record")),
                    int(e["id"]),
                )

    span = "all changes"
    if query.date_from or query.date_to:
        span = f"changes {query.date_from or '…'} to {query.date_to or '…'}"
    return Table(
        name="audit",
        title="Audit trail",
        subtitle=subtitle(span, query.options),
        columns=[
            Column("changed_at", "When", "datetime", 20),
            Column("table", "Table", "text", 16),
            Column("record_id", "Record", "text", 38, in_pdf=False),
            Column("action", "Action", "text", 8),
            Column("changed_by", "By", "text", 38),
            Column("changed_by_role", "As", "text", 14, in_pdf=False),
            Column("changes", "Changes", "text", 80),
            Column("entry_id", "Entry", "int", 10, in_pdf=False),
        ],
        rows=rows(),
        total=first.count,
        date_from=query.date_from,
        date_to=query.date_to,
    )
