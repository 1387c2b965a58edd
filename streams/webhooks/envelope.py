"""A raw Zoom delivery's envelope, and its body as jsonb text: pure, no I/O."""

from __future__ import annotations

import json
from typing import Any

from schemas import RawWebhookEnvelope
from streams.runtime.delivery import Delivery


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


def decode(delivery: Delivery) -> RawWebhookEnvelope:
    """The envelope of a message; raises pydantic's ValidationError when it is not one."""
    return RawWebhookEnvelope.model_validate_json(delivery.value)
