"""Bounds on what an API request may cost, so that no request holds the event loop and no burst
of expensive requests queues without end.

`Limiter` lets `concurrency` requests at a time into a piece of work and up to `queue` wait for
a slot; one more is refused at once (`Busy`, answered 503 with Retry-After). The password check
(its hash in a worker thread) and the expensive reads (organizer lists with analytics, the
dashboard's queries) each have one. `Throttle` holds a caller to a rate (429), `Tarpit` makes
every 429 wait before it is sent, and `ApiLimits` is one API process's set of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cachetools import TTLCache
from psycopg import AsyncConnection

from schemas.settings import Settings
from sinks import statement_timeout

T = TypeVar("T")


class RateLimited(Exception):
    """A caller over its rate: answered 429 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests: retry in {retry_after} s")
        self.retry_after = retry_after


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


class Throttle:
    """At most `per_second` requests a second per caller, `burst` at once (a token bucket per
    key, kept for a minute after its last use)."""

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._clock = clock
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(maxsize=100_000, ttl=60)

    def wait(self, key: str) -> float:
        """0 and one request counted when `key` may go on; else the seconds until it may."""
        now = self._clock()
        tokens, then = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self._rate
        self._buckets[key] = (tokens - 1, now)
        return 0.0


class Tarpit:
    """A 429 is answered after `delay` seconds: a caller held off (a guesser, a list asked for in
    a loop) waits on an idle coroutine instead of asking again at once, so its connections cost
    one request a `delay` each instead of thousands a second. At most `most` wait at once; the
    rest are answered at once."""

    def __init__(self, delay: float, most: int = 1000) -> None:
        self._delay = delay
        self._most = most
        self._waiting = 0

    async def hold(self, status: int) -> None:
        if status != 429 or not self._delay or self._waiting >= self._most:
            return
        self._waiting += 1
        try:
            await asyncio.sleep(self._delay)
        finally:
            self._waiting -= 1


@dataclass(frozen=True)
class ApiLimits:
    """The bounds of one API process (settings `PASSWORD_CHECK_CONCURRENCY`,
    `HEAVY_READ_CONCURRENCY`, `HEAVY_READ_TIMEOUT_SECONDS`, `HEAVY_READ_CACHE_SECONDS`,
    `HEAVY_READS_PER_CALLER_PER_SECOND`, `API_QUEUE`, `REFUSAL_DELAY_SECONDS`)."""

    hashing: Limiter
    heavy: Limiter
    heavy_timeout_seconds: float
    cache_seconds: float
    heavy_per_caller: Throttle
    tarpit: Tarpit

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float]) -> ApiLimits:
        return cls(
            Limiter("password checks", settings.password_check_concurrency, settings.api_queue),
            Limiter("heavy reads", settings.heavy_read_concurrency, settings.api_queue),
            settings.heavy_read_timeout_seconds,
            settings.heavy_read_cache_seconds,
            Throttle(settings.heavy_reads_per_caller_per_second, 5, clock),
            Tarpit(settings.refusal_delay_seconds),
        )

    def cache(self) -> TTLCache[Any, Any]:
        """Where a heavy read keeps its answers for `cache_seconds` (a few thousand at most; with
        0 an answer expires as it is stored, so none is reused)."""
        return TTLCache(maxsize=4096, ttl=self.cache_seconds)

    def throttle_heavy(self, caller: str) -> None:
        """429 (Retry-After) for a caller asking for heavy reads faster than its rate."""
        wait = self.heavy_per_caller.wait(caller)
        if wait:
            raise RateLimited(max(1, math.ceil(wait)))

    @contextlib.asynccontextmanager
    async def heavy_read(self, conn: AsyncConnection) -> AsyncIterator[None]:
        """A slot for an expensive read, its statements cut off past the timeout."""
        async with self.heavy.slot():
            await statement_timeout(conn, self.heavy_timeout_seconds)
            yield
