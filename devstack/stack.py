"""The local stack as one object: PostgreSQL plus the gateway (REST + Auth) served by
uvicorn in a background thread. Tests use it ephemeral; ``make dev`` persistent."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from devstack.config import StackConfig
from devstack.gateway import create_app
from devstack.postgres import free_port


class AppServer:
    """Runs an ASGI app on 127.0.0.1:<port> in a daemon thread until stopped."""

    def __init__(self, app: Any, port: int, name: str) -> None:
        self.port = port
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
                access_log=False,
                # As Realtime (Phoenix): websocket frames uncompressed.
                ws_per_message_deflate=False,
            )
        )
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> Self:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the local {self._thread.name} server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class GatewayServer(AppServer):
    """The gateway (REST + Auth) of the local Supabase."""

    def __init__(self, config: StackConfig, port: int) -> None:
        super().__init__(create_app(config), port, "gateway")
        self.config = config


def serve(database_url: str, port: int | None = None, **overrides: object) -> GatewayServer:
    """A started gateway over ``database_url`` (a free port unless one is given)."""
    port = port or free_port()
    config = StackConfig(
        database_url=database_url,
        public_url=f"http://127.0.0.1:{port}",
        **overrides,  # type: ignore[arg-type]
    )
    return GatewayServer(config, port).start()
