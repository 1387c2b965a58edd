"""Recording webhooks applied in the batch's transaction: match, upsert, park, un-park.

The pure rules live in streams.recordings.rules; this module is the shell that reads what they need
from PostgreSQL and hands their records to the sink.
"""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncConnection

from schemas import ZoomEvent, parse_zoom_event
from schemas.recording import RecordingState
from sinks import recordings as sink
from sinks import webhook_log
from streams.recordings.rules import (
    LIFECYCLE_EVENTS,
    occurrence_uuid,
    recording_status,
    to_recording,
    transcript_files,
)
from streams.webhooks.outcome import Outcome


async def on_completed(
    conn: AsyncConnection, event: ZoomEvent, occurred_at: datetime, now: datetime
) -> Outcome:
    record = to_recording(event, occurred_at)
    matched = await sink.match_event(conn, record.zoom_meeting_id, record.zoom_meeting_uuid)
    if matched is None:
        return Outcome("skipped", f"no event found for meeting {record.zoom_meeting_id}")
    recording_id, _created = await sink.upsert_recording(conn, record, matched)
    await sink.upsert_files(conn, recording_id, record.files)
    unparked = await _apply_parked(conn, record.zoom_meeting_uuid, recording_id, now)
    return Outcome(
        "completed",
        records_changed=1 + len(record.files) + unparked,
        publish=frozenset({recording_id}),
    )


async def on_follow_up(
    conn: AsyncConnection, event: ZoomEvent, occurred_at: datetime, now: datetime
) -> Outcome:
    """transcript_completed, trashed, deleted, recovered: applied to the recording, or parked
    until it arrives (defect 13): the log row stays `pending`, marked `parked`, and is completed
    when the recording lands."""
    uuid = occurrence_uuid(event)
    recording_id = await sink.find_recording(conn, uuid)
    if recording_id is None:
        if await sink.match_event(conn, event.meeting_id or "", uuid) is None:
            return Outcome("skipped", f"no event found for meeting {event.meeting_id}")
        return Outcome("pending", f"parked: waiting for recording {uuid}", parked=True)
    changed = await _apply(conn, event, occurred_at, recording_id)
    return Outcome("completed", records_changed=changed, publish=frozenset({recording_id}))


async def _apply(
    conn: AsyncConnection, event: ZoomEvent, occurred_at: datetime, recording_id: int
) -> int:
    if event.event == "recording.transcript_completed":
        files = transcript_files(event, occurred_at)
        await sink.upsert_files(conn, recording_id, files)
        return len(files)
    await sink.set_lifecycle(conn, recording_id, LIFECYCLE_EVENTS[event.event], occurred_at)
    return 1


async def _apply_parked(
    conn: AsyncConnection, meeting_uuid: str, recording_id: int, now: datetime
) -> int:
    parked = await webhook_log.parked(conn, meeting_uuid)
    changed = 0
    for _webhook_id, payload, occurred_at in parked:
        changed += await _apply(conn, parse_zoom_event(payload.encode()), occurred_at, recording_id)
    await webhook_log.complete_parked(conn, [row[0] for row in parked], now)
    return changed


async def refresh(conn: AsyncConnection, recording_id: int, now: datetime) -> RecordingState:
    """Recompute the recording's status from its lifecycle, files and Zoom's deletion date at
    `now` (and publish it when that makes it available and it is to be published
    automatically); its state to publish."""
    lifecycle, files, expires_at = await sink.status_inputs(conn, recording_id)
    await sink.set_status(conn, recording_id, recording_status(lifecycle, files, expires_at, now))
    await sink.auto_publish(conn, recording_id, None)
    return await sink.current_state(conn, recording_id)


HANDLERS = {
    "recording.completed": on_completed,
    "recording.transcript_completed": on_follow_up,
    "recording.trashed": on_follow_up,
    "recording.deleted": on_follow_up,
    "recording.recovered": on_follow_up,
}


EXPIRE_BATCH = 100
"""Recordings marked expired at most per call of `expire`."""


async def expire(conn: AsyncConnection, now: datetime) -> list[RecordingState]:
    """Mark expired the recordings whose Zoom deletion date has come (between two of their
    webhooks, nothing else would); their states to publish."""
    return [
        await refresh(conn, recording_id, now)
        for recording_id in await sink.expiring(conn, now, EXPIRE_BATCH)
    ]
