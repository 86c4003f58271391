"""The one HTTP server in front of the local APIs, as Supabase's API gateway:

* ``/rest/v1/...`` → the PostgREST-compatible server (:mod:`devstack.rest`)
* ``/auth/v1/...`` → the Supabase-Auth-compatible server (:mod:`devstack.auth`)
* ``/realtime/v1/websocket`` → the Realtime server (:mod:`devstack.realtime`)

Like Supabase's gateway it refuses a request without an ``apikey`` header (or
``apikey`` query parameter) — 401 "No API key found in request" — and one whose key is
not the project's anon or service-role key; when no ``Authorization`` header came, the
API key is passed on as the bearer token. Auth's e-mail links (``/auth/v1/verify``, ...)
and the local inbox are open, as on Supabase (``OPEN_PATHS``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from devstack.auth.app import create_app as create_auth_app
from devstack.config import StackConfig
from devstack.realtime import Realtime
from devstack.rest.app import create_app as create_rest_app

# Supabase's gateway opens these Auth paths without a key (kong.yml's auth-v1-open*: the
# links of Auth's e-mails), and the local inbox of those e-mails (devstack/auth/mailer.py).
OPEN_PATHS = (
    "/auth/v1/verify",
    "/auth/v1/callback",
    "/auth/v1/authorize",
    "/auth/v1/_inbox",
    "/auth/v1/_inbox.json",
)


class ApiKeyGate:
    def __init__(self, app: ASGIApp, config: StackConfig) -> None:
        self.app = app
        self.valid = {config.keys.anon_key, config.keys.service_role_key}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] not in ("http", "websocket")
            or scope.get("method") == "OPTIONS"
            or (scope["type"] == "http" and scope.get("path") in OPEN_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        headers = list(scope["headers"])
        found = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        key = found.get("apikey")
        if key is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            key = query.get("apikey", [None])[0]
        if not key:
            await _reply(
                send,
                401,
                {
                    "message": "No API key found in request",
                    "hint": "No `apikey` request header or url param was found.",
                },
                scope["type"],
            )
            return
        if key not in self.valid:
            await _reply(
                send,
                401,
                {
                    "message": "Invalid API key",
                    "hint": "Double check your Supabase `anon` or `service_role` API key.",
                },
                scope["type"],
            )
            return
        if "authorization" not in found:
            headers.append((b"authorization", f"Bearer {key}".encode("latin-1")))
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


async def _reply(send: Send, status: int, body: dict[str, str], scope_type: str = "http") -> None:
    # A websocket's upgrade is refused with an HTTP response (ASGI's denial response).
    prefix = "websocket.http" if scope_type == "websocket" else "http"
    payload = json.dumps(body).encode()
    await send(
        {
            "type": f"{prefix}.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": f"{prefix}.response.body", "body": payload})


def create_app(config: StackConfig) -> ASGIApp:
    """The gateway; the REST and Auth factories each return a Starlette app."""
    rest = create_rest_app(config)
    auth = create_auth_app(config)
    realtime = Realtime(config)  # connects to PostgreSQL at the first channel join

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Mounted apps get no lifespan events of their own: run theirs (pools) here.
        async with rest.router.lifespan_context(rest), auth.router.lifespan_context(auth):
            yield
            await realtime.stop()

    app = Starlette(
        routes=[
            Mount("/rest/v1", app=rest),
            Mount("/auth/v1", app=auth),
            Mount("/realtime/v1", app=realtime.app()),
        ],
        lifespan=lifespan,
    )
    return ApiKeyGate(app, config)
