"""Files still processing when no later webhook completed them (issue 17): the worker group's
leader asks Zoom's API about them, a bounded number of recordings per run.

A file Zoom lists as completed is marked so and the recording's status is recomputed and
published, as a webhook's change would be (`handler.refresh`). Only files quiet for
QUIET_BEFORE_CHECK are asked about (the webhook usually comes first), and one recording at most
once per RECHECK_AFTER. No transaction is open while Zoom is asked. A failing call changes
nothing: the recording is asked about again after RECHECK_AFTER (every attempt is in the external
API call log). A recording Zoom no longer has is left to its recording.deleted webhook.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from psycopg import AsyncConnection

from ingest.zoom_api import NotFound, ZoomApiError, ZoomClient
from schemas.recording import RecordingState
from sinks import Database, in_transaction
from sinks import recordings as sink
from streams.recordings.handler import refresh

log = logging.getLogger(__name__)

QUIET_BEFORE_CHECK = timedelta(hours=1)
RECHECK_AFTER = timedelta(hours=1)


async def claim_due(db: Database, now: datetime, limit: int) -> list[tuple[int, str, str]]:
    """Up to `limit` recordings to ask about now, marked asked about: (id, meeting uuid,
    zoom_recording_id)."""
    return await in_transaction(
        db,
        lambda conn: sink.processing_to_check(
            conn, now - QUIET_BEFORE_CHECK, now - RECHECK_AFTER, now, limit
        ),
    )


async def completed_files(
    client: ZoomClient, meeting_uuid: str, recording_id: str
) -> dict[str, int | None]:
    """The recording's files Zoom's API lists as completed (id → size); none when the call
    failed or Zoom no longer has the recording."""
    try:
        answer = await client.meeting_recordings(meeting_uuid, recording_id=recording_id)
    except NotFound:
        log.info("processing check: Zoom no longer has recording %s", meeting_uuid)
        return {}
    except ZoomApiError as exc:
        log.warning("processing check of recording %s failed: %s", meeting_uuid, exc)
        return {}
    return {f.id: f.file_size for f in answer.recording_files if f.id and f.status == "completed"}


async def apply_completed(
    conn: AsyncConnection, recording_id: int, completed: dict[str, int | None], now: datetime
) -> RecordingState | None:
    """Mark the files completed; the recording's recomputed state when any was still processing."""
    if not await sink.complete_files(conn, recording_id, completed):
        return None
    return await refresh(conn, recording_id, now)
