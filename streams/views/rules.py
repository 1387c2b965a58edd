"""View counters and watch progress, as pure functions over per-key state.

State lives in Faust tables keyed by recording (counters) and by recording + registration
(progress); both keys' events are on the recording's partition, in offset order. A recording is
named by its uuid, the topic's key, which a rebuild of the derived tables keeps; a viewer by the
platform's registration, which no rebuild touches. Each state
remembers the last offset applied to it, so an event read again after a crash (its effect may
already be in the restored table) is skipped: the counters are exact under redelivery, restart
and replay of the same offsets.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from schemas.view_event import RecordingViewEvent

COMPLETION_FRACTION = 0.9
RECENT_BEACONS = 32


class ViewerProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    recording_uuid: UUID | None = None
    """None only in a state stored under a legacy key, until its next event."""
    registration_id: int
    event_id: int
    views: int = 0
    first_view_id: str | None = None
    first_seen_at: datetime
    last_viewed_at: datetime | None = None
    last_seen_at: datetime
    max_position_seconds: float = 0.0
    watch_seconds: float = 0.0
    completed_at: datetime | None = None
    duration_seconds: int = 0
    recent_beacons: tuple[str, ...] = ()
    applied_offset: int = -1

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


class RecordingCounters(BaseModel):
    model_config = ConfigDict(frozen=True)

    recording_uuid: UUID | None = None
    """None only in a state stored under a legacy key, until its next event."""
    view_count: int = 0
    unique_viewers: int = 0
    applied_offset: int = -1


def viewer_key(recording: UUID, registration_id: int) -> str:
    return f"{recording}|{registration_id}"


def counter_key(recording: UUID) -> str:
    return str(recording)


def legacy_viewer_key(event: RecordingViewEvent, registration_id: int) -> str:
    """Where the viewer's state was kept while tables were keyed by the recording's id, which a
    rebuild used to change: read when the uuid key has no state yet (the next write moves it)."""
    return f"{event.recording_id}|{registration_id}"


def legacy_counter_key(event: RecordingViewEvent) -> str:
    return str(event.recording_id)


def credited_watch(claimed: float, since: datetime | None, now: datetime) -> float:
    """Watched time the beacon may claim: no more than the wall-clock time since the viewer's
    previous request (spec defect 15: seeking or a forged claim cannot complete a recording).
    Without a previous request there is no clock to bound it by, so nothing is credited."""
    if since is None:
        return 0.0
    return max(0.0, min(claimed, (now - since).total_seconds()))


def apply_to_viewer(
    state: ViewerProgress | None, event: RecordingViewEvent, offset: int
) -> ViewerProgress | None:
    """The viewer's progress after the event; None for anonymous events. Unchanged (the same
    object) when the offset was applied before."""
    if event.registration_id is None:
        return None
    if state is None:
        state = ViewerProgress(
            recording_uuid=event.recording_uuid,
            registration_id=event.registration_id,
            event_id=event.event_id,
            first_seen_at=event.received_at,
            last_seen_at=event.received_at,
        )
        previous_seen = None
    else:
        if offset <= state.applied_offset:
            return state
        previous_seen = state.last_seen_at
    changes: dict[str, object] = {
        "recording_uuid": event.recording_uuid,
        "applied_offset": offset,
        "duration_seconds": event.duration_seconds,
        "first_seen_at": min(state.first_seen_at, event.received_at),
        "last_seen_at": max(state.last_seen_at, event.received_at),
    }
    if event.kind == "view":
        changes.update(
            views=state.views + 1,
            first_view_id=state.first_view_id or str(event.view_id),
            last_viewed_at=max(filter(None, (state.last_viewed_at, event.received_at))),
        )
        return state.model_copy(update=changes)
    if event.beacon_id is not None and event.beacon_id in state.recent_beacons:
        # a retried POST
        return state.model_copy(
            update={"applied_offset": offset, "recording_uuid": event.recording_uuid}
        )
    watched = state.watch_seconds + credited_watch(
        event.watch_seconds or 0.0, previous_seen, event.received_at
    )
    position = min(event.position_seconds or 0.0, float(event.duration_seconds or 0))
    completed_at = state.completed_at
    if (
        completed_at is None
        and event.duration_seconds > 0
        and watched >= COMPLETION_FRACTION * event.duration_seconds
    ):
        completed_at = event.received_at
    recent = state.recent_beacons
    if event.beacon_id is not None:
        recent = (*recent, event.beacon_id)[-RECENT_BEACONS:]
    changes.update(
        watch_seconds=watched,
        max_position_seconds=max(state.max_position_seconds, position),
        completed_at=completed_at,
        recent_beacons=recent,
    )
    return state.model_copy(update=changes)


def apply_to_counters(
    counters: RecordingCounters | None,
    viewer: ViewerProgress | None,
    event: RecordingViewEvent,
    offset: int,
) -> RecordingCounters:
    """`viewer` is the viewer's state after the event. A viewer counts as unique at their first
    view, recognised by its id, so the count does not depend on which table was restored."""
    counters = counters or RecordingCounters(recording_uuid=event.recording_uuid)
    if offset <= counters.applied_offset:
        return counters
    views, unique = counters.view_count, counters.unique_viewers
    if event.kind == "view":
        views += 1
        if viewer is not None and viewer.first_view_id == str(event.view_id):
            unique += 1
    return counters.model_copy(
        update={
            "recording_uuid": event.recording_uuid,
            "view_count": views,
            "unique_viewers": unique,
            "applied_offset": offset,
        }
    )


def counters_row(counters: RecordingCounters) -> dict[str, object]:
    """The counters' parameters (zoom_recordings, recording_view_counters)."""
    return {
        "recording_uuid": counters.recording_uuid,
        "view_count": counters.view_count,
        "unique_viewers": counters.unique_viewers,
    }


def viewer_row(state: ViewerProgress) -> dict[str, object]:
    """The recording_views / content_progress parameters of one viewer's state."""
    return {
        "recording_uuid": state.recording_uuid,
        "registration_id": state.registration_id,
        "event_id": state.event_id,
        "views": state.views,
        "first_seen_at": state.first_seen_at,
        "last_seen_at": state.last_seen_at,
        "total_watch_seconds": int(state.watch_seconds),
        "watch_seconds": state.watch_seconds,
        "max_position": int(state.max_position_seconds),
        "completed": state.completed,
        "completed_at": state.completed_at,
    }
