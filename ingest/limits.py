"""Bounds on what an API request may cost, so that no request holds the event loop and no burst
of expensive requests queues without end.

`Limiter` lets `concurrency` requests at a time into a piece of work and up to `queue` wait for
a slot; one more is refused at once (`Busy`, answered 503 with Retry-After). The password check
(its hash in a worker thread) and the expensive reads (organizer lists with analytics, the
dashboard's queries) each have one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from psycopg import AsyncConnection

from schemas.settings import Settings
from sinks import statement_timeout

T = TypeVar("T")


class Busy(Exception):
    """Every slot is taken and the queue is full: try again later."""

    def __init__(self, limiter: str) -> None:
        super().__init__(f"{limiter}: too many requests at once, retry later")
        self.limiter = limiter


class Limiter:
    def __init__(self, name: str, concurrency: int, queue: int) -> None:
        if concurrency < 1 or queue < 0:
            raise ValueError(f"{name}: concurrency must be at least 1 and queue at least 0")
        self.name = name
        self._slots = asyncio.Semaphore(concurrency)
        self._queue = queue
        self._waiting = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A slot for the block; `Busy` at once when `queue` requests already wait for one."""
        if self._slots.locked():
            if self._waiting >= self._queue:
                raise Busy(self.name)
            self._waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()

    async def run_in_thread(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in a worker thread, inside a slot (CPU-heavy work off the loop)."""
        async with self.slot():
            return await asyncio.to_thread(work, *args)


@dataclass(frozen=True)
class ApiLimits:
    """The bounds of one API process (settings `PASSWORD_CHECK_CONCURRENCY`,
    `HEAVY_READ_CONCURRENCY`, `HEAVY_READ_TIMEOUT_SECONDS`, `API_QUEUE`)."""

    hashing: Limiter
    heavy: Limiter
    heavy_timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiLimits:
        return cls(
            Limiter("password checks", settings.password_check_concurrency, settings.api_queue),
            Limiter("heavy reads", settings.heavy_read_concurrency, settings.api_queue),
            settings.heavy_read_timeout_seconds,
        )

    @contextlib.asynccontextmanager
    async def heavy_read(self, conn: AsyncConnection) -> AsyncIterator[None]:
        """A slot for an expensive read, its statements cut off past the timeout."""
        async with self.heavy.slot():
            await statement_timeout(conn, self.heavy_timeout_seconds)
            yield
