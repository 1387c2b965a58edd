"""`zoom.recordings`: the current state of one recording with its files (compacted, key: recording id)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RecordingStatus = Literal["processing", "available", "expired", "deleted", "error", "trashed"]


class RecordingFileState(BaseModel):
    model_config = ConfigDict(frozen=True)

    zoom_file_id: str
    file_type: str = Field(
        description="video, audio, chat, transcript, timeline, cc, summary, or Zoom's own type lower-cased"
    )
    zoom_file_type: str = Field(description="The file type exactly as Zoom sent it")
    recording_type: str
    file_extension: str
    file_size_bytes: int
    processing_status: str = Field(description="Zoom's status: completed or processing")
    recording_start: datetime | None
    recording_end: datetime | None


class RecordingState(BaseModel):
    """Value of `zoom.recordings`. No URL, token or password: subscribers get those through the
    recording API, where access is checked."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    zoom_recording_id: str = Field(description="The meeting occurrence's UUID; the message key")
    recording_uuid: str = Field(description="zoomstream's own id of the recording (API paths)")
    event_uuid: str = Field(description="The platform event the recording belongs to")
    zoom_meeting_id: str
    topic: str
    status: RecordingStatus
    recording_start: datetime
    recording_end: datetime
    duration_seconds: int
    total_size_bytes: int
    is_published: bool
    version: int = Field(description="Grows with every change: a consumer keeps the highest it saw")
    updated_at: datetime
    files: list[RecordingFileState]
