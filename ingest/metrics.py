"""Ingest's Prometheus metrics, in a registry of the app's own (so tests and several apps in one
process do not share counters)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ingest.api_call_log import ApiCallMetrics, api_call_metrics

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass
class IngestMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "zoomstream_ingest_requests",
            "Webhook requests by endpoint and outcome (accepted, url_validation, or the refusal).",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "zoomstream_ingest_publish_seconds",
            "Time from handing a message to the producer to Kafka's acknowledgement.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
            registry=self.registry,
        )

        self.password_attempts = Counter(
            "zoomstream_recording_password_attempts",
            "Recording password attempts by result: accepted, rejected (wrong), locked_out (429,"
            " no hash computed).",
            ["result"],
            registry=self.registry,
        )
        self.password_lockouts = Counter(
            "zoomstream_recording_password_lockouts",
            "Lockouts begun, by what reached its limit of failures: a recording or a caller.",
            ["scope"],
            registry=self.registry,
        )
        self.busy = Counter(
            "zoomstream_api_busy",
            "API requests refused with 503 because a bounded piece of work was full, by limiter.",
            ["limiter"],
            registry=self.registry,
        )
        # The external API call log's metrics (ingest.api_call_log), one definition for ingest
        # and the worker.
        self.api_calls: ApiCallMetrics = api_call_metrics(self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
