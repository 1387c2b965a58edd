"""The JSON Schemas of every topic value, generated from the pydantic models into docs/schemas."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas import DeadLetter, RawWebhookEnvelope
from schemas.attendance import AttendanceRecord
from schemas.email_envelope import EmailWebhookEnvelope
from schemas.email_retry import EmailSendRetry
from schemas.email_send import EmailSendRequest
from schemas.recording import RecordingState
from schemas.retry import RetryRequest
from schemas.view_event import RecordingViewEvent

TOPIC_MODELS: dict[str, type[BaseModel]] = {
    "zoom.webhooks.raw": RawWebhookEnvelope,
    "zoom.webhooks.dead-letter": DeadLetter,
    "zoom.webhooks.retry": RetryRequest,
    "zoom.recordings": RecordingState,
    "zoom.attendance": AttendanceRecord,
    "email.events.raw": EmailWebhookEnvelope,
    "email.send-requests": EmailSendRequest,
    "email.send-retry": EmailSendRetry,
    "email.dead-letter": DeadLetter,
    "recordings.view-events": RecordingViewEvent,
    "recordings.view-events.dead-letter": DeadLetter,
}


def render() -> dict[str, str]:
    """File name → JSON text, one schema per topic."""
    files = {}
    for topic, model in TOPIC_MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"zoomstream:topic:{topic}"
        schema["description"] = (schema.get("description") or "").strip()
        files[f"{topic}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written
