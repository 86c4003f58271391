"""Models every domain shares: the page envelope, the error body, the date of sane years,
the texts of numbers and times the database answers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, WithJsonSchema
from pydantic_core import PydanticCustomError

T = TypeVar("T")

MIN_YEAR, MAX_YEAR = 1900, 2200


def _sane_year(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


# A date of the years the API takes (bodies and the query dates computed from: a report's
# `to`, a month to end on); 0001-01-01 or 9999-12-31 would leave Python's or the
# database's calendar on the way (date arithmetic, BC dates).
Day = Annotated[date, AfterValidator(_sane_year)]


# Values the database answers as text, passed on as they came (shared.models.Relayed): a
# number as PostgreSQL writes a numeric ("1234.50", never a float on the way), a moment
# as it writes a timestamptz ("2026-12-01T09:30:00.123+00:00").
DecimalText = Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"})]
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Pagination(BaseModel):
    page: int
    page_size: int
    total: int
    total_pages: int


class Page(BaseModel, Generic[T]):
    data: list[T]
    pagination: Pagination


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None
    request_id: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def unique_ids(ids: list[UUID]) -> list[UUID]:
    """The ids, refused (422 naming the first repeat) when one is given twice: the check
    of every bulk request's ``ids``."""
    seen: set[UUID] = set()
    for value in ids:
        if value in seen:
            raise PydanticCustomError(
                "unique_ids", "ids must be unique; {id} is repeated", {"id": str(value)}
            )
        seen.add(value)
    return ids
