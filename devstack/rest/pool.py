"""The local REST and Auth servers' PostgreSQL connections, pooled as PostgREST's
hasql-pool (and GoTrue's database/sql) pool them: on demand, without a reconnecting
background worker.

* A request takes an idle connection (the most recently used first) or, below
  ``max_size``, opens one there and then; at ``max_size`` it waits for a connection to be
  given back, up to ``acquire_timeout`` seconds (PostgREST's ``db-pool-acquisition-timeout``,
  10 s; then `AcquireTimeout`, answered 504 PGRST003).
* While the database is unreachable, opening fails at once (a `psycopg.OperationalError`,
  answered 503 PGRST000): no request waits on a back-off, and the first request after the
  database is back connects.
* A connection given back broken, closed, or still in a transaction it cannot roll back
  is dropped. After a connection error (the database restarted: every idle connection was
  cut with it) `flush` drops the idle ones, so only the request that met the dead
  connection fails (503 PGRST001), not one request per stale connection.

psycopg_pool's `AsyncConnectionPool`, which the servers used before, reconnects from a
background worker with exponential back-off and makes requests wait for it (30 s by
default): during an outage requests hung instead of failing, and after one the first
success came only when the back-off next woke (seconds after the database was back).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import psycopg
from psycopg import pq


class AcquireTimeout(Exception):
    """No connection came free within the acquisition timeout (PGRST003)."""


class Pool:
    def __init__(
        self,
        conninfo: str,
        *,
        max_size: int,
        kwargs: Mapping[str, Any] | None = None,
        connection_class: type[psycopg.AsyncConnection[Any]] = psycopg.AsyncConnection,
        acquire_timeout: float = 10.0,
        connect_timeout: int = 5,
    ) -> None:
        self.conninfo = conninfo
        self.max_size = max(1, max_size)
        self.kwargs = {"connect_timeout": connect_timeout, **(kwargs or {})}
        self.connection_class = connection_class
        self.acquire_timeout = acquire_timeout
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._size = 0  # connections open or being opened, idle or in use
        self._freed: asyncio.Condition | None = None
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def idle(self) -> int:
        return len(self._idle)

    def _condition(self) -> asyncio.Condition:
        if self._freed is None:  # made on the server's loop, at first use
            self._freed = asyncio.Condition()
        return self._freed

    async def open(self, timeout: float = 30.0) -> None:
        """Waits (up to ``timeout``) until one connection opens, and keeps it idle."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = await self._connect()
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                continue
            await self.release(conn)
            return

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()

    async def flush(self) -> None:
        """Drops every idle connection (after a connection error: they are likely dead)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._drop(conn)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        self._size += 1
        try:
            conn: psycopg.AsyncConnection[Any] = await self.connection_class.connect(
                self.conninfo, **self.kwargs
            )
        except BaseException:
            self._size -= 1
            await self._notify()
            raise
        return conn

    async def acquire(self) -> psycopg.AsyncConnection[Any]:
        if self._closed:
            raise psycopg.OperationalError("the connection pool is closed")
        deadline = time.monotonic() + self.acquire_timeout
        freed = self._condition()
        while True:
            while self._idle:
                conn = self._idle.pop()
                if conn.closed or conn.broken:
                    await self._drop(conn)
                    continue
                return conn
            if self._size < self.max_size:
                return await self._connect()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AcquireTimeout("Timed out acquiring connection from connection pool.")
            async with freed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(freed.wait(), left)

    async def release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self._closed or conn.closed or conn.broken:
            await self._drop(conn)
            return
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            try:
                await conn.rollback()
            except psycopg.Error:
                await self._drop(conn)
                return
        self._idle.append(conn)
        await self._notify()

    async def _drop(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._size -= 1
        with contextlib.suppress(Exception):
            await conn.close()
        await self._notify()

    async def _notify(self) -> None:
        freed = self._condition()
        async with freed:
            freed.notify()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for the block; given back (or dropped) after it."""
        conn = await self.acquire()
        try:
            yield conn
        finally:
            await self.release(conn)


def is_connection_error(exc: BaseException) -> bool:
    """The connection, not the statement, failed: an operational or interface error without
    SQLSTATE (the socket broke; not psycopg refusing a parameter, e.g. a NUL in a text,
    which has none either), class 08 (connection exception) or 57P01-57P03 (the server
    shut down, crashed, cannot connect)."""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return state.startswith("08") or state in {"57P01", "57P02", "57P03"}
