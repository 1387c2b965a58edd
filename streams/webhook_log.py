"""From a raw delivery to its zoom_webhook_logs row: pure, no I/O, time passed in."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from schemas import RawWebhookEnvelope, ZoomEvent, event_time, parse_zoom_event
from sinks import WebhookLogRow

# Event types whose processing exists. Everything else is logged as skipped with the reason, so
# no row is ever left pending for want of a handler.
HANDLED_EVENT_TYPES: frozenset[str] = frozenset()


def skip_reason(event: ZoomEvent) -> str | None:
    """Why this event is skipped, or None when a handler processes it."""
    if event.event in HANDLED_EVENT_TYPES:
        return None
    return f"no handler for event type {event.event!r} yet"


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_strip_nul(item) for item in value]
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    return value


def payload_json(body: bytes) -> str:
    """The body as JSON text for a jsonb column (which cannot hold NUL characters)."""
    text = body.decode("utf-8")
    if "\\u0000" in text:
        return json.dumps(_strip_nul(json.loads(text)), ensure_ascii=False)
    return text


def to_log_row(envelope: RawWebhookEnvelope, processed_at: datetime) -> WebhookLogRow:
    """The log row of one delivery. Raises InvalidZoomEvent when the body is not a Zoom webhook."""
    event = parse_zoom_event(envelope.body)
    reason = skip_reason(event)
    return WebhookLogRow(
        webhook_id=envelope.webhook_id,
        event_type=event.event[:50],
        event_timestamp=event_time(event, envelope.received_at),
        zoom_meeting_id=(event.meeting_id or "")[:20],
        zoom_meeting_uuid=(event.meeting_uuid or "")[:100],
        payload=payload_json(envelope.body),
        headers=json.dumps(envelope.headers),
        processing_status="skipped" if reason else "completed",
        processed_at=processed_at,
        processing_attempts=1,
        last_attempt_at=processed_at,
        error_message=reason or "",
        error_traceback="",
        attendance_records_created=0,
        received_at=envelope.received_at,
    )


class Delivery:
    """One consumed message: where it came from and its raw bytes."""

    __slots__ = ("offset", "partition", "topic", "value")

    def __init__(self, topic: str, partition: int, offset: int, value: bytes) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.value = value


def decode(delivery: Delivery) -> RawWebhookEnvelope:
    """The envelope of a message; raises pydantic's ValidationError when it is not one."""
    return RawWebhookEnvelope.model_validate_json(delivery.value)
