"""Topic names and their creation. Topics are declared here, never auto-created by the broker."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from zoomstream.settings import Settings

ZOOM_RAW = "zoom.webhooks.raw"
ZOOM_DEAD_LETTERS = "zoom.webhooks.dead-letter"
ZOOM_RETRY = "zoom.webhooks.retry"
ZOOM_RECORDINGS = "zoom.recordings"
ZOOM_ATTENDANCE = "zoom.attendance"
EMAIL_RAW = "email.events.raw"
EMAIL_SEND = "email.send-requests"
EMAIL_DEAD_LETTERS = "email.dead-letter"
RECORDING_VIEWS = "recordings.view-events"
RECORDING_VIEW_DEAD_LETTERS = "recordings.view-events.dead-letter"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    config: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    raw = {"retention.ms": str(settings.raw_retention_ms), "cleanup.policy": "delete"}
    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": str(60 * 60 * 1000)}
    return [
        TopicSpec(settings.topic(ZOOM_RAW), raw),
        TopicSpec(settings.topic(ZOOM_DEAD_LETTERS), raw),
        TopicSpec(settings.topic(EMAIL_RAW), raw),
        TopicSpec(settings.topic(EMAIL_SEND), raw),
        TopicSpec(settings.topic(EMAIL_DEAD_LETTERS), raw),
        TopicSpec(settings.topic(RECORDING_VIEWS), raw),
        TopicSpec(settings.topic(RECORDING_VIEW_DEAD_LETTERS), raw),
        TopicSpec(settings.topic(ZOOM_RETRY), raw),
        TopicSpec(settings.topic(ZOOM_RECORDINGS), compacted),
        TopicSpec(settings.topic(ZOOM_ATTENDANCE), compacted),
    ]


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
