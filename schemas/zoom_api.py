"""Answers of Zoom's REST API that zoomstream reads, parsed leniently (unknown fields ignored).

Sources: Zoom's server-to-server OAuth ("Generate access token": `access_token`, `token_type`,
`expires_in`, `scope`) and "Get meeting recordings" (`GET /meetings/{meetingId}/recordings`).
Secrets (the access token, a recording's download token) are `SecretStr`: never in a repr.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from schemas._types import MeetingId, OptionalDate, OptionalText, OptionalTime


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AccessToken(_Answer):
    """Zoom's answer to `POST /oauth/token?grant_type=account_credentials&account_id=…`."""

    access_token: SecretStr
    token_type: str = "bearer"
    expires_in: int = Field(gt=0, description="Seconds the token lives (Zoom: 3600).")
    scope: str = ""


class ApiRecordingFile(_Answer):
    id: OptionalText = Field(default=None, description="Absent for some file types (a TIMELINE).")
    meeting_id: OptionalText = None
    recording_start: OptionalTime = None
    recording_end: OptionalTime = None
    file_type: OptionalText = None
    file_extension: OptionalText = None
    file_size: int | None = None
    play_url: OptionalText = None
    download_url: OptionalText = None
    status: OptionalText = Field(default=None, description="completed, processing, …")
    recording_type: OptionalText = None


class MeetingRecordings(_Answer):
    """Zoom's answer to `GET /meetings/{meetingUUID}/recordings`."""

    uuid: str
    id: MeetingId = None
    topic: OptionalText = None
    start_time: OptionalTime = None
    recording_files: tuple[ApiRecordingFile, ...] = ()
    download_access_token: SecretStr | None = Field(
        default=None,
        description="Present when asked for with include_fields=download_access_token.",
    )
    auto_delete: bool | None = Field(default=None, description="Present when Zoom sends it.")
    auto_delete_date: OptionalDate = Field(default=None, description="e.g. 2024-08-20")
