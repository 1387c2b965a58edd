"""What the recording API tells Kafka: views and progress (`recordings.view-events`, keyed by the
recording's uuid) and publication changes (`zoom.recordings`). A request is answered only once
Kafka has its message; otherwise 503, which rolls back the request's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from ingest.publisher import Publisher, PublishError
from ingest.recording_api.common import ApiError
from ingest.recording_api.viewer import Viewer
from schemas.recording import RecordingState
from schemas.recording_api import ProgressBeacon
from schemas.settings import Settings
from schemas.topics import RECORDING_VIEWS, ZOOM_RECORDINGS
from schemas.view_event import RecordingViewEvent


class Announcer:
    def __init__(
        self, settings: Settings, publisher: Publisher, clock: Callable[[], float]
    ) -> None:
        self._publisher = publisher
        self._clock = clock
        self._views_topic = settings.topic(RECORDING_VIEWS)
        self._recordings_topic = settings.topic(ZOOM_RECORDINGS)

    async def view(
        self,
        row: dict[str, Any],
        viewer: Viewer,
        kind: Literal["view", "progress"],
        beacon: ProgressBeacon | None,
    ) -> UUID:
        """A view or progress beacon of `row`, stamped with the server's receive time."""
        event = RecordingViewEvent(
            view_id=uuid.uuid4(),
            kind=kind,
            recording_id=row["id"],
            recording_uuid=row["uuid"],
            event_id=row["event_id"],
            registration_id=viewer.registration_id,
            duration_seconds=row["duration_seconds"],
            received_at=datetime.fromtimestamp(self._clock(), tz=UTC),
            position_seconds=None if beacon is None else beacon.position_seconds,
            watch_seconds=None if beacon is None else beacon.watch_seconds,
            beacon_id=None if beacon is None else beacon.beacon_id,
        )
        await self._send(self._views_topic, str(row["uuid"]), event.model_dump_json())
        return event.view_id

    async def recording_state(self, state: RecordingState) -> None:
        """The recording's state after a publication change, for subscribers of zoom.recordings."""
        await self._send(self._recordings_topic, state.zoom_recording_id, state.model_dump_json())

    async def _send(self, topic: str, key: str, value: str) -> None:
        try:
            await self._publisher.publish(topic, key.encode(), value.encode())
        except PublishError as exc:
            raise ApiError(503, f"not stored, retry later: {exc}") from exc
