"""The recording API's bodies (requests and answers). No URL, token or password appears in a
model that someone without access can receive: those are only in `RecordingAccess`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from schemas.columns import AccessPassword, Description, Fits, ThumbnailUrl, Title
from schemas.recording import RecordingStatus

AccessLevel = Literal["registrants", "attendees", "certificate_holders", "public"]


class RecordingSettingsUpdate(BaseModel):
    """PUT /api/recordings/{uuid}/: only the fields given change. Each string must fit its
    column (`Fits`): refused past the width or with a NUL, never cut."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: Annotated[str, Fits(Title)] | None = Field(
        default=None, description='"" shows the event\'s title'
    )
    description: Annotated[str, Fits(Description)] | None = None
    thumbnail_url: Annotated[HttpUrl | Literal[""], Fits(ThumbnailUrl)] | None = Field(
        default=None, description='An http(s) URL, at most the width once normalised; "" removes it'
    )
    access_level: AccessLevel | None = None
    access_password: Annotated[str, Fits(AccessPassword)] | None = Field(
        default=None,
        description='Sets the platform password (kept only as a hash); "" removes it',
    )
    auto_publish: bool | None = None


class ProgressBeacon(BaseModel):
    """POST /api/recordings/{uuid}/progress/."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position_seconds: float = Field(ge=0, le=7 * 24 * 3600)
    watch_seconds: float = Field(ge=0, le=24 * 3600, description="Watched since the last beacon")
    beacon_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Lets a retried POST count once"
    )


class RecordingFileInfo(BaseModel):
    uuid: UUID
    file_type: str
    recording_type: str
    file_extension: str
    file_size_bytes: int
    recording_start: datetime | None
    recording_end: datetime | None


class RecordingSummary(BaseModel):
    uuid: UUID
    event_uuid: UUID
    title: str
    description: str
    thumbnail_url: str
    status: RecordingStatus = Field(
        description="expired: Zoom deleted it on its auto-delete date (expires_at); it serves no"
        " links, its views and progress stay"
    )
    expires_at: datetime | None = Field(
        description="When Zoom deletes the recording (its auto-delete date); None: never"
    )
    access_level: AccessLevel
    requires_password: bool
    is_published: bool
    recording_start: datetime
    recording_end: datetime
    duration_seconds: int
    can_access: bool = Field(
        description="Whether the caller may open it (a password may still be asked)"
    )


class RecordingDetail(RecordingSummary):
    files: list[RecordingFileInfo]


class FileAccess(BaseModel):
    uuid: UUID
    file_type: str
    recording_type: str
    url: str
    download_token: str | None = Field(
        description="Zoom's token for this file's download URL while it is valid: the token of"
        " the webhook that brought the file (a transcript's is its own), or one fetched from"
        " Zoom's API with a fresh URL once that has run out"
    )
    download_token_expires_at: datetime | None


class UnavailableFile(BaseModel):
    """A file whose link cannot be served now, and why (its download token ran out and Zoom's
    API is not configured, failed, or no longer lists the file)."""

    uuid: UUID
    file_type: str
    recording_type: str
    reason: str


class RecordingAccess(BaseModel):
    uuid: UUID
    files: list[FileAccess] = Field(description="Every file with a link that works now")
    unavailable: list[UnavailableFile] = Field(
        default_factory=list, description="Files left out, each with the reason"
    )
    share_url: str
    zoom_password: str
    download_token: str | None = Field(
        description="Zoom's token for download URLs while it is valid"
    )
    download_token_expires_at: datetime | None


class RecordingAnalytics(RecordingSummary):
    view_count: int
    unique_viewers: int
    completions: int
    completion_rate: float = Field(description="Completions per unique viewer, 0 without viewers")
    average_watch_seconds: float
    published_at: datetime | None
    auto_publish: bool


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    view_id: UUID


class Publication(BaseModel):
    uuid: UUID
    is_published: bool
    published_at: datetime | None


class ErrorBody(BaseModel):
    error: str
    fields: list[dict[str, object]] | None = None
