"""The OpenAPI document of every HTTP function in serverless.yml, generated from the
routes themselves (their FastAPI routers), so it cannot drift from the code.

``python -m devstack.openapi`` writes docs/openapi.json; a test checks it is current.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from devstack.functions import IMPORT_LOCK, ROOT, load_functions
from shared.api import create_app
from shared.models.common import ErrorBody

OPENAPI_JSON = ROOT / "docs" / "openapi.json"

_DESCRIPTION = """\
The InvoiceFlow HTTP API. Conventions (authentication, organizations, errors, lists,
money) are in docs/api.md. Every route needs
`Authorization: Bearer <Supabase access token>` but those marked `security: []` (signup,
login, a refresh, a password reset, an invitation's preview, the client page `/p/...` and
Stripe's webhook, whose credential is in the path, the body or a signature); members of
several organizations name one with `X-Organization-Id`. Money is sent and returned as
decimal strings. A query parameter an operation does not list is refused with
`400 unknown_parameter` (each such name in the error's `details`), and one given twice with
`400 repeated_parameter` (several values are comma-separated), before the token is checked.
"""


_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_ERROR_TEXT = {
    "400": "Malformed JSON, or the organization is missing or malformed",
    "401": "Missing, malformed, forged or expired access token",
    "403": "The caller's role may not do this, or they are not in the named organization",
    "404": "No such resource in the caller's organization",
    "409": "Conflict with the current state (a unique value taken)",
    "413": "Request body too large",
    "422": "Validation failed or a business rule refused the change",
    "429": "Rate limit exceeded; see Retry-After",
    "500": "Internal error",
    "503": "Temporarily unavailable; retry after Retry-After",
}
# Every operation, with query parameters or without (shared.query).
_QUERY_400 = (
    "; a query parameter the operation does not list (`unknown_parameter`) or one given "
    "twice (`repeated_parameter`)"
)
_REQUEST_ID = {
    "description": "The request's id, as in an error's `request_id` and the function's log line",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}
_RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
# Headers of every answer, and those of some statuses (docs/api.md).
_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": "Bearer",
            "required": True,
            "schema": {"type": "string", "pattern": "^Bearer"},
        }
    },
    "429": {"Retry-After": {**_RETRY_AFTER, "required": True}},
    "503": {"Retry-After": _RETRY_AFTER},
}
_ERRORS = ("400", "401", "403", "404", "413", "422", "429", "500", "503")
_PUBLIC_ERRORS = ("400", "413", "422", "429", "500", "503")
# Signing up and in: no token yet, and none of the token's refusals.
_SIGN_IN = {("/api/auth/signup", "post"), ("/api/auth/login", "post")}
# Operations without login (`security: []`): the credential is in the body (a password, a
# refresh token, a reset code), the path (an invitation's, a client link's or a Stripe
# endpoint's token) or a signature (Stripe's), never a bearer token
# (tests/api/test_security.py's PUBLIC and NO_LOGIN).
PUBLIC_OPERATIONS = _SIGN_IN | {
    ("/api/auth/refresh", "post"),
    ("/api/auth/recover", "post"),
    ("/api/auth/recover/complete", "post"),
    ("/api/invitations/{token}", "get"),
}
NO_LOGIN_PREFIXES = ("/p/", "/api/webhooks/stripe/")


def is_public(path: str, method: str) -> bool:
    """Whether the operation is reached without a bearer token."""
    return (path, method) in PUBLIC_OPERATIONS or path.startswith(NO_LOGIN_PREFIXES)


def _decimal_strings(node: Any) -> None:
    """A money or quantity field (pydantic's Decimal: a JSON number or a string) says
    which strings it takes: decimal ones ("1234.50"), unsigned where the number is."""
    if isinstance(node, list):
        for item in node:
            _decimal_strings(item)
        return
    if not isinstance(node, dict):
        return
    branches = node.get("anyOf")
    if isinstance(branches, list) and {"type": "string"} in branches:
        numbers = [b for b in branches if isinstance(b, dict) and b.get("type") == "number"]
        if numbers:
            low = numbers[0].get("minimum", numbers[0].get("exclusiveMinimum"))
            unsigned = low is not None and low >= 0
            string = branches[branches.index({"type": "string"})]
            string["pattern"] = r"^\d+(\.\d+)?$" if unsigned else r"^-?\d+(\.\d+)?$"
    for value in node.values():
        _decimal_strings(value)


def _import_on_a_worker(names: list[str]) -> list[Any]:
    """Imports the function modules on a thread with its own (then closed) event loop:
    Mangum adopts the importing thread's loop, and must not leave one on the caller's."""

    def work() -> list[Any]:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            modules = []
            for name in names:
                # One module at a time under the lock, and a pause between: a request
                # arriving meanwhile imports its own function's module next, instead of
                # waiting for all of them (14 s at a load of 12: the first request after
                # "ready" timed out).
                with IMPORT_LOCK:
                    modules.append(importlib.import_module(name))
                time.sleep(0.001)
            return modules
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


@cache
def build_openapi() -> dict[str, Any]:
    # Each HTTP function's module once: its router serves all of that function's routes.
    modules = list(dict.fromkeys(spec.module for spec in load_functions() if spec.routes))
    # The imports and the app's routes build models: not beside the emulator's imports.
    routers = [module.router for module in _import_on_a_worker(modules)]
    with IMPORT_LOCK:
        app = create_app(*routers, docs=True)
        app.title = "InvoiceFlow API"
        app.version = "1.0.0"
        app.description = _DESCRIPTION
        document: dict[str, Any] = app.openapi()
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Supabase Auth access token.",
    }
    schemas = components.setdefault("schemas", {})
    _, error_schemas = models_json_schema(
        [(ErrorBody, "validation")], ref_template="#/components/schemas/{model}"
    )
    schemas.update(error_schemas.get("$defs", {}))
    # FastAPI documents its own 422 body; the API answers every error in one shape.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _decimal_strings(document)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = _PUBLIC_ERRORS if (path, method) in _SIGN_IN else _ERRORS
            operation["security"] = [] if is_public(path, method) else [{"bearer": []}]
            for code in codes:
                described = responses.get(code, {})
                text = described.get("description") or _ERROR_TEXT[code]
                # The error body; a route's other media types stay (the client page's
                # refusals are an HTML page for a browser).
                other = {
                    k: v for k, v in described.get("content", {}).items() if k != "application/json"
                }
                responses[code] = {
                    "description": text + (_QUERY_400 if code == "400" else ""),
                    "content": {"application/json": {"schema": _ERROR_REF}, **other},
                }
            for code, response in responses.items():
                headers = response.setdefault("headers", {})
                headers["X-Request-Id"] = _REQUEST_ID
                headers.update(_HEADERS.get(code, {}))
    return document


def render() -> str:
    return json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    OPENAPI_JSON.parent.mkdir(exist_ok=True)
    OPENAPI_JSON.write_text(render())
    print(f"wrote {OPENAPI_JSON.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
