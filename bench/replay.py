"""3. Replay: time to reprocess raw webhooks into the derived tables, against a plain consumer
reading the same messages. Goal: 1,000,000 in under 60 s."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bench.common import Figure, Report
from bench.traffic import add_events, envelopes, meetings_for, produce, read_all
from zoomstream.replay import replay
from zoomstream.settings import Settings


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
    rate = summary.applied / elapsed
    report.add(
        Figure(
            "replay webhooks/s into the derived tables",
            f"{rate:,.0f}/s ({summary.applied:,} in {elapsed:.1f} s; 1M would take"
            f" {1_000_000 / rate:,.0f} s)",
            f"plain consumer {floor:,.0f}/s",
            rate / floor,
            "1,000,000 in < 60 s",
            f"failed {summary.failed}, unreadable {summary.unreadable}",
        )
    )
