"""Zoom webhook payloads, parsed leniently: unknown fields are ignored, drifting types normalised.

See shared research: meeting ids are strings or numbers, `event_ts` is milliseconds or absent,
and empty strings stand for missing values.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas._types import (
    EventTimestamp,
    MeetingId,
    OptionalDate,
    OptionalText,
    OptionalTime,
    blank_to_none,
    meeting_id_text,
)

URL_VALIDATION = "endpoint.url_validation"


class _Lenient(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Participant(_Lenient):
    user_id: OptionalText = Field(default=None, description="Per meeting; changes on rejoin.")
    user_name: OptionalText = None
    id: OptionalText = Field(default=None, description="Zoom user id when signed in, else empty.")
    participant_user_id: OptionalText = None
    participant_uuid: OptionalText = None
    email: OptionalText = None
    registrant_id: OptionalText = None
    customer_key: OptionalText = None
    join_time: OptionalTime = None
    leave_time: OptionalTime = None
    date_time: OptionalTime = Field(default=None, description="Waiting-room events carry this.")
    leave_reason: OptionalText = None

    @field_validator("user_id", "id", "registrant_id", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return blank_to_none(value)


class MeetingObject(_Lenient):
    id: MeetingId = None
    uuid: OptionalText = None
    host_id: OptionalText = None
    topic: OptionalText = None
    type: int | None = None
    start_time: OptionalTime = None
    end_time: OptionalTime = None
    duration: int | None = Field(default=None, description="Minutes; 0 for instant meetings.")
    timezone: OptionalText = None
    participant: Participant | None = None


class RecordingFile(_Lenient):
    id: OptionalText = None
    meeting_id: OptionalText = Field(default=None, description="The meeting UUID, not the number.")
    recording_start: OptionalTime = None
    recording_end: OptionalTime = None
    file_type: OptionalText = None
    file_extension: OptionalText = None
    file_name: OptionalText = None
    file_size: int | None = None
    play_url: OptionalText = Field(default=None, description="Absent for TIMELINE files.")
    download_url: OptionalText = None
    status: OptionalText = None
    recording_type: OptionalText = None


class RecordingObject(_Lenient):
    id: MeetingId = None
    uuid: OptionalText = None
    host_id: OptionalText = None
    host_email: OptionalText = None
    topic: OptionalText = None
    type: int | None = None
    start_time: OptionalTime = None
    timezone: OptionalText = None
    duration: int | None = Field(default=None, description="Recorded minutes.")
    total_size: int | None = None
    recording_count: int | None = None
    share_url: OptionalText = None
    password: OptionalText = None
    recording_play_passcode: OptionalText = None
    auto_delete: bool | None = Field(
        default=None, description="Zoom deletes the recording on auto_delete_date."
    )
    auto_delete_date: OptionalDate = Field(
        default=None, description="A date (YYYY-MM-DD), sent with auto_delete true."
    )
    recording_files: list[RecordingFile] = Field(default_factory=list)


class ZoomPayload(_Lenient):
    account_id: OptionalText = None
    object: dict[str, Any] = Field(default_factory=dict)
    plainToken: OptionalText = None
    operator: OptionalText = None
    operator_id: OptionalText = None


class _ObjectId(_Lenient):
    """Of `payload.object`, only its id: any JSON object is one, as for `dict[str, Any]`."""

    id: Any = None


class _HeadPayload(_Lenient):
    object: _ObjectId = Field(default_factory=_ObjectId)
    plainToken: OptionalText = None


class _Named(_Lenient):
    event: str = Field(min_length=1)


class ZoomEventHead(_Named):
    """What ingest reads of a body, per request: the event's name and Zoom's challenge token
    (for the answer) and the meeting id (the Kafka key); nothing else is built.

    It refuses what is no webhook at all, as ZoomEvent does: not JSON, not an object, no event
    name, a payload or `payload.object` that is not an object. A field of another type than
    the worker reads (say `event_ts: "soon"`) is the worker's to find, which parks that
    webhook with the reason."""

    payload: _HeadPayload = Field(default_factory=_HeadPayload)

    @property
    def meeting_id(self) -> str | None:
        """`payload.object.id` as text, as ZoomEvent.meeting_id gives it."""
        return meeting_id_or_none(self.payload.object.id)


class ZoomEvent(_Named):
    """The common envelope of every Zoom webhook body."""

    event_ts: EventTimestamp = None
    payload: ZoomPayload = Field(default_factory=ZoomPayload)
    download_token: OptionalText = None

    @property
    def meeting_id(self) -> str | None:
        """`payload.object.id` as text, whatever type Zoom sent."""
        return meeting_id_or_none(self.payload.object.get("id"))

    @property
    def meeting_uuid(self) -> str | None:
        value = blank_to_none(self.payload.object.get("uuid"))
        return value if isinstance(value, str) else None

    @cached_property
    def meeting(self) -> MeetingObject:
        """The object of a meeting or webinar event (parsed once per event)."""
        return MeetingObject.model_validate(self.payload.object)

    @cached_property
    def recording(self) -> RecordingObject:
        """The object of a recording event (parsed once per event)."""
        return RecordingObject.model_validate(self.payload.object)


_Parsed = TypeVar("_Parsed", bound=_Named)


class InvalidZoomEvent(ValueError):
    """The body is not a Zoom webhook: not JSON, not an object, or without an event name."""


def meeting_id_or_none(value: Any) -> str | None:
    """A meeting id as text, or None when absent or not a plausible id."""
    try:
        text = meeting_id_text(value)
    except ValueError:
        return None
    return text if isinstance(text, str) else None


def parse_zoom_event(body: bytes) -> ZoomEvent:
    """Parse a raw body into a ZoomEvent, or raise InvalidZoomEvent saying why."""
    return _parse(ZoomEvent, body)


def parse_zoom_head(body: bytes) -> ZoomEventHead:
    """The head of a raw body (ingest's per-request parse), or InvalidZoomEvent saying why,
    in the words parse_zoom_event would use."""
    return _parse(ZoomEventHead, body)


def _parse(model: type[_Parsed], body: bytes) -> _Parsed:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidZoomEvent(f"{where}: {first['msg']}") from exc


def event_time(event: ZoomEvent, received_at: datetime) -> datetime:
    """When the event happened: `event_ts`, or the receive time when Zoom sent none."""
    return event.event_ts or received_at
