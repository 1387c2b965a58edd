"""The worker's Prometheus metrics, in a registry of their own (served by `zoomstream worker` on
WORKER_METRICS_PORT, with the process's own collectors), not in prometheus_client's global one."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

EVENTS = Counter(
    "zoomstream_worker_events",
    "Webhooks handled, by event type and outcome (completed, skipped, pending, failed attempt).",
    ["event_type", "outcome"],
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "zoomstream_worker_batch_size",
    "Messages per sink batch, by agent (webhook-log: repaired gaps included).",
    ["agent"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000),
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "zoomstream_worker_batch_seconds",
    "Time to apply a sink batch, by agent: decode, one transaction, publish, dead letters.",
    ["agent"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
LAG = Gauge(
    "zoomstream_worker_consumer_lag",
    "Messages not yet committed, per assigned partition: high watermark minus committed offset.",
    ["topic", "partition"],
    registry=REGISTRY,
)
DUPLICATES = Counter(
    "zoomstream_worker_duplicates", "Deliveries dropped by the dedup window.", registry=REGISTRY
)
DEAD_LETTERS = Counter(
    "zoomstream_worker_dead_letters", "Messages sent to the dead-letter topic.", registry=REGISTRY
)
RETRIES = Counter(
    "zoomstream_worker_retries", "Webhooks scheduled for another attempt.", registry=REGISTRY
)
GAPS = Counter(
    "zoomstream_worker_repaired_offsets",
    "Offsets the consumer skipped and the worker read again, by topic.",
    ["topic"],
    registry=REGISTRY,
)


EMAILS_SENT = Counter(
    "zoomstream_worker_emails",
    "Send requests and retries handled, by outcome (sent, retry-scheduled, failed, duplicate,"
    " already-done).",
    ["outcome"],
    registry=REGISTRY,
)
EMAIL_EVENTS = Counter(
    "zoomstream_worker_email_events",
    "Provider events, by what became of them (stored, duplicate, unmatched so far).",
    ["result"],
    registry=REGISTRY,
)
VIEW_EVENTS = Counter(
    "zoomstream_worker_view_events", "Recording view and progress events read.", registry=REGISTRY
)
