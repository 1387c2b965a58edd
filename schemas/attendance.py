"""`zoom.attendance`: one person's attendance of one meeting occurrence (key: occurrence|person)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AttendanceSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    join_time: datetime
    leave_time: datetime | None = Field(description="None while the session is open")
    closed_by: str | None = Field(description="left, meeting_end, or None while open")
    duration_seconds: int | None


class AttendanceRecord(BaseModel):
    """Value of `zoom.attendance`, sent whenever a summary changes. Keep the highest `version`
    per key: a record can be delivered again after a restart or a replay."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    zoom_meeting_uuid: str
    zoom_meeting_id: str
    event_uuid: str | None = Field(description="The platform event, when matched")
    person_key: str = Field(
        description="registrant:<id>, email:<address>, zoom:<user id>, customer:<key> or session:<id> for a guest"
    )
    registration_uuid: str | None = Field(
        description="The matched registration; None: unmatched, kept"
    )
    registrant_id: str | None
    email: str | None
    name: str
    first_join: datetime
    last_leave: datetime | None
    total_seconds: int = Field(description="Present, overlapping sessions merged")
    session_count: int
    attended: bool
    threshold_seconds: int
    version: int
    sessions: list[AttendanceSession]

    @property
    def key(self) -> str:
        return f"{self.zoom_meeting_uuid}|{self.person_key}"
