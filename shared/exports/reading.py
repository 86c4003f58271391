"""How an export's tables are read (shared/exports/reports.py, lists.py,
match_results.py): the query the export route parsed, through PostgREST with the
caller's JWT (row-level security decides, as for every read of the API); the database's
values typed by their column's kind; long lists in **keyset** pages.

A keyset page starts where the last one ended, ``day <= d and (day < d or (day = d and
id < last))``, on the order the tenant's index gives (``issue_date desc, id desc`` on
``invoices (organization_id, issue_date desc)``), so page 100 costs what page 1 costs
(OFFSET would read and discard every row before it). Only the first page asks for the
exact count, and the next page is read while the current one is written (one page
ahead, no more).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from shared import db
from shared.exports.table import Column, Row, Value

# PostgREST answers at most 1,000 rows a request (its max-rows, and the local stack's cap).
PAGE_ROWS = 1000

T = TypeVar("T")

Convert = Callable[[Any], Value]


def to_text(value: Any) -> Value:
    return None if value is None else str(value)


def to_money(value: Any) -> Value:
    # JSON numbers arrive as Decimal (with a fraction) or int (without: JPY, "0").
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def to_int(value: Any) -> Value:
    return None if value is None else int(value)


def to_date(value: Any) -> Value:
    return None if value is None else date.fromisoformat(value)


def to_datetime(value: Any) -> Value:
    return None if value is None else datetime.fromisoformat(value)


def to_bool(value: Any) -> Value:
    return None if value is None else bool(value)


CONVERTERS: dict[str, Convert] = {
    "text": to_text,
    "money": to_money,
    "decimal": to_money,
    "int": to_int,
    "date": to_date,
    "datetime": to_datetime,
    "bool": to_bool,
}


def typed_rows(columns: list[Column], documents: list[dict[str, Any]]) -> list[Row]:
    converters = [CONVERTERS[c.kind] for c in columns]
    return [
        tuple(convert(doc.get(c.key)) for c, convert in zip(columns, converters, strict=True))
        for doc in documents
    ]


@dataclass(frozen=True)
class ReportQuery:
    """What the export route parsed: the organization, the range and the report's options."""

    client: Any  # the PostgREST client bound to the caller's JWT
    organization_id: UUID
    date_from: date | None
    date_to: date | None
    options: dict[str, Any]

    def rpc(self, function: str, **extra: Any) -> Any:
        params: dict[str, Any] = {"organization_id": str(self.organization_id)}
        if self.date_from is not None:
            params["date_from"] = self.date_from.isoformat()
        if self.date_to is not None:
            params["date_to"] = self.date_to.isoformat()
        params.update({k: v for k, v in extra.items() if v is not None})
        return db.rpc(self.client, function, params)


def subtitle(span: str, options: dict[str, Any]) -> str:
    """A list's subtitle: the span of dates it covers and the options it was read with."""
    described = ", ".join(
        f"{k}={v}" for k, v in sorted(options.items()) if v is not None and k != "limit"
    )
    return span + (f" · {described}" if described else "")


def and_filter(query: Any, expression: str) -> Any:
    """Adds ``and=(expression)``: a second logical tree beside the search's ``or``."""
    query.request.params = query.request.params.add("and", f"({expression})")
    return query


def keyset_pages(
    build: Callable[..., Any], date_column: str, first_count: bool = True
) -> tuple[int | None, Iterator[list[dict[str, Any]]]]:
    """Reads the first page (with the exact count), then yields it and the pages after it,
    each starting after the last row of the one before (``date_column desc, id desc``)."""

    def page(after: tuple[str, str] | None, count: bool) -> db.Result:
        query = build(count=count)
        if after is not None:
            day, last = after
            query = query.lte(date_column, day)
            query = and_filter(
                query, f"or({date_column}.lt.{day},and({date_column}.eq.{day},id.lt.{last}))"
            )
        query = query.order(date_column, desc=True).order("id", desc=True).limit(PAGE_ROWS)
        return db.run(query)

    first = page(None, first_count)

    def after(last: dict[str, Any]) -> list[dict[str, Any]]:
        following: list[dict[str, Any]] = page((last[date_column], last["id"]), False).data
        return following or []

    return first.count, read_ahead(first.data or [], after, PAGE_ROWS)


def read_ahead(first: list[T], after: Callable[[T], list[T]], size: int) -> Iterator[list[T]]:
    """The pages from ``first`` on: a full page (``size`` rows) is followed by
    ``after(its last row)``, asked for on a thread as soon as the page arrives, so the
    database and the network work while this page is written (one page ahead, no more)."""
    current = first
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-page") as ahead:
        while True:
            following = ahead.submit(after, current[-1]) if len(current) >= size else None
            if current:
                yield current
            if following is None:
                return
            current = following.result()
