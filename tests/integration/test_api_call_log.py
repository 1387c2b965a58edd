"""The external API call log on the real PostgreSQL: the Zoom client's attempts against the fake
Zoom (a real HTTP server) become external_api_calls rows, one per attempt, with no secret in
any column; the writer's batches. (PostgreSQL down: tests/unit/ingest/test_api_call_log.py.)"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Sequence

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from ingest.api_call_log import ApiCallLog, api_call_log, api_call_metrics
from ingest.zoom_api import ApiCall, ZoomClient
from schemas.rows import ApiCallRow
from schemas.settings import Settings
from sinks import Database, api_calls
from tests.integration.zoom_server import (
    ACCOUNT_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    RECORDINGS,
    FakeZoom,
    Fault,
    running_fake_zoom,
)
from tests.polling import poll

pytestmark = pytest.mark.integration

UUID = "/ajXp112QmuoKj4854875=="  # one Zoom double-encodes
RATE_LIMITED_REQUEST = "v=2.0;clid=us06;rid=WEB_rate_limited"


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with running_fake_zoom() as server:
        server.add_recording(UUID)
        yield server


def client_settings(zoom: FakeZoom) -> Settings:
    return Settings(
        _env_file=None,
        **zoom.client_settings(),
        zoom_api_attempts=3,
        zoom_api_backoff_seconds=0.01,
    )


def rows(database_url: str, columns: str = "*") -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(f"SELECT {columns} FROM external_api_calls ORDER BY id").fetchall()


def api_call(attempt: int) -> ApiCall:
    return ApiCall(
        "zoom", "get_meeting_recordings", "GET", "https://x/v2", 200, 0.01, attempt, None, None
    )


async def test_a_429_then_200_writes_one_row_per_attempt_and_no_secret(
    zoom: FakeZoom, database_url: str
) -> None:
    zoom.fail_next(
        RECORDINGS,
        Fault(status=429, headers={"Retry-After": "0", "x-zm-trackingid": RATE_LIMITED_REQUEST}),
    )
    db = Database(database_url)
    try:
        async with (
            api_call_log(db, api_call_metrics(CollectorRegistry())) as observer,
            ZoomClient(client_settings(zoom), observer) as client,
        ):
            answer = await client.meeting_recordings(
                UUID, with_download_token=True, token_ttl_seconds=600, recording_id=UUID
            )
    finally:
        await db.close()

    found = rows(
        database_url,
        "service, operation, method, url, status_code, attempt, error, request_id,"
        " meeting_uuid, recording_id",
    )
    assert [row[:3] for row in found] == [
        ("zoom", "oauth_token", "POST"),
        ("zoom", "get_meeting_recordings", "GET"),
        ("zoom", "get_meeting_recordings", "GET"),
    ]
    token_call, limited, answered = found
    assert token_call[3] == zoom.oauth_url  # the account id was in the query: not kept
    assert token_call[8:] == (None, None)  # a token serves every caller
    segment = "%252FajXp112QmuoKj4854875%253D%253D"
    assert limited[3] == answered[3] == f"{zoom.api_base_url}/meetings/{segment}/recordings"
    assert limited[4:8] == (429, 1, "HTTP 429", RATE_LIMITED_REQUEST)
    assert answered[4:7] == (200, 2, None)
    assert isinstance(answered[7], str) and answered[7].startswith("v=2.0;")
    assert limited[8:] == answered[8:] == (UUID, UUID)
    assert all(0 <= float(str(ms)) < 60_000 for (ms,) in rows(database_url, "duration_ms"))

    download_token = answer.download_access_token
    assert download_token is not None
    secrets = [
        CLIENT_SECRET,
        base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
        download_token.get_secret_value(),
        *zoom.issued_tokens,
        ACCOUNT_ID,
    ]
    with psycopg.connect(database_url) as conn:
        every_column = conn.execute("SELECT row_to_json(c)::text FROM external_api_calls c")
        everything = "\n".join(str(text) for (text,) in every_column.fetchall())
    assert "get_meeting_recordings" in everything  # the search sees the rows
    assert [secret for secret in secrets if secret in everything] == []


async def test_the_writer_writes_many_calls_in_few_statements(database_url: str) -> None:
    db = Database(database_url)
    statements: list[int] = []

    async def counted(rows: Sequence[ApiCallRow]) -> None:
        statements.append(len(rows))
        await api_calls.write(db, rows)

    calls = ApiCallLog(
        counted, api_call_metrics(CollectorRegistry()), flush_seconds=3600, batch_rows=10
    )
    try:
        for n in range(1, 4):
            calls.record(api_call(n))
        assert rows(database_url) == []  # below a batch, before the interval: buffered
        assert await calls.flush() == 1
        assert rows(database_url, "attempt") == [(1,), (2,), (3,)]

        for n in range(4, 14):  # a full batch: written without waiting for the interval
            calls.record(api_call(n))
        await asyncio.to_thread(  # the event loop stays free for the writer's task
            poll,
            lambda: len(rows(database_url)),
            until=lambda count: count == 13,
            what="the full batch written",
            timeout=10,
        )
        for n in range(14, 39):
            calls.record(api_call(n))
    finally:
        await calls.close()
        await db.close()
    assert rows(database_url, "attempt") == [(n,) for n in range(1, 39)]
    assert len(statements) < 38 and max(statements) <= 10
    assert sum(statements) == 38
