"""A signed Zoom webhook in, one webhook-log row out: on the real broker and database."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from ingest import delivery_id
from tests.conftest import signed
from tests.integration.conftest import Pipeline, count_rows, messages_in_topic, wait_for_rows
from tests.integration.zoom_webhooks import send_all
from tests.polling import poll
from zoomstream.samples import dumps, meeting_burst

pytestmark = pytest.mark.integration


def distinct_bodies(count: int, seed: int) -> list[bytes]:
    """`count` distinct realistic webhook bodies across several meetings."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    bodies: list[bytes] = []
    meeting = 0
    while len(bodies) < count:
        meeting_id = str(81_000_000_000 + seed * 1000 + meeting)
        occurrence = start + timedelta(days=meeting)
        events = meeting_burst(
            meeting_id, f"occ{seed}-{meeting}==", occurrence, rng.randint(20, 60)
        )
        bodies.extend(dumps(event) for event in events)
        meeting += 1
    return bodies[:count]


def test_thousand_webhooks_with_redeliveries_give_exactly_the_distinct_rows(
    pipeline: Pipeline, database_url: str, topic_prefix: str
) -> None:
    distinct = distinct_bodies(800, seed=1)
    redeliveries = random.Random(2).sample(distinct, 200)
    traffic = distinct + redeliveries
    random.Random(3).shuffle(traffic)  # redeliveries sometimes race their originals

    pipeline.start_ingest()
    pipeline.start_worker()
    answers = asyncio.run(send_all(pipeline.url, traffic, concurrency=32))

    assert answers.count(200) == 1000, {code: answers.count(code) for code in set(answers)}
    assert wait_for_rows(database_url, 800) == 800
    time.sleep(3)  # nothing more arrives late
    with psycopg.connect(database_url) as conn:
        ids = {row[0] for row in conn.execute("SELECT webhook_id FROM zoom_webhook_logs")}
        statuses: dict[str, int] = dict(
            conn.execute(
                "SELECT processing_status, count(*) FROM zoom_webhook_logs GROUP BY 1"
            ).fetchall()
        )
    assert ids == {delivery_id(body) for body in distinct}
    assert set(statuses) <= {"completed", "skipped"}, f"no row may be left pending: {statuses}"
    assert sum(statuses.values()) == 800
    worker_metrics = httpx.get(pipeline.worker_metrics_url, timeout=10).text
    handled = sum(
        float(line.rsplit(" ", 1)[1])
        for line in worker_metrics.splitlines()
        if line.startswith("zoomstream_worker_events_total{")
    )
    assert handled == 800
    # Consumer lag per partition of the raw topic: all 8 exported, and 0 once committed.
    raw_lag = f'topic="{topic_prefix}zoom.webhooks.raw"'

    def raw_lags() -> list[float]:
        return [
            float(line.rsplit(" ", 1)[1])
            for line in httpx.get(pipeline.worker_metrics_url, timeout=10).text.splitlines()
            if line.startswith("zoomstream_worker_consumer_lag{") and raw_lag in line
        ]

    lags = poll(
        raw_lags,
        until=lambda found: len(found) == 8 and sum(found) == 0,
        what="a lag of 0 on each of the raw topic's 8 partitions",
        timeout=30,
        interval=1,
        raise_on_timeout=False,
    )
    assert (len(lags), sum(lags)) == (8, 0), lags
    ingest_metrics = httpx.get(f"{pipeline.url}/metrics", timeout=10).text
    assert (
        'zoomstream_ingest_requests_total{endpoint="zoom",outcome="accepted"} 1000.0'
        in ingest_metrics
    )


def test_forged_stale_and_malformed_requests_change_nothing(
    pipeline: Pipeline, database_url: str, topic_prefix: str
) -> None:
    pipeline.start_ingest()
    pipeline.start_worker()
    body = dumps({"event": "meeting.started", "payload": {"object": {"id": "1"}}})
    forged = signed(body, secret="not-the-secret")
    stale = signed(body, timestamp=int(time.time()) - 2 * 60 * 60)
    future = signed(body, timestamp=int(time.time()) + 3600)
    unsigned = (body, {"content-type": "application/json"})
    bad_json = signed(b'{"event":')
    not_utf8 = signed(b'{"event":"\xff"}')
    oversize = signed(b'{"event":"x","pad":"' + b"a" * (1024 * 1024) + b'"}')
    cases = [
        (forged, 401),
        (stale, 401),
        (future, 401),
        (unsigned, 401),
        (bad_json, 400),
        (not_utf8, 400),
        (oversize, 413),
    ]
    with httpx.Client(base_url=pipeline.url, timeout=30) as client:
        for (raw, headers), expected in cases:
            response = client.post("/webhooks/zoom", content=raw, headers=headers)
            assert response.status_code == expected, response.text
            assert json.loads(response.text)["error"]
    time.sleep(2)
    assert messages_in_topic(f"{topic_prefix}zoom.webhooks.raw") == 0
    assert count_rows(database_url) == 0


def test_worker_killed_mid_stream_still_gives_one_row_per_delivery(
    pipeline: Pipeline, database_url: str
) -> None:
    distinct = distinct_bodies(900, seed=4)
    first, second = distinct[:600], distinct[600:]
    pipeline.start_ingest()
    pipeline.start_worker()
    assert asyncio.run(send_all(pipeline.url, first, concurrency=16)).count(200) == 600
    wait_for_rows(database_url, 150, timeout=120, interval=0.05)  # then at once:
    pipeline.kill("worker")  # kill -9 while batches are in flight
    landed_before_restart = count_rows(database_url)
    assert landed_before_restart > 0

    redelivered = random.Random(5).sample(first, 150)
    answers = asyncio.run(send_all(pipeline.url, second + redelivered, concurrency=16))
    assert answers.count(200) == len(second) + len(redelivered)
    pipeline.start_worker()
    assert wait_for_rows(database_url, 900) == 900
    time.sleep(3)
    assert count_rows(database_url) == 900
    assert (
        count_rows(database_url, "SELECT count(DISTINCT webhook_id) FROM zoom_webhook_logs") == 900
    )
