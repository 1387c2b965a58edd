"""A realistic mix of raw webhooks, written straight into zoom.webhooks.raw: mostly participant
events, plus meeting start/end and recordings, for meetings with platform events."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition

from schemas import RawWebhookEnvelope
from zoomstream.samples import dumps, meeting_burst

MEETING_BASE = 86_000_000_000


def meetings_for(count: int, participants: int = 40) -> int:
    per_meeting = 2 * participants + 3
    return max(1, count // per_meeting)


def add_events(database_url: str, meetings: int) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO events (title, zoom_meeting_id, auto_publish_recordings)"
            " SELECT 'Bench ' || n, (%s + n)::text, true FROM generate_series(0, %s - 1) AS n",
            (MEETING_BASE, meetings),
        )


def envelopes(count: int, participants: int = 40) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs: `count` distinct deliveries, meeting by meeting."""
    start = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(hours=3)
    produced = 0
    meeting = 0
    while produced < count:
        meeting_id = str(MEETING_BASE + meeting)
        for event in meeting_burst(meeting_id, f"bench{meeting}==", start, participants):
            body = dumps(event)
            envelope = RawWebhookEnvelope(
                webhook_id=hashlib.sha256(body).hexdigest(),
                received_at=datetime.now(tz=UTC),
                headers={"content-type": "application/json"},
                body=body,
            )
            yield meeting_id.encode(), envelope.model_dump_json().encode()
            produced += 1
            if produced >= count:
                return
        meeting += 1


def produce(bootstrap: str, topic: str, pairs: Iterator[tuple[bytes, bytes]]) -> int:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "compression.type": "lz4",
            "enable.idempotence": True,
            "queue.buffering.max.messages": 500_000,
        }
    )
    sent = 0
    for key, value in pairs:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.1)
        sent += 1
        if sent % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("not every bench message was delivered")
    return sent


def read_all(bootstrap: str, topic: str, count: int) -> float:
    """The floor: a plain confluent-kafka consumer reading `count` messages; seconds taken."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-floor-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    metadata = consumer.list_topics(topic, timeout=30)
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions])
    read = 0
    started = time.perf_counter()
    while read < count:
        for message in consumer.consume(1000, timeout=1.0):
            if message.error() is None:
                read += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed
