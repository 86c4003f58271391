"""GoTrue's error shapes.

GoTrue (internal/api/errors.go, ``HandleResponseError``) answers an error in one of two
shapes, chosen by the request's ``X-Supabase-Api-Version`` header:

* ``2024-01-01`` or later: ``{"code": "<error_code>", "message": "..."}`` and the version
  echoed back in the response header (which is how the Python client knows to read
  ``code`` as the error code);
* no header (the initial API version): ``{"code": <http status>, "error_code": "...",
  "msg": "..."}``.

Either way an ``x-sb-error-code`` header carries the code (except for the new-style weak
password error, which GoTrue sends without it). OAuth-style errors (the token endpoint's
``invalid_request``) are ``{"error", "error_description"}`` with status 400.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024_01_01 = "2024-01-01"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class AuthError(Exception):
    """GoTrue's ``HTTPError``: a status, a machine-readable code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class WeakPasswordError(AuthError):
    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(422, "weak_password", message)
        self.reasons = reasons


class OAuthError(Exception):
    """GoTrue's ``OAuthError`` (always 400)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def bad_request(code: str, message: str) -> AuthError:
    return AuthError(400, code, message)


def unprocessable(code: str, message: str) -> AuthError:
    return AuthError(422, code, message)


def forbidden(code: str, message: str) -> AuthError:
    return AuthError(403, code, message)


def not_found(code: str, message: str) -> AuthError:
    return AuthError(404, code, message)


def api_version(request: Request) -> str | None:
    """The request's API version as GoTrue resolves it: ``2024-01-01`` for any valid
    date on or after it, else None (the initial version; an invalid date also falls
    back to it)."""
    raw = request.headers.get(API_VERSION_HEADER, "")
    if not raw or not _DATE.match(raw):
        return None
    try:
        parsed = datetime.strptime(raw, "%Y-%m-%d")
    except ValueError:
        return None
    return API_VERSION_2024_01_01 if parsed >= datetime(2024, 1, 1) else None


def error_response(request: Request, exc: Exception) -> JSONResponse:  # noqa: PLR0912
    version = api_version(request)
    headers: dict[str, str] = {}
    if version is not None:
        headers[API_VERSION_HEADER] = version
    body: dict[str, Any]
    if isinstance(exc, OAuthError):
        body = {"error": exc.error}
        if exc.description:
            body["error_description"] = exc.description
        return JSONResponse(body, status_code=400, headers=headers)
    if isinstance(exc, WeakPasswordError):
        if version is not None:
            body = {"code": exc.code, "message": exc.message}
        else:
            headers["x-sb-error-code"] = exc.code
            body = {"code": exc.status, "error_code": exc.code, "msg": exc.message}
        if exc.reasons:
            body["weak_password"] = {"reasons": exc.reasons}
        return JSONResponse(body, status_code=exc.status, headers=headers)
    if not isinstance(exc, AuthError):
        # GoTrue's default case: an unhandled error, without the x-sb-error-code header.
        message = "Unexpected failure, please check server logs for more information"
        if version is not None:
            body = {"code": "unexpected_failure", "message": message}
        else:
            body = {"code": 500, "error_code": "unexpected_failure", "msg": message}
        return JSONResponse(body, status_code=500, headers=headers)
    if exc.code:
        headers["x-sb-error-code"] = exc.code
    if version is not None:
        body = {"code": exc.code or "unknown", "message": exc.message}
    else:
        body = {"code": exc.status, "error_code": exc.code or "unknown", "msg": exc.message}
    return JSONResponse(body, status_code=exc.status, headers=headers)
