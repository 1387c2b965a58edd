"""`recordings.view-events`: a view of a recording, or a player's progress beacon."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class RecordingViewEvent(BaseModel):
    """Value of `recordings.view-events` (key: the recording's uuid, so that one recording's
    events, and so each viewer's, are counted in order on one partition). The recording is
    named by `recording_uuid` and the viewer by `registration_id`: both outlive a rebuild of
    the derived tables, so events read again after one still count where they did."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    view_id: UUID = Field(description="This accepted request's id")
    kind: Literal["view", "progress"]
    recording_id: int = Field(
        description="The recording's zoom_recordings.id when the request came; the worker names"
        " recordings by recording_uuid and reads this only to find state counted under it"
    )
    recording_uuid: UUID = Field(
        description="The recording's zoom_recordings.uuid: what the worker counts by"
    )
    event_id: int = Field(description="The platform event of the recording")
    registration_id: int | None = Field(
        description="None for an anonymous view of a public recording"
    )
    duration_seconds: int = Field(description="The recording's duration when the request came")
    received_at: datetime = Field(description="Server time: bounds the watch time between beacons")
    position_seconds: float | None = None
    watch_seconds: float | None = Field(
        default=None, description="Watched since the last beacon, as the player says"
    )
    beacon_id: str | None = Field(
        default=None, description="The player's id of the beacon: a retried POST counts once"
    )
