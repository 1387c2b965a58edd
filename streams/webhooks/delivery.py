"""Raw deliveries as consumed, and their bodies as jsonb text: pure, no I/O."""

from __future__ import annotations

import json
from typing import Any

from schemas import RawWebhookEnvelope


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
