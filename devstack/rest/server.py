"""The REST server alone behind the API-key gate, on a uvicorn thread.

The full gateway (devstack/stack.py) serves REST and Auth together; this serves only
``/rest/v1`` — for the REST conformance tests and the throughput benchmark, and when a
test needs its own server (say, with a pool of one connection).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from devstack.config import StackConfig
from devstack.gateway import ApiKeyGate
from devstack.postgres import free_port
from devstack.rest.app import create_app


class RestOnlyServer:
    def __init__(self, config: StackConfig, port: int) -> None:
        self.port = port
        self.config = config
        rest = create_app(config)
        self.rest = rest

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            async with rest.router.lifespan_context(rest):
                yield

        app = Starlette(routes=[Mount("/rest/v1", app=rest)], lifespan=lifespan)
        self._server = uvicorn.Server(
            uvicorn.Config(
                ApiKeyGate(app, config),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
                access_log=False,
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="rest", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> RestOnlyServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the REST server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def serve_rest(database_url: str, port: int | None = None, **overrides: Any) -> RestOnlyServer:
    port = port or free_port()
    config = StackConfig(
        database_url=database_url, public_url=f"http://127.0.0.1:{port}", **overrides
    )
    return RestOnlyServer(config, port).start()
