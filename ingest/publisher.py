"""The port through which ingest puts accepted requests into Kafka, with its two adapters."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer

Message = tuple[str, bytes | None, bytes | None]
"""(topic, key, value) of one message to publish; no value: a tombstone."""

_Settled = tuple[asyncio.Future[None], KafkaError | None]
"""A publish's future and its delivery report's error (None: delivered)."""


class PublishError(RuntimeError):
    """Kafka did not acknowledge the message in time: the caller must not report success."""


class Publisher(Protocol):
    """Puts one message into Kafka durably.

    `publish` returns only after the broker acknowledged the write (acks=all, idempotent); it
    raises PublishError when that did not happen within the publisher's bound. `publish_many`
    does the same for many messages at once (one wait for all the acks), in order per key.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None: ...

    async def publish_many(self, messages: Sequence[Message]) -> None: ...

    async def is_ready(self) -> bool: ...


CONSISTENT_RANDOM = "consistent_random"
"""librdkafka's default partitioner (CRC32 of the key): what ingest has always keyed the raw
topic with, so a meeting stays on its partition across versions."""
MURMUR2_RANDOM = "murmur2_random"
"""The Java client's partitioner (murmur2 of the key), which aiokafka and so Faust use too: the
worker's record topics keep the partition each key had when Faust published them."""


def producer_config(
    bootstrap_servers: str, timeout_seconds: float, partitioner: str = CONSISTENT_RANDOM
) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap_servers,
        "partitioner": partitioner,
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
    """confluent-kafka adapter: a poll thread serves librdkafka's delivery reports and hands
    each poll's settled futures to their event loop at once: one wake-up of the loop per poll,
    not per message (under load one poll serves tens of reports)."""

    def __init__(
        self, bootstrap_servers: str, timeout_seconds: float, partitioner: str = CONSISTENT_RANDOM
    ) -> None:
        self._config = producer_config(bootstrap_servers, timeout_seconds, partitioner)
        self._timeout = timeout_seconds
        self._producer: Producer | None = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._settled: list[_Settled] = []
        """Filled by the delivery reports, which run in the thread serving them: the poll
        thread, or close's flush once that has stopped; never two at once."""

    async def start(self) -> None:
        """Connect (lazily, in librdkafka's threads); a second call does nothing."""
        if self._producer is not None:
            return
        self._producer = Producer(self._config)
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        assert self._producer is not None
        while not self._stop.is_set():
            self._producer.poll(0.05)
            self._hand_over()

    def _hand_over(self) -> None:
        if not self._settled:
            return
        settled, self._settled = self._settled, []
        loops: dict[asyncio.AbstractEventLoop, list[_Settled]] = {}
        for entry in settled:
            loops.setdefault(entry[0].get_loop(), []).append(entry)
        for loop, entries in loops.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nothing awaits them
                loop.call_soon_threadsafe(_settle_all, entries)

    async def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, 5.0)
            self._hand_over()
            self._producer = None

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        assert self._producer is not None, "publisher not started"
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_delivery(err: KafkaError | None, _msg: object) -> None:
            self._settled.append((acked, err))

        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except (BufferError, KafkaException) as exc:
            raise PublishError(f"Kafka refused the message: {exc}") from exc
        await self._acked(acked)

    async def publish_many(self, messages: Sequence[Message]) -> None:
        """All produced at once, then one wait: the last delivery report settles the future
        (with the first error, if any)."""
        assert self._producer is not None, "publisher not started"
        if not messages:
            return
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending = [len(messages)]
        errors: list[KafkaError] = []

        def on_delivery(err: KafkaError | None, _msg: object) -> None:
            if err is not None:
                errors.append(err)
            pending[0] -= 1
            if pending[0] == 0:
                self._settled.append((acked, errors[0] if errors else None))

        try:
            for topic, key, value in messages:
                self._producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except (BufferError, KafkaException) as exc:
            raise PublishError(f"Kafka refused a message: {exc}") from exc
        await self._acked(acked)

    async def _acked(self, acked: asyncio.Future[None]) -> None:
        """Wait for the delivery report, at most the publisher's bound: one timer, not the
        tasks and futures of `asyncio.wait_for` (this runs once per request)."""
        timer = asyncio.get_running_loop().call_later(self._timeout, _expire, acked, self._timeout)
        try:
            await acked
        finally:
            timer.cancel()

    async def is_ready(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            metadata = await asyncio.to_thread(producer.list_topics, timeout=2.0)
        except KafkaException:
            return False
        return bool(metadata.brokers)


def _expire(future: asyncio.Future[None], timeout: float) -> None:
    if not future.done():
        future.set_exception(PublishError(f"Kafka did not acknowledge within {timeout} s"))


def _settle_all(settled: list[_Settled]) -> None:
    """In the futures' loop: each one done, unless its bound ran out first."""
    for future, err in settled:
        if future.done():
            continue
        if err is None:
            future.set_result(None)
        else:
            future.set_exception(PublishError(f"Kafka delivery failed: {err.str()}"))


@dataclass
class InMemoryPublisher:
    """The fake: keeps what was published; `available=False` makes it fail like a down broker."""

    available: bool = True
    messages: list[Message] = field(default_factory=list)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        if not self.available:
            raise PublishError("Kafka did not acknowledge (fake unavailable)")
        self.messages.append((topic, key, value))

    async def publish_many(self, messages: Sequence[Message]) -> None:
        if not self.available:
            raise PublishError("Kafka did not acknowledge (fake unavailable)")
        self.messages.extend(messages)

    async def is_ready(self) -> bool:
        return self.available
