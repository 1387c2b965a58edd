"""One contract, two publishers: the in-memory fake must behave like the Kafka adapter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer

from ingest import InMemoryPublisher, KafkaPublisher, Publisher, PublishError
from ingest.publisher import MURMUR2_RANDOM
from schemas.settings import Settings
from schemas.topics import ZOOM_ATTENDANCE, ZOOM_RAW
from tests.integration.conftest import BOOTSTRAP, free_port
from tests.polling import poll
from zoomstream.topics import ensure_topics

pytestmark = pytest.mark.integration


def read_back(publisher: Publisher, topic: str) -> list[tuple[bytes | None, bytes]]:
    if isinstance(publisher, InMemoryPublisher):
        return [(key, value or b"") for name, key, value in publisher.messages if name == topic]
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found: list[tuple[bytes | None, bytes]] = []

    def read_one() -> int:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            found.append((message.key(), message.value() or b""))
        return len(found)

    try:
        poll(
            read_one,
            until=lambda read: read == 2,
            what=f"2 messages on {topic}",
            timeout=30,
            interval=0,  # the consumer's poll waits
            raise_on_timeout=False,
        )
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


async def test_many_messages_are_acked_together_and_read_back_in_order(
    publisher: Publisher,
) -> None:
    settings = Settings(
        topic_prefix=f"c{uuid.uuid4().hex[:8]}.", kafka_partitions=1, _env_file=None
    )
    ensure_topics(settings)
    topic = settings.topic(ZOOM_RAW)
    await publisher.publish_many([(topic, b"meeting-1", b"first"), (topic, None, b"second")])
    await publisher.publish_many([])
    assert read_back(publisher, topic) == [(b"meeting-1", b"first"), (None, b"second")]


async def test_an_unreachable_broker_fails_many_messages(unavailable: Publisher) -> None:
    with pytest.raises(PublishError):
        await unavailable.publish_many([("anything", None, b"x"), ("anything", b"k", b"y")])


async def test_record_topics_keep_the_partition_faust_gave_each_key() -> None:
    """The worker's records went through Faust (aiokafka: the Java client's murmur2) before
    they went through librdkafka: a key must stay on its partition across that change."""
    settings = Settings(
        topic_prefix=f"c{uuid.uuid4().hex[:8]}.", kafka_partitions=8, _env_file=None
    )
    ensure_topics(settings)
    topic = settings.topic(ZOOM_ATTENDANCE)
    keys = [f"meeting-{n}==/person-{n * 7}".encode() for n in range(40)]
    publisher = KafkaPublisher(BOOTSTRAP, 5.0, partitioner=MURMUR2_RANDOM)
    await publisher.start()
    try:
        await publisher.publish_many([(topic, key, b"{}") for key in keys])
    finally:
        await publisher.close()
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found: dict[bytes | None, int | None] = {}

    def read_one() -> int:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None and message.key() is not None:
            found[message.key()] = message.partition()
        return len(found)

    try:
        poll(
            read_one,
            until=lambda read: read >= len(keys),
            what=f"{len(keys)} keys on {topic}",
            timeout=30,
            interval=0,  # the consumer's poll waits
            raise_on_timeout=False,
        )
    finally:
        consumer.close()
    expected = {key: (murmur2(key) & 0x7FFFFFFF) % 8 for key in keys}
    assert found == expected
    assert len(set(expected.values())) > 1  # the keys do spread
