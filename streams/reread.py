"""Reading a range of a partition again, outside the consumer group (the gap repair's I/O)."""

from __future__ import annotations

import logging
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from streams.webhook_log import Delivery

log = logging.getLogger(__name__)


class PartitionReader:
    """Reads offsets [start, end) of one partition; looks up a group's committed offsets."""

    def __init__(self, bootstrap_servers: str, group_id: str) -> None:
        self._bootstrap = bootstrap_servers
        self._group_id = group_id

    def _consumer(self, group_id: str) -> Consumer:
        return Consumer(
            {
                "bootstrap.servers": self._bootstrap,
                "group.id": group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": True,
            }
        )

    def start_offset(self, topic: str, partition: int) -> int:
        """Where the group resumes a partition: its committed offset, else the log start."""
        consumer = self._consumer(self._group_id)
        try:
            [committed] = consumer.committed([TopicPartition(topic, partition)], timeout=10)
            if committed.offset >= 0:
                return int(committed.offset)
            low, _high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=10
            )
            return int(low)
        finally:
            consumer.close()

    def read(
        self, topic: str, partition: int, start: int, end: int, timeout: float = 60.0
    ) -> list[Delivery]:
        """The messages at offsets [start, end). Raises KafkaException if they cannot be read."""
        consumer = self._consumer(f"zoomstream-reread-{uuid.uuid4().hex}")
        found: list[Delivery] = []
        try:
            consumer.assign(
                [TopicPartition(topic, partition, start if start >= 0 else OFFSET_BEGINNING)]
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        break
                    raise KafkaException(error)
                offset = message.offset()
                if offset is None or offset >= end:
                    break
                found.append(Delivery(topic, partition, offset, message.value() or b""))
            else:
                raise KafkaException(
                    f"could not read {topic}[{partition}] {start}..{end} in {timeout} s"
                )
        finally:
            consumer.close()
        return found
