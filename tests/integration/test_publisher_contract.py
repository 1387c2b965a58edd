"""One contract, two publishers: the in-memory fake must behave like the Kafka adapter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from confluent_kafka import Consumer

from ingest import InMemoryPublisher, KafkaPublisher, Publisher, PublishError
from tests.integration.conftest import BOOTSTRAP, free_port
from zoomstream.settings import Settings
from zoomstream.topics import ZOOM_RAW, ensure_topics


def read_back(publisher: Publisher, topic: str) -> list[tuple[bytes | None, bytes]]:
    if isinstance(publisher, InMemoryPublisher):
        return [(key, value) for name, key, value in publisher.messages if name == topic]
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found: list[tuple[bytes | None, bytes]] = []
    try:
        for _ in range(30):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                found.append((message.key(), message.value() or b""))
                if len(found) == 2:
                    break
    finally:
        consumer.close()
    return found


@pytest.fixture(params=["memory", "kafka"])
async def publisher(request: pytest.FixtureRequest) -> AsyncIterator[Publisher]:
    chosen: Publisher = (
        InMemoryPublisher() if request.param == "memory" else KafkaPublisher(BOOTSTRAP, 2.0)
    )
    await chosen.start()
    yield chosen
    await chosen.close()


@pytest.fixture(params=["memory", "kafka"])
async def unavailable(request: pytest.FixtureRequest) -> AsyncIterator[Publisher]:
    chosen: Publisher = (
        InMemoryPublisher(available=False)
        if request.param == "memory"
        else KafkaPublisher(f"127.0.0.1:{free_port()}", 1.0)
    )
    await chosen.start()
    yield chosen
    await chosen.close()


async def test_published_messages_can_be_read_back_in_order(publisher: Publisher) -> None:
    settings = Settings(
        topic_prefix=f"c{uuid.uuid4().hex[:8]}.", kafka_partitions=1, _env_file=None
    )
    ensure_topics(settings)
    topic = settings.topic(ZOOM_RAW)
    await publisher.publish(topic, b"meeting-1", b"first")
    await publisher.publish(topic, None, b"second")
    assert read_back(publisher, topic) == [(b"meeting-1", b"first"), (None, b"second")]
    assert await publisher.is_ready()


async def test_an_unreachable_broker_raises_publish_error(unavailable: Publisher) -> None:
    with pytest.raises(PublishError):
        await unavailable.publish("anything", None, b"x")
    assert not await unavailable.is_ready()
