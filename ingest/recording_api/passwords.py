"""Recording passwords checked without letting anyone guess them: failed attempts are counted
per recording and per caller (a signed-in user, else the client's address) in PostgreSQL
(`sinks.password_failures`), so every API process shares them. Past a limit within the window
the answer is 429 with Retry-After, and no hash is computed; a correct password after the window
passes again. The check runs a few at a time (`ingest.limits`), its hash off the event loop
(hashlib's scrypt releases the GIL), and its counters on a pool of its own: the request holds
a connection of the API's pool meanwhile, and the check must not wait for a second one.

PostgreSQL rather than a Kafka-backed table: the API already reads PostgreSQL on every request,
an upsert counts an attempt atomically for all processes at once (a compacted topic would be
read back by each process, late), and the counters are few and short-lived.

A lockout seen is also kept in this process until it ends, so that a guesser held off costs no
database round trip.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ingest.limits import Limiter
from ingest.metrics import IngestMetrics
from ingest.passwords import check_password
from ingest.recording_api.common import ApiError
from sinks import Database
from sinks import password_failures as store
from sinks.password_failures import Counter

log = logging.getLogger(__name__)

MAX_REMEMBERED = 10_000
"""Lockouts kept in memory at most; expired ones are dropped first."""


class PasswordGuard:
    def __init__(
        self,
        db: Database,
        metrics: IngestMetrics,
        *,
        per_recording: int,
        per_caller: int,
        window: timedelta,
        hashing: Limiter,
        clock: Callable[[], float],
    ) -> None:
        self._db = db
        self._metrics = metrics
        self._limits = {"recording": per_recording, "caller": per_caller}
        self._window = window
        self._hashing = hashing
        self._clock = clock
        self._locked: dict[Counter, float] = {}

    def refuse_if_locked(self, recording: str, caller: str) -> None:
        """ApiError(429) when this process knows the recording or the caller is locked out:
        asked before anything else of the request, so a guesser held off costs no database."""
        self._refuse_if_locked([("recording", recording), ("caller", caller)], self._clock())

    async def check(self, recording: str, caller: str, given: str, stored_hash: str) -> bool:
        """Whether `given` is the password of `recording` (its uuid); ApiError(429) while it or
        `caller` (`Viewers.caller_key`) is locked out."""
        counters: list[Counter] = [("recording", recording), ("caller", caller)]
        self._refuse_if_locked(counters, self._clock())
        async with self._hashing.slot():
            return await self._check(counters, given, stored_hash)

    async def _check(self, counters: list[Counter], given: str, stored_hash: str) -> bool:
        now = self._clock()
        async with self._db.transaction() as conn:
            counts = await store.take(
                conn, counters, datetime.fromtimestamp(now, tz=UTC), self._window
            )
        over = [
            (counter, start.timestamp() + self._window.total_seconds())
            for counter, (attempts, start) in counts.items()
            if attempts > self._limits[counter[0]]
        ]
        if over:
            # Refused without a hash: not an attempt, so it counts against nobody (a caller
            # locked out must not run the recording's count up for everyone else).
            async with self._db.transaction() as conn:
                await store.give_back(conn, counters)
            for counter, until in over:
                self._remember(counter, until, now)
            self._refuse_if_locked(counters, now)
        ok = await asyncio.to_thread(check_password, given, stored_hash)
        if ok:
            async with self._db.transaction() as conn:
                await store.give_back(conn, counters)
            self._metrics.password_attempts.labels("accepted").inc()
            return True
        self._metrics.password_attempts.labels("rejected").inc()
        for counter, (attempts, start) in counts.items():
            if attempts == self._limits[counter[0]]:  # this failure reached the limit
                until = start.timestamp() + self._window.total_seconds()
                self._remember(counter, until, now)
                self._metrics.password_lockouts.labels(counter[0]).inc()
                log.warning(
                    "recording password locked out for %s %s after %d failures, until %s",
                    counter[0],
                    counter[1],
                    attempts,
                    datetime.fromtimestamp(until, tz=UTC).isoformat(),
                )
        return False

    def _refuse_if_locked(self, counters: list[Counter], now: float) -> None:
        until = max((self._locked.get(counter, 0.0) for counter in counters), default=0.0)
        if until > now:
            self._metrics.password_attempts.labels("locked_out").inc()
            raise ApiError(
                429,
                "too many wrong passwords: try again later",
                retry_after=math.ceil(until - now),
            )

    def _remember(self, counter: Counter, until: float, now: float) -> None:
        if len(self._locked) >= MAX_REMEMBERED:
            self._locked = {c: u for c, u in self._locked.items() if u > now}
            if len(self._locked) >= MAX_REMEMBERED:
                self._locked.pop(next(iter(self._locked)))
        self._locked[counter] = until
