"""Building a function: the route's router in a FastAPI app, wrapped by Mangum.

The app adds what every route shares: the one error shape (validation, HTTP and
unexpected errors included), the request id, a body size limit, the refusal of query
parameters the route does not declare (shared.query) and one structured log line per
request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mangum import Mangum
from starlette.exceptions import HTTPException

from shared.errors import ApiError
from shared.log import get_logger
from shared.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def error_response(error: ApiError, request_id: str | None) -> JSONResponse:
    headers = dict(error.headers)
    if request_id:
        headers["X-Request-Id"] = request_id
    return JSONResponse(error.body(request_id), status_code=error.status, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> tuple[str, str]:
    where = str(loc[0]) if loc else "body"
    path = ""
    for part in loc[1:]:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return where, path or where


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc, _request_id(request))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = []
    for err in exc.errors():
        where, field = _field_path(tuple(err.get("loc", ())))
        if err.get("type") == "json_invalid":
            return error_response(
                ApiError(400, "malformed_json", "the request body is not valid JSON"),
                _request_id(request),
            )
        details.append({"in": where, "field": field, "message": str(err.get("msg", "invalid"))})
    first = details[0] if details else {"field": "body", "message": "invalid"}
    message = f"{first['field']}: {first['message']}"
    if len(details) > 1:
        message += f" (and {len(details) - 1} more)"
    return error_response(
        ApiError(422, "validation_failed", message, details=details), _request_id(request)
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.detail else code.replace("_", " ")
    if exc.status_code == 400:  # FastAPI could not parse the body (e.g. nested too deep)
        code, message = "malformed_json", "the request body could not be parsed as JSON"
    headers = dict(exc.headers or {})
    return error_response(
        ApiError(exc.status_code, code, message, headers=headers), _request_id(request)
    )


async def _read_body(receive: Receive, limit: int) -> Receive | None:
    """Reads the request's body, counting its bytes: None when it is over ``limit`` (read
    no further), else a ``receive`` that hands the app that body in one message, then
    what ``receive`` gives (a client gone mid-body: its disconnect)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            break
    queued = [message]

    async def received() -> Message:
        return queued.pop() if queued else await receive()

    return received


class Envelope:
    """Outermost ASGI middleware: request id, body limit, last-resort 500, access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        event = scope.get("aws.event") or {}
        context = scope.get("aws.context")
        request_id = (
            (event.get("requestContext") or {}).get("requestId")
            or getattr(context, "aws_request_id", None)
            or headers.get("x-request-id")
            or str(uuid.uuid4())
        )
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        started_response = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(key.lower() == b"x-request-id" for key, _ in headers):
                    headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        async def reply(error: ApiError) -> None:
            response = error_response(error, request_id)
            await response(scope, receive, send_wrapper)

        try:
            length = headers.get("content-length")
            too_large = ApiError(
                413,
                "payload_too_large",
                f"the request body is larger than {settings.max_body_bytes} bytes",
            )
            if length is not None and (
                not length.isdigit() or int(length) > settings.max_body_bytes
            ):
                await reply(too_large)
            else:
                # The body itself is counted too: a chunked request has no
                # Content-Length, and one passed the limit unchecked (3 MB reached the
                # route's validation). Lambda hands the whole body in one message, so
                # reading it first costs nothing.
                received = await _read_body(receive, settings.max_body_bytes)
                if received is None:
                    await reply(too_large)
                else:
                    await self.app(scope, received, send_wrapper)
        except Exception:
            get_logger(settings.log_level).exception(
                "unhandled error", extra={"fields": {"request_id": request_id}}
            )
            if not started_response:
                await reply(ApiError(500, "internal_error", "something went wrong on our side"))
        finally:
            route = scope.get("route")
            get_logger(settings.log_level).info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": scope.get("method"),
                        "route": getattr(route, "path", scope.get("path")),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "user_id": state.get("user_id"),
                    }
                },
            )


async def _known_query_parameters(request: Request) -> None:
    """The first dependency of every route: query parameters the route does not take are
    refused (shared.query, imported by the first request that has any)."""
    if request.scope.get("query_string"):
        from shared.query import refuse_unknown  # noqa: PLC0415  (cold start: see shared.query)

        refuse_unknown(request)


def _route_modules(router: APIRouter) -> list[APIRouter]:
    """The routers of the route modules that an area's router (functions/<area>/api.py) only
    groups, each included as it is (no prefix, tags, dependencies...): the app includes them
    straight, which serves the same routes in the same order. Cold start: including the
    area's router whole, FastAPI builds every route's context once more (its dependant and
    response model, ~2 ms a route) only to check that no path is empty; the route modules'
    routes hold their own paths. Any other router, or one that adds to what it includes, is
    included as it is (so is every router if FastAPI's inclusion records change: slower,
    never different)."""
    parts: list[APIRouter] = []
    for entry in router.routes:
        inner = getattr(entry, "original_router", None)
        context = getattr(entry, "include_context", None)
        for_include = getattr(type(context), "for_include", None)
        if not isinstance(inner, APIRouter) or for_include is None:
            return [router]
        if context != for_include(parent_router=APIRouter(), included_router=inner):
            return [router]
        parts.append(inner)
    return parts or [router]


def create_app(*routers: APIRouter, title: str = "InvoiceFlow API", docs: bool = False) -> FastAPI:
    app = FastAPI(
        title=title,
        openapi_url="/api/openapi.json" if docs else None,
        docs_url=None,
        redoc_url=None,
        # First on every route, before its own dependencies (the token's among them).
        dependencies=[Depends(_known_query_parameters)],
    )
    for router in routers:
        for part in _route_modules(router):
            app.include_router(part)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(Envelope)
    return app


def make_handler(*routers: APIRouter) -> Mangum:
    """The Lambda entry point for a function serving ``routers``."""
    return Mangum(create_app(*routers), lifespan="off")
