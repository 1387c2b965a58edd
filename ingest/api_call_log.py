"""The external API call log: each HTTP attempt of the Zoom client (its observer's `ApiCall`)
becomes an external_api_calls row and a count in the metrics, without slowing the call.

`ApiCallLog.record` is the observer: synchronous and cheap (a row appended to a bounded buffer,
two metrics); it never waits for PostgreSQL. A background task, started by the first record,
writes the buffer every FLUSH_SECONDS, or as soon as BATCH_ROWS rows wait, BATCH_ROWS rows per
statement (sinks.api_calls). While PostgreSQL cannot take them the rows stay in the buffer; past
MAX_BUFFERED_ROWS the oldest are dropped, counted (zoomstream_external_api_log_dropped) and
logged. The log is for people: a call never fails, waits or retries because of it. `close()`
writes what is left, waiting at most CLOSE_SECONDS.

Used by the API process and the worker alike:

    calls = ApiCallLog.for_database(db, api_call_metrics(registry))
    client = zoom_client(settings, observer=calls.record)
    ...
    await calls.close()

or `async with api_call_log(db, metrics) as observer:`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Histogram

from ingest.zoom_api import ApiCall
from schemas.columns import clip
from schemas.rows import ApiCallRow
from sinks import api_calls
from sinks.postgres import Database

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
BATCH_ROWS = 500
MAX_BUFFERED_ROWS = 10_000
CLOSE_SECONDS = 5.0

Store = Callable[[Sequence[ApiCallRow]], Awaitable[None]]
"""Writes one batch (sinks.api_calls.write on a Database); raises when it cannot."""


@dataclass(frozen=True)
class ApiCallMetrics:
    """The call log's metrics, one definition for ingest's registry and the worker's."""

    calls: Counter
    seconds: Histogram
    dropped: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ApiCallMetrics:
        return cls(
            Counter(
                "zoomstream_external_api_calls",
                "HTTP attempts to external APIs, by service, operation and outcome (2xx, 4xx,"
                " 5xx by status class; timeout or unreachable when no answer came).",
                ["service", "operation", "outcome"],
                registry=registry,
            ),
            Histogram(
                "zoomstream_external_api_call_seconds",
                "Duration of each HTTP attempt to an external API, answered or not.",
                ["service", "operation"],
                buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
                registry=registry,
            ),
            Counter(
                "zoomstream_external_api_log_dropped",
                "Call log rows dropped, oldest first, while PostgreSQL could not take them.",
                registry=registry,
            ),
        )


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, ApiCallMetrics] = weakref.WeakKeyDictionary()


def api_call_metrics(registry: CollectorRegistry) -> ApiCallMetrics:
    """The call log's metrics in `registry`, registered there once however often asked."""
    found = _METRICS.get(registry)
    if found is None:
        found = _METRICS[registry] = ApiCallMetrics.create(registry)
    return found


def outcome(call: ApiCall) -> str:
    """A bounded label: the status class, or what kept the answer from coming."""
    if call.status_code is not None:
        return f"{call.status_code // 100}xx"
    return "timeout" if "Timeout" in (call.error or "") else "unreachable"


def to_row(call: ApiCall, at: datetime) -> ApiCallRow:
    return clip(
        ApiCallRow(
            created_at=at,
            service=call.service,
            operation=call.operation,
            method=call.method,
            url=call.url,
            status_code=call.status_code,
            duration_ms=max(0.0, call.duration_seconds * 1000.0),
            attempt=call.attempt,
            error=call.error,
            request_id=call.tracking_id,
            meeting_uuid=call.subject.meeting_uuid,
            recording_id=call.subject.recording_id,
        )
    )


def _utc_now() -> datetime:
    return datetime.now(tz=UTC)


