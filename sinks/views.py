"""recording_views, the recordings' counters and the LMS's content_progress, from view state.

Every value written is absolute (the state after the events), never an increment, so writing
the same state twice, after a crash or a replay, changes nothing. States name their recording by
its uuid, which a rebuild keeps (migration 0013); its id is looked up at each write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

# Locked against deletion (not against updates) until the batch commits: a row written for a
# recording cannot lose it before the commit.
RECORDINGS = """
SELECT uuid, id FROM zoom_recordings WHERE uuid = ANY(%(uuids)s) FOR KEY SHARE
"""

UPSERT_VIEW = """
INSERT INTO recording_views AS v (recording_id, registration_id, view_count, first_viewed_at,
    last_viewed_at, total_watch_seconds, max_position_seconds, completed, completed_at,
    watch_seconds_exact)
VALUES (%(recording_id)s, %(registration_id)s, %(views)s, %(first_seen_at)s, %(last_seen_at)s,
    %(total_watch_seconds)s, %(max_position)s, %(completed)s, %(completed_at)s, %(watch_seconds)s)
ON CONFLICT (recording_id, registration_id) DO UPDATE SET
    view_count = EXCLUDED.view_count,
    first_viewed_at = EXCLUDED.first_viewed_at,
    last_viewed_at = EXCLUDED.last_viewed_at,
    total_watch_seconds = EXCLUDED.total_watch_seconds,
    max_position_seconds = EXCLUDED.max_position_seconds,
    completed = EXCLUDED.completed,
    completed_at = EXCLUDED.completed_at,
    watch_seconds_exact = EXCLUDED.watch_seconds_exact,
    updated_at = now()
"""

# The LMS's progress of each module content linked to the recording. Progress the platform
# recorded itself is never lowered: times and positions take the greater value, and a
# completed content stays completed.
SYNC_CONTENT = """
INSERT INTO content_progress AS p (registration_id, content_id, status, total_time_seconds,
    video_progress_seconds, video_completed, completed_at)
SELECT %(registration_id)s, c.id,
       CASE WHEN %(completed)s THEN 'completed' WHEN %(total_watch_seconds)s > 0 THEN 'in_progress'
            ELSE 'not_started' END,
       %(total_watch_seconds)s, %(max_position)s, %(completed)s, %(completed_at)s
  FROM module_contents c
 WHERE c.zoom_recording_id = %(recording_id)s AND c.event_id = %(event_id)s
ON CONFLICT (registration_id, content_id) DO UPDATE SET
    total_time_seconds = GREATEST(p.total_time_seconds, EXCLUDED.total_time_seconds),
    video_progress_seconds = GREATEST(p.video_progress_seconds, EXCLUDED.video_progress_seconds),
    video_completed = p.video_completed OR EXCLUDED.video_completed,
    status = CASE WHEN p.status = 'completed' OR EXCLUDED.status = 'completed' THEN 'completed'
                  WHEN EXCLUDED.status = 'in_progress' THEN 'in_progress' ELSE p.status END,
    completed_at = COALESCE(p.completed_at, EXCLUDED.completed_at),
    updated_at = now()
"""

SET_COUNTERS = """
UPDATE zoom_recordings SET view_count = %(view_count)s, unique_viewers = %(unique_viewers)s,
    updated_at = now()
 WHERE id = %(recording_id)s
   AND (view_count, unique_viewers) IS DISTINCT FROM (%(view_count)s, %(unique_viewers)s)
"""

# What zoom_recordings' counters are copies of: kept through a wipe of zoom_recordings, and
# copied back into the row when it is inserted again (migration 0013).
KEEP_COUNTERS = """
INSERT INTO recording_view_counters AS c (recording_uuid, view_count, unique_viewers)
VALUES (%(recording_uuid)s, %(view_count)s, %(unique_viewers)s)
ON CONFLICT (recording_uuid) DO UPDATE SET
    view_count = EXCLUDED.view_count,
    unique_viewers = EXCLUDED.unique_viewers,
    updated_at = now()
 WHERE (c.view_count, c.unique_viewers) IS DISTINCT FROM (EXCLUDED.view_count,
    EXCLUDED.unique_viewers)
"""


class RecordingMissing(LookupError):
    """States of a recording that does not exist (deleted): nothing of the batch is written."""

    def __init__(self, uuids: Sequence[UUID]) -> None:
        super().__init__(f"recording {', '.join(map(str, uuids))} does not exist")
        self.uuids = uuids


async def write(
    conn: AsyncConnection, viewers: Sequence[dict[str, Any]], counters: Sequence[dict[str, Any]]
) -> None:
    """One batch of states, in the caller's transaction; each names its recording by
    `recording_uuid`. RecordingMissing when one of the recordings does not exist."""
    async with conn.cursor() as cur:
        wanted = sorted({row["recording_uuid"] for row in [*viewers, *counters]}, key=str)
        if not wanted:
            return
        await cur.execute(RECORDINGS, {"uuids": wanted})
        ids = {found: recording_id for found, recording_id in await cur.fetchall()}
        missing = [recording for recording in wanted if recording not in ids]
        if missing:
            raise RecordingMissing(missing)
        if viewers:
            rows = [{**row, "recording_id": ids[row["recording_uuid"]]} for row in viewers]
            await cur.executemany(UPSERT_VIEW, rows)
            await cur.executemany(SYNC_CONTENT, rows)
        if counters:
            totals = [{**total, "recording_id": ids[total["recording_uuid"]]} for total in counters]
            await cur.executemany(SET_COUNTERS, totals)
            await cur.executemany(KEEP_COUNTERS, totals)
