"""`recordings.view-events`: a view of a recording, or a player's progress beacon."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class RecordingViewEvent(BaseModel):
    """Value of `recordings.view-events` (key: the recording's uuid, so that one recording's
    events, and so each viewer's, are counted in order on one partition)."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    view_id: UUID = Field(description="This accepted request's id")
    kind: Literal["view", "progress"]
    recording_id: int
    recording_uuid: UUID
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
