"""The command layer's Kafka admin: reaching the brokers, and creating the topics of
`schemas.topics` with their settings (or saying how the existing ones differ)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # exported, but not in its stubs
    AdminClient,
    ClusterMetadata,
    TopicMetadata,
)
from confluent_kafka.cimpl import NewTopic

from schemas.settings import Settings
from schemas.topics import topic_specs
from zoomstream import problems

PROBE_SECONDS = 3.0


class TopicMismatch(RuntimeError):
    """An existing topic's partition count differs from the configured one."""


def admin(bootstrap_servers: str) -> AdminClient:
    # librdkafka's own log lines (a refused connection, once a second) would repeat on stderr
    # what the caller reports once, in its words.
    return AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})


def cluster(settings: Settings, timeout: float = PROBE_SECONDS) -> ClusterMetadata:
    """The brokers' metadata, or `problems.kafka_unreachable` when none answers in time."""
    servers = settings.kafka_bootstrap_servers
    try:
        metadata = admin(servers).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise problems.kafka_unreachable(servers, problems.kafka_reason(exc)) from exc
    if not metadata.brokers:
        raise problems.kafka_unreachable(servers, "no broker in the metadata")
    return metadata


@dataclass(frozen=True)
class TopicReport:
    missing: list[str]
    mismatched: list[str]  # "name has N partitions"


def compare(settings: Settings, existing: Mapping[str, TopicMetadata]) -> TopicReport:
    """Which of the configured topics are missing, and which have another partition count."""
    missing, mismatched = [], []
    for spec in topic_specs(settings):
        if spec.name not in existing:
            missing.append(spec.name)
        elif len(existing[spec.name].partitions) != settings.kafka_partitions:
            # The dedup table's changelog is co-partitioned with the raw topic: a mismatch
            # would file entries under the wrong partition.
            mismatched.append(f"{spec.name} has {len(existing[spec.name].partitions)} partitions")
    return TopicReport(missing, mismatched)


def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create missing topics with their configuration; return the names created."""
    client = admin(settings.kafka_bootstrap_servers)
    report = compare(settings, client.list_topics(timeout=timeout).topics)
    if report.mismatched:
        raise TopicMismatch(
            f"topic {report.mismatched[0]}, KAFKA_PARTITIONS is {settings.kafka_partitions}"
        )
    wanted = [spec for spec in topic_specs(settings) if spec.name in report.missing]
    if not wanted:
        return []
    futures = client.create_topics(
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
