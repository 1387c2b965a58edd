"""3. Replay: time to reprocess raw webhooks into the derived tables, against PostgreSQL's own
COPY of the same webhooks' log rows (and a plain consumer reading the same messages).
Goal: 1,000,000 in under 60 s."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import Figure, Report
from bench.traffic import add_events, envelopes, meetings_for, produce, read_all
from schemas import RawWebhookEnvelope
from schemas.settings import Settings
from streams.webhooks.replay import replay


def run(report: Report, env: dict[str, str], database_url: str, count: int) -> None:
    settings = Settings(
        _env_file=None,
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        database_url=database_url,
        topic_prefix=env["TOPIC_PREFIX"] + "replay.",
    )
    from zoomstream.topics import ensure_topics

    ensure_topics(settings)
    topic = settings.topic("zoom.webhooks.raw")
    add_events(database_url, meetings_for(count) + 1)
    began = datetime.now(tz=UTC) - timedelta(seconds=5)
    produce(settings.kafka_bootstrap_servers, topic, envelopes(count))
    started = time.perf_counter()
    summary = asyncio.run(
        replay(settings, began, datetime.now(tz=UTC) + timedelta(seconds=5), include_email=False)
    )
    elapsed = time.perf_counter() - started
    floor = count / read_all(settings.kafka_bootstrap_servers, topic, count)
    copy = copy_rate(database_url, count)
    rate = summary.applied / elapsed
    report.add(
        Figure(
            "replay webhooks/s into the derived tables",
            f"{rate:,.0f}/s ({summary.applied:,} in {elapsed:.1f} s; 1M would take"
            f" {1_000_000 / rate:,.0f} s)",
            f"COPY of the log rows alone {copy:,.0f}/s; plain consumer {floor:,.0f}/s",
            rate / copy,
            "1,000,000 in < 60 s",
            f"failed {summary.failed}, unreadable {summary.unreadable}; ratio to the COPY",
        )
    )


def copy_rate(database_url: str, count: int) -> float:
    """Rows/s PostgreSQL takes when the same webhooks' log rows (payload, headers, every index
    of zoom_webhook_logs) are COPYed into a table like it: the database's own floor for any
    replay here, before facts, sessions and summaries."""
    rows = []
    for _key, value in envelopes(count):
        envelope = RawWebhookEnvelope.model_validate_json(value)
        rows.append(
            (
                envelope.webhook_id,
                envelope.received_at,
                envelope.body.decode(),
                json.dumps(envelope.headers),
                envelope.received_at,
            )
        )
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE bench_copy_floor (LIKE zoom_webhook_logs INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor().copy(
            "COPY bench_copy_floor (webhook_id, event_timestamp, payload, headers, received_at)"
            " FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy_floor")
        conn.commit()
    return count / elapsed