class ApiCallLog:
    """A bounded buffer of call rows and the task that writes them (see the module's doc)."""

    def __init__(
        self,
        store: Store,
        metrics: ApiCallMetrics,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        batch_rows: int = BATCH_ROWS,
        max_rows: int = MAX_BUFFERED_ROWS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._flush_seconds = flush_seconds
        self._batch_rows = batch_rows
        self._max_rows = max_rows
        self._clock = clock
        self._rows: deque[ApiCallRow] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._failing = False
        self._unlogged_drops = 0
        self.dropped = 0
        """Rows dropped since the start (the buffer was full, or closed)."""

    @classmethod
    def for_database(cls, db: Database, metrics: ApiCallMetrics) -> ApiCallLog:
        return cls(partial(api_calls.write, db), metrics)

    @property
    def buffered(self) -> int:
        """Rows waiting to be written."""
        return len(self._rows)

    def record(self, call: ApiCall) -> None:
        """The client's observer: count the attempt and buffer its row. Never waits."""
        self._metrics.calls.labels(call.service, call.operation, outcome(call)).inc()
        self._metrics.seconds.labels(call.service, call.operation).observe(call.duration_seconds)
        if self._closing:
            self.dropped += 1
            self._metrics.dropped.inc()
            log.warning(
                "the API call log is closed: %s attempt %d not kept", call.operation, call.attempt
            )
            return
        if len(self._rows) >= self._max_rows:
            self._rows.popleft()
            self._drop(1)
        self._rows.append(to_row(call, self._clock()))
        if len(self._rows) >= self._batch_rows:
            self._wake.set()
        self._start()

    async def flush(self) -> int:
        """Write what is buffered now, BATCH_ROWS rows per statement; the number of batches
        written. On a failure the batch goes back to the front of the buffer, and it stops."""
        batches = 0
        while self._rows:
            batch = [self._rows.popleft() for _ in range(min(self._batch_rows, len(self._rows)))]
            try:
                await self._store(batch)
            except asyncio.CancelledError:
                self._put_back(batch)
                raise
            except Exception as exc:  # PostgreSQL down, a timeout: keep the rows, try later
                self._put_back(batch)
                if not self._failing:
                    log.warning(
                        "the API call log cannot write (%s: %s); %d rows kept, at most %d",
                        type(exc).__name__,
                        exc,
                        len(self._rows),
                        self._max_rows,
                    )
                self._failing = True
                return batches
            batches += 1
            if self._failing:
                log.info("the API call log writes again; %d rows waiting", len(self._rows))
                self._failing = False
        return batches

    async def close(self) -> None:
        """Stop the task and write what is left, waiting at most CLOSE_SECONDS; what cannot
        be written by then is dropped (counted and logged)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()  # a batch it was writing goes back to the buffer
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), CLOSE_SECONDS)
        self._log_drops()
        if self._rows:
            lost = len(self._rows)
            self._rows.clear()
            self.dropped += lost
            self._metrics.dropped.inc(lost)
            log.warning("the API call log dropped %d rows (left unwritten at shutdown)", lost)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            self._wake.clear()
            await self.flush()
            self._log_drops()

    def _put_back(self, batch: list[ApiCallRow]) -> None:
        self._rows.extendleft(reversed(batch))
        over = len(self._rows) - self._max_rows
        for _ in range(max(0, over)):
            self._rows.popleft()  # rows recorded meanwhile count more than the oldest
        self._drop(max(0, over))

    def _drop(self, count: int) -> None:
        """The buffer was full: `count` of its oldest rows went."""
        if count:
            self.dropped += count
            self._unlogged_drops += count
            self._metrics.dropped.inc(count)

    def _log_drops(self) -> None:
        """One line per flush interval at most, however many rows went."""
        if self._unlogged_drops:
            log.warning(
                "the API call log dropped its %d oldest rows (its buffer of %d was full)",
                self._unlogged_drops,
                self._max_rows,
            )
            self._unlogged_drops = 0


@contextlib.asynccontextmanager
async def api_call_log(
    db: Database, metrics: ApiCallMetrics
) -> AsyncIterator[Callable[[ApiCall], None]]:
    """The observer to give a ZoomClient; what it buffered is written when the block ends."""
    calls = ApiCallLog.for_database(db, metrics)
    try:
        yield calls.record
    finally:
        await calls.close()
