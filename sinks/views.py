"""recording_views, the recordings' counters and the LMS's content_progress, from view state.

Every value written is absolute (the state after the events), never an increment, so writing
the same state twice, after a crash or a replay, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

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


async def write(
    conn: AsyncConnection, viewers: Sequence[dict[str, Any]], counters: Sequence[dict[str, Any]]
) -> None:
    """One batch of states, in the caller's transaction."""
    async with conn.cursor() as cur:
        if viewers:
            await cur.executemany(UPSERT_VIEW, viewers)
            await cur.executemany(SYNC_CONTENT, viewers)
        if counters:
            await cur.executemany(SET_COUNTERS, counters)
