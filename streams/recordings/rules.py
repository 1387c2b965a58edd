"""Recording webhooks into recording records: pure functions, time passed in, no I/O.

Rules (docs/design.md, "Recordings"):
- The recording is the meeting occurrence: its key is the occurrence UUID (`object.uuid`).
- Start and end come from the files' `recording_start`/`recording_end` (the recording object has
  no end time, defect 10), falling back to `start_time` + `duration` minutes.
- File types keep what Zoom said: known ones map to the spec's names, unknown ones become their
  own lower-cased type, never video (defect 12).
- Status: `deleted` or `trashed` when the recording's lifecycle says so; otherwise `available`
  as soon as one video file is completed (an audio-only or other secondary file still processing
  does not hold it back); with no video, as soon as one audio file is; with neither, once every
  file is; `processing` until then, and while there are no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from schemas import RecordingFile, RecordingObject, ZoomEvent
from schemas.columns import clip
from schemas.rows import FileRecord, Lifecycle, RecordingRecord
from streams.webhooks.outcome import PermanentError

KNOWN_FILE_TYPES = {
    "MP4": "video",
    "M4A": "audio",
    "CHAT": "chat",
    "TRANSCRIPT": "transcript",
    "CC": "cc",
    "TIMELINE": "timeline",
    "SUMMARY": "summary",
}
MEDIA_TYPES = ("video", "audio")
"""What makes a recording watchable, in the order it is looked for."""
TRANSCRIPT_TYPES = frozenset({"transcript", "cc"})
DOWNLOAD_TOKEN_LIFETIME = timedelta(hours=24)
LIFECYCLE_EVENTS: dict[str, Lifecycle] = {
    "recording.trashed": "trashed",
    "recording.deleted": "deleted",
    "recording.recovered": "active",
}


class RecordingEventError(PermanentError):
    """A recording webhook without what every recording needs (its occurrence UUID)."""


def file_type(zoom_type: str | None) -> str:
    if zoom_type is None:
        return "unknown"
    return KNOWN_FILE_TYPES.get(zoom_type.upper(), zoom_type.lower())


def download_token(event: ZoomEvent, occurred_at: datetime) -> tuple[str, datetime | None]:
    """The webhook's download token and when it expires (24 hours after the event)."""
    token = event.download_token or ""
    return token, occurred_at + DOWNLOAD_TOKEN_LIFETIME if token else None


def to_file(
    file: RecordingFile, occurred_at: datetime, token: str, expires: datetime | None
) -> FileRecord:
    if not file.id:
        raise RecordingEventError("a recording file without an id")
    return clip(
        FileRecord(
            zoom_file_id=file.id,
            file_type=file_type(file.file_type),
            zoom_file_type=file.file_type or "",
            recording_type=file.recording_type or "",
            file_name=file.file_name or "",
            file_extension=file.file_extension or "",
            file_size_bytes=file.file_size or 0,
            download_url=file.download_url or "",
            play_url=file.play_url or "",
            processing_status=file.status or "completed",
            recording_start=file.recording_start,
            recording_end=file.recording_end,
            source_event_at=occurred_at,
            download_token=token,
            download_token_expires_at=expires,
        )
    )


def occurrence_uuid(event: ZoomEvent) -> str:
    uuid = event.meeting_uuid
    if not uuid:
        raise RecordingEventError(f"{event.event} without payload.object.uuid")
    return uuid


def to_recording(event: ZoomEvent, occurred_at: datetime) -> RecordingRecord:
    """The recording of a `recording.completed` webhook."""
    obj = event.recording
    uuid = occurrence_uuid(event)
    token, expires = download_token(event, occurred_at)
    files = tuple(to_file(f, occurred_at, token, expires) for f in obj.recording_files)
    starts = [f.recording_start for f in files if f.recording_start]
    ends = [f.recording_end for f in files if f.recording_end]
    start = min(starts) if starts else (obj.start_time or occurred_at)
    end = max(ends) if ends else start + timedelta(minutes=obj.duration or 0)
    return clip(
        RecordingRecord(
            zoom_recording_id=uuid,
            zoom_meeting_id=obj.id or "",
            zoom_meeting_uuid=uuid,
            topic=obj.topic or "",
            recording_start=start,
            recording_end=max(end, start),
            duration_seconds=max(0, int((end - start).total_seconds())),
            total_size_bytes=obj.total_size
            if obj.total_size is not None
            else sum(f.file_size_bytes for f in files),
            zoom_password=obj.password or "",
            share_url=obj.share_url or "",
            host_email=obj.host_email or "",
            download_token=token,
            download_token_expires_at=expires,
            zoom_expires_at=zoom_expiry(obj),
            source_event_at=occurred_at,
            files=files,
        )
    )


def zoom_expiry(obj: RecordingObject) -> datetime | None:
    """When Zoom deletes the recording: the start (UTC) of its auto_delete_date, the earliest
    moment of that day, so that no link is served that may no longer work; None without one."""
    if obj.auto_delete is False or obj.auto_delete_date is None:
        return None
    return datetime.combine(obj.auto_delete_date, time(), tzinfo=UTC)


def transcript_files(event: ZoomEvent, occurred_at: datetime) -> tuple[FileRecord, ...]:
    """The transcript and closed-caption files of `recording.transcript_completed`, with the
    transcript webhook's own download token."""
    token, expires = download_token(event, occurred_at)
    files = (to_file(f, occurred_at, token, expires) for f in event.recording.recording_files)
    return tuple(f for f in files if f.file_type in TRANSCRIPT_TYPES)


def recording_status(
    lifecycle: Lifecycle,
    files: Iterable[tuple[str, str]],
    expires_at: datetime | None,
    now: datetime,
) -> str:
    """The status from the lifecycle, (file_type, processing_status) of every file and, at
    `now`, Zoom's deletion date: trashed or deleted first, then expired, then by the files."""
    if lifecycle != "active":
        return lifecycle
    if expires_at is not None and expires_at <= now:
        return "expired"
    files = list(files)
    for kind in MEDIA_TYPES:  # video first, then audio
        found = [status for file_kind, status in files if file_kind == kind]
        if found:
            return "available" if "completed" in found else "processing"
    if not files or any(status != "completed" for _kind, status in files):
        return "processing"
    return "available"
