"""The PostgreSQL connection pool shared by the sinks, opened lazily by the first writer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import psycopg
import psycopg_pool
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

log = logging.getLogger(__name__)

T = TypeVar("T")


class Database:
    """A psycopg 3 pool. `transaction()` yields a connection inside one transaction."""

    def __init__(self, url: str, max_size: int = 4) -> None:
        self._pool = AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False)
        self._opened = False
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        async with self._lock:
            if not self._opened:
                await self._pool.open(wait=True, timeout=30.0)
                self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
            self._opened = False

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        await self.open()
        async with self._pool.connection() as conn, conn.transaction():
            yield conn


async def statement_timeout(conn: AsyncConnection, seconds: float) -> None:
    """Cancel any statement of the current transaction that runs longer than `seconds`
    (psycopg.errors.QueryCanceled)."""
    await conn.execute(
        "SELECT set_config('statement_timeout', %s, true)", (f"{int(seconds * 1000)}ms",)
    )


async def database_reachable(url: str) -> bool:
    """Readiness: can a fresh connection run `SELECT 1`?"""
    async with await AsyncConnection.connect(url, connect_timeout=2) as conn:
        await conn.execute("SELECT 1")
    return True


def database_answers(url: str, timeout_seconds: int = 3) -> None:
    """A start-up probe: a fresh connection runs `SELECT 1` within the timeout (libpq counts
    whole seconds, 2 at least); psycopg.OperationalError when it does not."""
    with psycopg.connect(url, connect_timeout=timeout_seconds) as conn:
        conn.execute("SELECT 1")


async def in_transaction(db: Database, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run `work` in one transaction, again from the start while PostgreSQL is unreachable.

    The retries have capped backoff and no limit: an outage delays the stream, it never drops
    anything. Any other error propagates.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception_type((psycopg.OperationalError, psycopg_pool.PoolTimeout)),
        wait=wait_exponential(multiplier=0.2, max=30),
        before_sleep=lambda state: log.warning(
            "PostgreSQL unavailable (%s), retrying", state.outcome and state.outcome.exception()
        ),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            async with db.transaction() as conn:
                return await work(conn)
    raise AssertionError("unreachable: tenacity reraises")
