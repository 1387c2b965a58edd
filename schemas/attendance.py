"""`zoom.attendance`: one person's attendance of one meeting occurrence (key: occurrence|person)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AttendanceSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    join_time: datetime
    leave_time: datetime | None = Field(description="None while the session is open")
    closed_by: str | None = Field(description="left, meeting_end, or None while open")
    duration_seconds: int | None


def attendance_key(zoom_meeting_uuid: str, person_key: str) -> str:
    """The key of a person's messages on `zoom.attendance`."""
    return f"{zoom_meeting_uuid}|{person_key}"


class AttendanceRecord(BaseModel):
    """Value of `zoom.attendance`, sent whenever a summary changes. Keep the highest `version`
    per key: a record can be delivered again after a restart or a replay. A null value (a
    tombstone) says the key is gone: its person turned out to be one with another key (a join
    known by email, then a webhook with their registrant id), whose record holds it all; a key
    that is gone never comes back."""

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
        return attendance_key(self.zoom_meeting_uuid, self.person_key)


@dataclass(frozen=True)
class AttendanceRemoved:
    """A person key that is gone from its occurrence: published as a tombstone."""

    zoom_meeting_uuid: str
    person_key: str

    @property
    def key(self) -> str:
        return attendance_key(self.zoom_meeting_uuid, self.person_key)


AttendanceChange = AttendanceRecord | AttendanceRemoved
"""What a committed change publishes on `zoom.attendance` for one key."""
