"""The worker's Faust app as configured here, and the timers that serve every agent: the idle
sweep of the batch sources and the consumer lag."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust

from schemas.settings import Settings
from streams.runtime import faust_internals, metrics
from streams.runtime.sources import RepairedSource

GAP_SWEEP_SECONDS = 5.0
LAG_EVERY_SECONDS = 10.0


def consumer_settings(settings: Settings) -> dict[str, Any]:
    """How the worker's Faust app consumes; the bench's no-op floor uses the same."""
    return {
        "consumer_auto_offset_reset": "earliest",
        # aiokafka fetches at most this much per partition per request (Faust's default 1 MiB
        # held one partition, i.e. one big meeting, to ~3,000 no-op messages/s here; 8 MiB
        # gave ~12,000/s, the rate of eight partitions).
        "consumer_max_fetch_size": settings.worker_max_fetch_bytes,
        "broker_session_timeout": settings.worker_session_timeout_seconds,
        # Heartbeats at most a third of the session apart (Kafka's advice).
        "broker_heartbeat_interval": min(3.0, settings.worker_session_timeout_seconds / 3),
    }


def create_app(settings: Settings) -> faust.App:
    """The Faust app of one worker of the group. Nothing connects until it starts."""
    return faust.App(
        f"{settings.topic_prefix}zoomstream",
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        datadir=settings.worker_datadir,
        processing_guarantee="at_least_once",
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        # Tables use JSON; topics carry bytes that pydantic models parse.
        key_serializer="json",
        value_serializer="json",
        web_enabled=False,
        **consumer_settings(settings),
    )


def install_timers(app: faust.App, sources: Sequence[RepairedSource]) -> None:
    """The gap repair's idle sweep over `sources`, and the lag metric."""

    @app.timer(interval=GAP_SWEEP_SECONDS)  # type: ignore[untyped-decorator]
    async def sweep_skipped_offsets() -> None:
        """When an agent has been idle, read what the consumer left behind on its partitions."""
        for source in sources:
            await source.sweep(GAP_SWEEP_SECONDS)

    @app.timer(interval=LAG_EVERY_SECONDS)  # type: ignore[untyped-decorator]
    async def export_lag() -> None:
        """Consumer lag per assigned partition, for /metrics."""
        consumer = app.consumer
        committed = faust_internals.committed_offsets(consumer)
        metrics.LAG.clear()
        for tp in consumer.assignment():
            high, done = consumer.highwater(tp), committed.get(tp)
            if high is not None and done is not None:
                metrics.LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - done))
