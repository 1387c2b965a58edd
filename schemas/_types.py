"""Field types shared by the schema modules: the normalisations that Zoom's drifting payloads need."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema


def blank_to_none(value: Any) -> Any:
    """Zoom sends "", null or nothing for the same absent field: all three become None."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def meeting_id_text(value: Any) -> Any:
    """Meeting ids come as strings in meeting events and as numbers in recording events.

    Numbers are written as plain digits (never `8.5e10`); strings are kept as sent.
    """
    if isinstance(value, bool):
        raise ValueError("a meeting id is not a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"a meeting id is a whole number, got {value!r}")
        return str(int(value))
    return blank_to_none(value)


def epoch_millis(value: Any) -> Any:
    """`event_ts` is epoch milliseconds; ISO strings are accepted too."""
    value = blank_to_none(value)
    if isinstance(value, bool):
        raise ValueError("a timestamp is not a boolean")
    if isinstance(value, (int, float)):  # a tuple: `int | float` builds a union per call
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return value


def _decode_base64(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not valid base64: {exc}") from exc
    return value


OptionalText = Annotated[str | None, BeforeValidator(blank_to_none)]
MeetingId = Annotated[str | None, BeforeValidator(meeting_id_text)]
EventTimestamp = Annotated[datetime | None, BeforeValidator(epoch_millis)]
OptionalTime = Annotated[datetime | None, BeforeValidator(blank_to_none)]
OptionalDate = Annotated[date | None, BeforeValidator(blank_to_none)]

RawBytes = Annotated[
    bytes,
    BeforeValidator(_decode_base64),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode("ascii"), return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
"""Bytes kept exactly as received, carried in JSON as standard base64."""
