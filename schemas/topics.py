"""Topic names (without the deployment's TOPIC_PREFIX) and their settings: pure data. Topics are
declared here and created by `zoomstream` (`zoomstream.topics.ensure_topics`), never by the
broker."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.settings import Settings

ZOOM_RAW = "zoom.webhooks.raw"
ZOOM_DEAD_LETTERS = "zoom.webhooks.dead-letter"
ZOOM_RETRY = "zoom.webhooks.retry"
ZOOM_RECORDINGS = "zoom.recordings"
ZOOM_ATTENDANCE = "zoom.attendance"
EMAIL_RAW = "email.events.raw"
EMAIL_SEND = "email.send-requests"
EMAIL_SEND_RETRY = "email.send-retry"
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
        TopicSpec(settings.topic(EMAIL_SEND_RETRY), raw),
        TopicSpec(settings.topic(EMAIL_DEAD_LETTERS), raw),
        TopicSpec(settings.topic(RECORDING_VIEWS), raw),
        TopicSpec(settings.topic(RECORDING_VIEW_DEAD_LETTERS), raw),
        TopicSpec(settings.topic(ZOOM_RETRY), raw),
        TopicSpec(settings.topic(ZOOM_RECORDINGS), compacted),
        TopicSpec(settings.topic(ZOOM_ATTENDANCE), compacted),
    ]
