"""The rows the worker's rules make and the sinks write: typed, their strings annotated with
their column widths (`schemas.columns`), and clipped where they are made.

They live on the ground floor because both sides use them: the rules in `streams` make them,
the writers in `sinks`, which may import nothing of `streams`, take them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas.columns import (
    ApiOperation,
    ApiService,
    ErrorText,
    EventType,
    FileExtension,
    FileName,
    HttpMethod,
    MeetingId,
    RecordingType,
    RequestId,
    ShortCode,
    Topic,
    Traceback,
    Url,
    ZoomId,
    ZoomPassword,
)
from schemas.columns import Email as EmailText

Lifecycle = Literal["active", "trashed", "deleted"]


@dataclass(frozen=True)
class WebhookLogRow:
    """A zoom_webhook_logs row. `payload` and `headers` are JSON text, cast to jsonb on insert."""

    webhook_id: str
    event_type: EventType
    event_timestamp: datetime
    zoom_meeting_id: MeetingId
    zoom_meeting_uuid: ZoomId
    payload: str
    headers: str
    processing_status: str
    processed_at: datetime | None
    processing_attempts: int
    last_attempt_at: datetime | None
    error_message: ErrorText
    error_traceback: Traceback
    attendance_records_created: int
    received_at: datetime
    parked: bool = False
    """Pending until its recording arrives (streams.recordings.handler)."""


@dataclass(frozen=True)
class FileRecord:
    """A zoom_recording_files row, as a webhook describes the file."""

    zoom_file_id: ZoomId
    file_type: ShortCode
    zoom_file_type: ShortCode
    recording_type: RecordingType
    file_name: FileName
    file_extension: FileExtension
    file_size_bytes: int
    download_url: Url
    play_url: Url
    processing_status: ShortCode
    recording_start: datetime | None
    recording_end: datetime | None
    source_event_at: datetime
    download_token: str
    """The token of the webhook that brought the file: its download URL needs that one (a
    transcript's differs from its recording's)."""
    download_token_expires_at: datetime | None


@dataclass(frozen=True)
class RecordingRecord:
    """A zoom_recordings row, as `recording.completed` describes it, with its files."""

    zoom_recording_id: ZoomId
    zoom_meeting_id: MeetingId
    zoom_meeting_uuid: ZoomId
    topic: Topic
    recording_start: datetime
    recording_end: datetime
    duration_seconds: int
    total_size_bytes: int
    zoom_password: ZoomPassword
    share_url: Url
    host_email: EmailText
    download_token: str
    download_token_expires_at: datetime | None
    zoom_expires_at: datetime | None
    """When Zoom deletes the recording (its auto_delete_date): expired from then on."""
    source_event_at: datetime
    files: tuple[FileRecord, ...]


@dataclass(frozen=True)
class MeetingRow:
    """What events say of one meeting occurrence (a zoom_meetings row)."""

    uuid: ZoomId
    meeting_id: MeetingId
    topic: Topic
    is_webinar: bool
    start_time: datetime | None
    end_time: datetime | None
    first_join: datetime | None
    last_leave: datetime | None


@dataclass(frozen=True)
class ApiCallRow:
    """An external_api_calls row: one HTTP attempt to an external service (ingest's
    api_call_log makes it from the client's record). No secret: the URL has no query."""

    created_at: datetime
    """When the attempt ended (recorded), not when its row was written."""
    service: ApiService
    operation: ApiOperation
    method: HttpMethod
    url: Url
    status_code: int | None
    duration_ms: float
    attempt: int
    error: ErrorText | None
    request_id: RequestId | None
    meeting_uuid: ZoomId | None
    recording_id: ZoomId | None
