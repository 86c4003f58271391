"""The one error shape of the API and the one place errors are mapped to it.

Every error is ``{"error": {"code", "message", "details", "request_id"}}``: ``code`` is a
stable machine code (see docs/api.md), ``message`` a sentence a frontend may show,
``details`` extra structure (field errors for 422, ``retry_after`` for 429, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postgrest.exceptions import APIError


class ApiError(Exception):
    """An error the API answers with; raise it anywhere in a route."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
        *,
        sqlstate: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.sqlstate = (
            sqlstate  # the database's (or PostgREST's) own code, for logs; never answered
        )

    def body(self, request_id: str | None) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "request_id": request_id,
            }
        }


def not_found(what: str) -> ApiError:
    """404 for ids that do not exist or belong to another organization (never which)."""
    return ApiError(404, "not_found", f"{what} not found")


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"})


def validation(field: str, message: str, where: str = "query") -> ApiError:
    """422 for one field, in the shape of FastAPI's own validation errors."""
    return ApiError(
        422,
        "validation_failed",
        f"{field}: {message}",
        details=[{"in": where, "field": field, "message": message}],
    )


def unavailable(message: str = "the service is briefly unavailable; retry shortly") -> ApiError:
    return ApiError(503, "service_unavailable", message, headers={"Retry-After": "1"})


# What every route's errors 400, 401 and 403 mean; a domain says what the others mean.
_DESCRIPTIONS = {
    400: "Malformed JSON, or the organization is not named",
    401: "Missing, invalid or expired token",
    403: "Role too weak, or not a member of the organization",
}


class ErrorResponses:
    """The ``responses`` of a domain's routes for the OpenAPI document: the one error
    body, with what each status means in that domain. A package makes one
    (``error_responses = ErrorResponses({404: "No such invoice in the organization"})``)
    and each route names its statuses (``responses=error_responses(401, 403, 404)``)."""

    def __init__(self, descriptions: Mapping[int, str]) -> None:
        self.descriptions = {**_DESCRIPTIONS, **descriptions}

    def __call__(self, *statuses: int) -> dict[int | str, dict[str, Any]]:
        from shared.models.common import ErrorBody  # noqa: PLC0415 - shared.models may import this module

        return {s: {"model": ErrorBody, "description": self.descriptions[s]} for s in statuses}


# SQLSTATE -> (status, code). The database raises these with messages written for
# people (see the migrations), so the message is passed on as it is.
_SQLSTATE: dict[str, tuple[int, str]] = {
    "23505": (409, "conflict"),
    "23503": (422, "invalid_reference"),
    "23502": (422, "validation_failed"),
    "23514": (422, "rule_violation"),
    "23P01": (409, "conflict"),
    "22001": (422, "validation_failed"),
    "22003": (422, "validation_failed"),
    "22007": (422, "validation_failed"),
    "22008": (422, "validation_failed"),
    "22023": (422, "validation_failed"),
    "22P02": (422, "validation_failed"),
    "P0002": (404, "not_found"),
    "42501": (403, "forbidden"),
    "40001": (503, "service_unavailable"),
    "40P01": (503, "service_unavailable"),
    "55P03": (503, "service_unavailable"),
    "57014": (503, "service_unavailable"),
    "57P01": (503, "service_unavailable"),
    "53300": (503, "service_unavailable"),
    "PGRST000": (503, "service_unavailable"),
    "PGRST001": (503, "service_unavailable"),
    "PGRST002": (503, "service_unavailable"),
    "PGRST003": (503, "service_unavailable"),  # 504: no pooled connection came free in time
    "PGRST116": (404, "not_found"),
    "28000": (401, "session_ended"),
    "PGRST301": (401, "invalid_token"),
    "PGRST303": (401, "invalid_token"),
}


def from_postgrest(error: APIError) -> ApiError:
    """Maps a PostgREST/PostgreSQL error (the four-key body) to the API's error."""
    sqlstate = str(error.code or "")
    message = str(error.message or "the request could not be completed")
    status, code = _SQLSTATE.get(sqlstate, (0, ""))
    if not status:
        if sqlstate.startswith("22"):
            status, code = 422, "validation_failed"
        elif sqlstate.startswith("23"):
            status, code = 422, "rule_violation"
        elif sqlstate.startswith(("08", "53", "57")):
            status, code = 503, "service_unavailable"
        elif sqlstate == "P0001":
            status, code = 422, "rule_violation"
        else:
            status, code = 500, "internal_error"
    details: dict[str, Any] | None = None
    if code == "forbidden" and str(error.hint or "").startswith("mfa_required"):
        # The organization requires MFA and the session is below aal2 (migration 140200).
        code = "mfa_required"
    if error.hint and code == "validation_failed":
        message = f"{message} ({error.hint})"  # field errors are lists; this names no field
    elif error.hint:
        details = {"hint": error.hint}
    if status == 500:
        # Never echo an unexpected database error's text to the caller.
        return ApiError(
            500, "internal_error", "something went wrong on our side", sqlstate=sqlstate
        )
    if status == 503:
        return ApiError(
            503,
            code,
            "the service is briefly unavailable; retry shortly",
            headers={"Retry-After": "1"},
            sqlstate=sqlstate,
        )
    if status == 401:
        text = message if code == "session_ended" else "the access token was refused"
        return unauthorized(code, text)
    return ApiError(status, code, message, details)
