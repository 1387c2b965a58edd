"""The port through which ingest puts accepted requests into Kafka, with its two adapters."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer


class PublishError(RuntimeError):
    """Kafka did not acknowledge the message in time: the caller must not report success."""


class Publisher(Protocol):
    """Puts one message into Kafka durably.

    `publish` returns only after the broker acknowledged the write (acks=all, idempotent); it
    raises PublishError when that did not happen within the publisher's bound.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None: ...

    async def is_ready(self) -> bool: ...


def producer_config(bootstrap_servers: str, timeout_seconds: float) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "lz4",
        # A message that cannot be delivered is dropped from the local queue soon after the
        # request was answered 503, so a Kafka outage does not pile messages up in memory.
        "message.timeout.ms": int(timeout_seconds * 1000) + 3000,
        "socket.connection.setup.timeout.ms": 2000,
    }


class KafkaPublisher:
    """confluent-kafka adapter: a poll thread resolves one asyncio future per message."""

    def __init__(self, bootstrap_servers: str, timeout_seconds: float) -> None:
        self._config = producer_config(bootstrap_servers, timeout_seconds)
        self._timeout = timeout_seconds
        self._producer: Producer | None = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    async def start(self) -> None:
        self._producer = Producer(self._config)
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        assert self._producer is not None
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, 5.0)

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        assert self._producer is not None, "publisher not started"
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            loop.call_soon_threadsafe(_settle, acked, err)

        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except (BufferError, KafkaException) as exc:
            raise PublishError(f"Kafka refused the message: {exc}") from exc
        try:
            await asyncio.wait_for(asyncio.shield(acked), self._timeout)
        except TimeoutError as exc:
            raise PublishError(f"Kafka did not acknowledge within {self._timeout} s") from exc

    async def is_ready(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            metadata = await asyncio.to_thread(producer.list_topics, timeout=2.0)
        except KafkaException:
            return False
        return bool(metadata.brokers)


def _settle(future: asyncio.Future[None], err: KafkaError | None) -> None:
    if future.done():
        return
    if err is None:
        future.set_result(None)
    else:
        future.set_exception(PublishError(f"Kafka delivery failed: {err.str()}"))


@dataclass
class InMemoryPublisher:
    """The fake: keeps what was published; `available=False` makes it fail like a down broker."""

    available: bool = True
    messages: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        if not self.available:
            raise PublishError("Kafka did not acknowledge (fake unavailable)")
        self.messages.append((topic, key, value))

    async def is_ready(self) -> bool:
        return self.available
