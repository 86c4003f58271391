"""PostgREST's error vocabulary: the four-key body and the status of each code.

Every error leaves the server as ``{"code", "message", "details", "hint"}`` (strings or
null) — the Python client discards any other shape. PostgreSQL errors keep their
SQLSTATE, message, detail and hint; the HTTP status follows PostgREST's table
(PostgREST's documentation, "Errors": HTTP status codes).
"""

from __future__ import annotations

from typing import Any

import psycopg


class ApiError(Exception):
    """An error response: HTTP status, the four-key body and extra headers."""

    def __init__(  # noqa: PLR0917 - mirrors PostgREST's error tuple
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "details": self.details,
            "hint": self.hint,
            "message": self.message,
        }


def _jwt_header(description: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'}


def jwt_decode_error(message: str) -> ApiError:
    """PGRST301: the token could not be decoded or verified."""
    return ApiError(401, "PGRST301", message, headers=_jwt_header(message))


def jwt_claims_error(message: str) -> ApiError:
    """PGRST303: the token verified but a registered claim is invalid."""
    return ApiError(401, "PGRST303", message, headers=_jwt_header(message))


def parse_error(message: str, details: str | None = None) -> ApiError:
    return ApiError(400, "PGRST100", message, details)


def status_for_sqlstate(code: str, anonymous: bool, message: str = "") -> int:
    """PostgREST's SQLSTATE → HTTP status table."""
    if code.startswith("PT") and len(code) == 5 and code[2:].isdigit():
        return int(code[2:])
    if code == "21000":
        # pg-safeupdate's refusal is the client's error; another cardinality violation
        # ("more than one row returned by a subquery ...") the server's.
        return 400 if message.endswith("requires a WHERE clause") else 500
    fixed = {
        "23503": 409,
        "23505": 409,
        "25006": 405,
        "42P01": 404,
        "42883": 404,
        "42P17": 500,
        "57P01": 503,  # the server shutting down (PostgREST: 503, the rest of 57: 500)
        "P0001": 400,
        "42501": 401 if anonymous else 403,
    }
    if code in fixed:
        return fixed[code]
    by_class = {
        "08": 503,
        "09": 500,
        "0L": 403,
        "0P": 403,
        "25": 500,
        "28": 403,
        "2D": 500,
        "38": 500,
        "39": 500,
        "3B": 500,
        "40": 500,
        "53": 503,
        "54": 500,
        "55": 500,
        "57": 500,
        "58": 500,
        "F0": 500,
        "HV": 500,
        "P0": 500,
        "XX": 500,
    }
    return by_class.get(code[:2], 400)


def from_database(exc: psycopg.Error, anonymous: bool) -> ApiError:
    """The response for an error PostgreSQL raised."""
    diag = exc.diag
    code = exc.sqlstate or "XX000"
    status = status_for_sqlstate(code, anonymous, diag.message_primary or "")
    headers = {"WWW-Authenticate": "Bearer"} if code == "42501" and anonymous else {}
    return ApiError(
        status,
        code,
        diag.message_primary or str(exc),
        diag.message_detail,
        diag.message_hint,
        headers,
    )
