"""The external API call log's writer on a store of our own (a list, or one that fails like a
PostgreSQL that is down): records are cheap and never wait, batches are bounded, the buffer is
bounded, the oldest rows go first, and close writes the rest. The real table:
tests/integration/test_api_call_log.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ingest.api_call_log import ApiCallLog, api_call_metrics, outcome, to_row
from ingest.metrics import IngestMetrics
from ingest.zoom_api import ApiCall, Subject
from schemas.rows import ApiCallRow

AT = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


def api_call(**overrides: Any) -> ApiCall:
    values: dict[str, Any] = {
        "service": "zoom",
        "operation": "get_meeting_recordings",
        "method": "GET",
        "url": "https://api.zoom.us/v2/meetings/abc%3D%3D/recordings",
        "status_code": 200,
        "duration_seconds": 0.125,
        "attempt": 1,
        "error": None,
        "tracking_id": "v=2.0;clid=us06;rid=WEB_1",
        "subject": Subject("abc==", "abc=="),
        **overrides,
    }
    return ApiCall(**values)


class Store:
    """Keeps each batch; while `down`, raises what a psycopg pool raises."""

    def __init__(self) -> None:
        self.batches: list[list[ApiCallRow]] = []
        self.down = False
        self.written = asyncio.Event()

    async def __call__(self, rows: Sequence[ApiCallRow]) -> None:
        if self.down:
            raise OSError("connection refused")
        self.batches.append(list(rows))
        self.written.set()

    @property
    def attempts(self) -> list[int]:
        return [row.attempt for batch in self.batches for row in batch]


def writer(store: Store, **options: Any) -> tuple[ApiCallLog, CollectorRegistry]:
    registry = CollectorRegistry()
    options = {"flush_seconds": 3600.0, "batch_rows": 10, "clock": lambda: AT, **options}
    return ApiCallLog(store, api_call_metrics(registry), **options), registry


def test_a_row_is_the_attempt_without_secrets_in_milliseconds_with_its_subject() -> None:
    row = to_row(api_call(error="x" * 5000, tracking_id="t" * 500), AT)
    assert (row.created_at, row.service, row.operation, row.method) == (
        AT,
        "zoom",
        "get_meeting_recordings",
        "GET",
    )
    assert (row.status_code, row.duration_ms, row.attempt) == (200, 125.0, 1)
    assert (row.meeting_uuid, row.recording_id) == ("abc==", "abc==")
    assert row.error is not None and len(row.error) == 1000  # clipped to the column
    assert row.request_id is not None and len(row.request_id) == 200


def test_a_call_without_a_subject_has_none() -> None:
    row = to_row(ApiCall("zoom", "oauth_token", "POST", "u", 200, 0.1, 1, None, None), AT)
    assert (row.meeting_uuid, row.recording_id, row.request_id) == (None, None, None)


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (200, None, "2xx"),
        (404, "HTTP 404", "4xx"),
        (429, "HTTP 429", "4xx"),
        (503, "HTTP 503", "5xx"),
        (None, "ReadTimeout", "timeout"),
        (None, "ConnectError: [Errno 111] Connection refused", "unreachable"),
    ],
)
def test_the_outcome_label_is_the_status_class_or_what_kept_the_answer(
    status: int | None, error: str | None, expected: str
) -> None:
    assert outcome(api_call(status_code=status, error=error)) == expected


async def test_record_counts_and_buffers_without_writing() -> None:
    store = Store()
    calls, registry = writer(store)
    calls.record(api_call())
    calls.record(api_call(status_code=429, error="HTTP 429"))
    assert (calls.buffered, store.batches) == (2, [])
    labels = {"service": "zoom", "operation": "get_meeting_recordings"}
    assert (
        registry.get_sample_value(
            "zoomstream_external_api_calls_total", labels | {"outcome": "4xx"}
        )
        == 1
    )
    assert registry.get_sample_value("zoomstream_external_api_call_seconds_count", labels) == 2
    await calls.close()
    assert [len(batch) for batch in store.batches] == [2]


async def test_a_flush_writes_bounded_batches_in_order() -> None:
    store = Store()
    calls, _ = writer(store, batch_rows=100)
    for n in range(1, 251):
        calls.record(api_call(attempt=n))
    assert await calls.flush() == 3
    assert [len(batch) for batch in store.batches] == [100, 100, 50]
    assert store.attempts == list(range(1, 251))
    await calls.close()


async def test_a_full_batch_is_written_without_waiting_for_the_interval() -> None:
    store = Store()
    calls, _ = writer(store, batch_rows=5)
    for n in range(1, 6):
        calls.record(api_call(attempt=n))
    await asyncio.wait_for(store.written.wait(), 5)
    assert store.attempts == [1, 2, 3, 4, 5]
    await calls.close()


async def test_while_the_store_is_down_rows_wait_and_the_oldest_are_dropped_past_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store()
    store.down = True
    calls, registry = writer(store, batch_rows=4, max_rows=6)
    for n in range(1, 5):
        calls.record(api_call(attempt=n))
    assert await calls.flush() == 0  # nothing raised to anyone, the rows kept
    assert calls.buffered == 4
    for n in range(5, 10):
        calls.record(api_call(attempt=n))  # 9 recorded, room for 6
    assert (calls.buffered, calls.dropped) == (6, 3)
    assert registry.get_sample_value("zoomstream_external_api_log_dropped_total") == 3
    assert "cannot write (OSError: connection refused)" in caplog.text
    store.down = False
    assert await calls.flush() == 2
    assert store.attempts == [4, 5, 6, 7, 8, 9]  # the oldest went
    await calls.close()
    assert "dropped its 3 oldest rows (its buffer of 6 was full)" in caplog.text


async def test_close_writes_what_is_left_and_drops_what_it_cannot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store()
    calls, _ = writer(store)
    calls.record(api_call())
    await calls.close()
    assert store.attempts == [1]
    down = Store()
    down.down = True
    broken, _ = writer(down)
    broken.record(api_call())
    broken.record(api_call(attempt=2))
    with caplog.at_level(logging.WARNING):
        await broken.close()
    assert broken.dropped == 2
    assert "dropped 2 rows (left unwritten at shutdown)" in caplog.text
    broken.record(api_call(attempt=3))  # after close: counted, never raised
    assert broken.dropped == 3


def test_ingest_and_the_worker_share_one_definition_registered_once() -> None:
    metrics = IngestMetrics()
    assert metrics.api_calls is api_call_metrics(metrics.registry)
    other = CollectorRegistry()
    assert api_call_metrics(other) is api_call_metrics(other)
    assert api_call_metrics(other) is not metrics.api_calls
