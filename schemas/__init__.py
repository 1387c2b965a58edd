"""Pydantic models: the single source of truth for every topic value and API body. No I/O."""

from schemas.dead_letter import DeadLetter
from schemas.envelope import RawWebhookEnvelope
from schemas.recording import RecordingFileState, RecordingState
from schemas.retry import RetryRequest
from schemas.zoom import (
    URL_VALIDATION,
    InvalidZoomEvent,
    MeetingObject,
    Participant,
    RecordingFile,
    RecordingObject,
    ZoomEvent,
    ZoomEventHead,
    event_time,
    parse_zoom_event,
    parse_zoom_head,
)

__all__ = [
    "URL_VALIDATION",
    "DeadLetter",
    "InvalidZoomEvent",
    "MeetingObject",
    "Participant",
    "RawWebhookEnvelope",
    "RecordingFile",
    "RecordingFileState",
    "RecordingObject",
    "RecordingState",
    "RetryRequest",
    "ZoomEvent",
    "ZoomEventHead",
    "event_time",
    "parse_zoom_event",
    "parse_zoom_head",
]
