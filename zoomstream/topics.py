"""Creating the topics of `schemas.topics` with their settings (the command layer's Kafka admin)."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from schemas.settings import Settings
from schemas.topics import topic_specs


class TopicMismatch(RuntimeError):
    """An existing topic's partition count differs from the configured one."""


def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create missing topics with their configuration; return the names created."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    existing = admin.list_topics(timeout=timeout).topics
    for spec in topic_specs(settings):
        if (
            spec.name in existing
            and len(existing[spec.name].partitions) != settings.kafka_partitions
        ):
            # The dedup table's changelog is co-partitioned with the raw topic: a mismatch would
            # file entries under the wrong partition.
            raise TopicMismatch(
                f"topic {spec.name} has {len(existing[spec.name].partitions)} partitions, "
                f"KAFKA_PARTITIONS is {settings.kafka_partitions}"
            )
    wanted = [spec for spec in topic_specs(settings) if spec.name not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                s.name,
                settings.kafka_partitions,
                settings.kafka_replication_factor,
                config=s.config,
            )
            for s in wanted
        ],
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != 36:  # TOPIC_ALREADY_EXISTS: another process won the race
                raise
    return created
