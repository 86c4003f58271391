"""Models every domain shares: the page envelope and the error body."""

from __future__ import annotations

from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

T = TypeVar("T")


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
