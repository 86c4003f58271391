"""Request and response models (pydantic), one module per domain.

Money is ``Decimal`` in and out: requests accept JSON numbers or strings, responses
send strings ("1234.50") so no client parses money into a float by accident.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


def _has_nul(value: Any) -> bool:
    """A NUL in a text or a list of texts (a nested body checks its own fields, so the
    error names the nested field)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(isinstance(v, str) and "\x00" in v for v in value)
    return False


class Input(BaseModel):
    """A request body: unknown fields are an error, strings are trimmed, and no text may
    hold a NUL character (PostgreSQL's text cannot; refused here, naming the field)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("text may not contain the NUL character (\\u0000)")
        return value

    def to_json(self, *, exclude_unset: bool = False) -> dict[str, Any]:
        """JSON-ready (Decimal and dates as strings) for PostgREST."""
        return self.model_dump(mode="json", exclude_unset=exclude_unset)


class Output(BaseModel):
    """A response body: built from PostgREST rows, extra columns ignored."""

    model_config = ConfigDict(extra="ignore", from_attributes=False)
