"""The local REST/Auth servers' connection pool (devstack/rest/pool.py), as PostgREST's
hasql-pool behaves: no wait while the database is unreachable, a dead connection dropped
and replaced at once, a full pool answering after its acquisition timeout."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from devstack.postgres import Database, free_port
from devstack.rest.pool import AcquireTimeout, Pool, is_connection_error


def test_an_unreachable_database_fails_at_once_and_a_reachable_one_connects() -> None:
    async def scenario() -> float:
        pool = Pool(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", max_size=4)
        started = time.monotonic()
        for _ in range(3):  # every attempt, not only the first: no back-off to wait on
            with pytest.raises(psycopg.OperationalError):
                await pool.acquire()
        assert pool.size == 0
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 2.0


def test_a_connection_cut_by_the_server_is_dropped_and_replaced(database: Database) -> None:
    async def scenario() -> None:
        pool = Pool(database.url, max_size=2, kwargs={"autocommit": True})
        await pool.open()
        conn = await pool.acquire()
        pid = conn.info.backend_pid
        await pool.release(conn)
        async with await psycopg.AsyncConnection.connect(database.url, autocommit=True) as admin:
            await admin.execute("select pg_terminate_backend(%s)", (pid,))
        # The idle connection is dead without knowing it: the request using it fails as a
        # connection error, the pool drops it and the next request gets a new one.
        async with pool.connection() as conn:
            with pytest.raises(psycopg.Error) as failure:
                await conn.execute("select 1")
        assert is_connection_error(failure.value)
        await pool.flush()
        assert pool.size == 0
        async with pool.connection() as conn:
            cur = await conn.execute("select pg_backend_pid()")
            row = await cur.fetchone()
            assert row is not None
            assert row[0] != pid
        assert (pool.size, pool.idle) == (1, 1)
        await pool.close()

    asyncio.run(scenario())


def test_a_full_pool_times_out_and_a_given_back_connection_is_reused(database: Database) -> None:
    async def scenario() -> None:
        pool = Pool(database.url, max_size=1, acquire_timeout=0.3)
        first = await pool.acquire()
        with pytest.raises(AcquireTimeout):
            await pool.acquire()
        await first.execute("select 1")  # a transaction left open is rolled back on return
        waiting = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        await pool.release(first)
        again = await asyncio.wait_for(waiting, 1)
        assert again is first
        assert again.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        await pool.release(again)
        await pool.close()

    asyncio.run(scenario())


def test_only_the_connection_failing_is_a_connection_error() -> None:
    assert is_connection_error(psycopg.OperationalError("server closed the connection"))
    assert not is_connection_error(psycopg.DataError("NUL (0x00) in a text parameter"))
    assert not is_connection_error(ValueError("not a database error"))
