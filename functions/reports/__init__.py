"""The report routes: overview, revenue, payment status, client performance.

Each route is one call to a SQL function (20261206100900_reports.sql) that computes
its whole answer with the caller's rights; any role of the organization may read.
Every report covers a date range given by ``from`` and ``to`` (inclusive, YYYY-MM-DD):
``to`` defaults to today, ``from`` to the first day of the month eleven months before
``to`` (the last 12 calendar months); ``from`` may not be after ``to`` and the range may
not span more than 5 years. The database checks the same rules (and applies the
defaults, so "today" is the database's date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Query

from shared.errors import ErrorResponses, validation
from shared.models.common import Day

MAX_YEARS = 5

# The errors every report route may answer (docs/api.md, "Errors"), as each names them:
# error_responses(*STATUSES), and 404 for a report of one client.
error_responses = ErrorResponses(
    {
        400: "organization_required, invalid_organization",
        401: "missing_token, invalid_token, token_expired",
        403: "not a member of the named organization",
        404: "no such client",
        422: "validation_failed: a bad date range or parameter",
        429: "rate_limited",
        503: "service_unavailable",
    }
)
STATUSES = (400, 401, 403, 422, 429, 503)


@dataclass(frozen=True)
class ReportRange:
    date_from: date | None
    date_to: date | None

    def params(self) -> dict[str, str]:
        """The SQL functions' date parameters; an absent end is left to the database."""
        given = {"date_from": self.date_from, "date_to": self.date_to}
        return {name: value.isoformat() for name, value in given.items() if value is not None}


def years_later(day: date, years: int) -> date:
    """``day`` plus ``years`` as PostgreSQL adds an interval (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


async def report_range(
    date_from: Annotated[
        Day | None,
        Query(
            alias="from",
            description="first day (inclusive; years 1900 to 2200); default: 12 months before `to`",
        ),
    ] = None,
    date_to: Annotated[
        Day | None,
        Query(alias="to", description="last day (inclusive; years 1900 to 2200); default: today"),
    ] = None,
) -> ReportRange:
    if date_from is not None and date_to is not None:
        if date_from > date_to:
            raise validation("from", f"must be on or before to ({date_to.isoformat()})")
        if date_to > years_later(date_from, MAX_YEARS):
            raise validation("to", f"the range may span at most {MAX_YEARS} years")
    return ReportRange(date_from, date_to)
