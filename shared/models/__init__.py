"""Request and response models (pydantic), one module per domain.

Money is ``Decimal`` in and out: requests accept JSON numbers or strings, responses
send strings ("1234.50") so no client parses money into a float by accident.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Input(BaseModel):
    """A request body: unknown fields are an error, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    def to_json(self, *, exclude_unset: bool = False) -> dict[str, Any]:
        """JSON-ready (Decimal and dates as strings) for PostgREST."""
        return self.model_dump(mode="json", exclude_unset=exclude_unset)


class Output(BaseModel):
    """A response body: built from PostgREST rows, extra columns ignored."""

    model_config = ConfigDict(extra="ignore", from_attributes=False)
