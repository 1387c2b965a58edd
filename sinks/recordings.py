"""zoom_recordings and zoom_recording_files: upserts by business keys, newest event wins.

Every upsert compares the event time of the data it brings with the one a row holds, so the
rows come out the same whatever order (or how many times) the webhooks arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from schemas.recording import RecordingFileState, RecordingState
from schemas.rows import FileRecord, Lifecycle, RecordingRecord


@dataclass(frozen=True)
class MatchedEvent:
    id: int
    uuid: str
    auto_publish_recordings: bool


async def match_event(
    conn: AsyncConnection, meeting_id: str, meeting_uuid: str
) -> MatchedEvent | None:
    cur = await conn.execute(
        "SELECT id, uuid::text, auto_publish_recordings FROM events"
        " WHERE id = zoomstream_match_event(%s, %s)",
        (meeting_id, meeting_uuid),
    )
    row = await cur.fetchone()
    return None if row is None else MatchedEvent(row[0], row[1], row[2])


UPSERT_RECORDING = """
INSERT INTO zoom_recordings AS r (
    event_id, zoom_meeting_id, zoom_meeting_uuid, zoom_recording_id, topic, recording_start,
    recording_end, duration_seconds, total_size_bytes, zoom_password, share_url, host_email,
    download_token, download_token_expires_at, zoom_expires_at, source_event_at, auto_publish
) VALUES (
    %(event_id)s, %(zoom_meeting_id)s, %(zoom_meeting_uuid)s, %(zoom_recording_id)s, %(topic)s,
    %(recording_start)s, %(recording_end)s, %(duration_seconds)s, %(total_size_bytes)s,
    %(zoom_password)s, %(share_url)s, %(host_email)s, %(download_token)s,
    %(download_token_expires_at)s, %(zoom_expires_at)s, %(source_event_at)s, %(auto_publish)s
)
ON CONFLICT (zoom_recording_id) DO UPDATE SET
    zoom_meeting_id = EXCLUDED.zoom_meeting_id,
    topic = EXCLUDED.topic,
    recording_start = EXCLUDED.recording_start,
    recording_end = EXCLUDED.recording_end,
    duration_seconds = EXCLUDED.duration_seconds,
    total_size_bytes = EXCLUDED.total_size_bytes,
    zoom_password = EXCLUDED.zoom_password,
    share_url = EXCLUDED.share_url,
    host_email = EXCLUDED.host_email,
    download_token = EXCLUDED.download_token,
    download_token_expires_at = EXCLUDED.download_token_expires_at,
    zoom_expires_at = EXCLUDED.zoom_expires_at,
    source_event_at = EXCLUDED.source_event_at,
    version = r.version + 1,
    updated_at = now()
    -- auto_publish is set on creation only (the organizer may change it); publication is
    -- `auto_publish`'s, below, or the organizer's: a redelivery or a replay never publishes
    -- again what the organizer unpublished (defect 11).
WHERE (EXCLUDED.source_event_at, EXCLUDED.download_token) >= (r.source_event_at, r.download_token)
RETURNING id, (xmax = 0) AS created
"""


async def upsert_recording(
    conn: AsyncConnection, record: RecordingRecord, event: MatchedEvent
) -> tuple[int, bool]:
    """The recording's id, and whether this call created it."""
    params = {
        **{k: v for k, v in record.__dict__.items() if k != "files"},
        "event_id": event.id,
        "auto_publish": event.auto_publish_recordings,
    }
    cur = await conn.execute(UPSERT_RECORDING, params)
    row = await cur.fetchone()
    if row is not None:
        return int(row[0]), bool(row[1])
    found = await find_recording(conn, record.zoom_recording_id)
    assert found is not None, "the conflicting row exists"
    return found, False


async def find_recording(conn: AsyncConnection, zoom_recording_id: str) -> int | None:
    cur = await conn.execute(
        "SELECT id FROM zoom_recordings WHERE zoom_recording_id = %s FOR UPDATE",
        (zoom_recording_id,),
    )
    row = await cur.fetchone()
    return None if row is None else int(row[0])


UPSERT_FILE = """
INSERT INTO zoom_recording_files AS f (
    recording_id, zoom_file_id, file_type, zoom_file_type, recording_type, file_name,
    file_extension, file_size_bytes, download_url, play_url, processing_status,
    recording_start, recording_end, source_event_at, download_token, download_token_expires_at
) VALUES (
    %(recording_id)s, %(zoom_file_id)s, %(file_type)s, %(zoom_file_type)s, %(recording_type)s,
    %(file_name)s, %(file_extension)s, %(file_size_bytes)s, %(download_url)s, %(play_url)s,
    %(processing_status)s, %(recording_start)s, %(recording_end)s, %(source_event_at)s,
    %(download_token)s, %(download_token_expires_at)s
)
ON CONFLICT (recording_id, zoom_file_id) DO UPDATE SET
    file_type = EXCLUDED.file_type,
    zoom_file_type = EXCLUDED.zoom_file_type,
    recording_type = EXCLUDED.recording_type,
    file_name = EXCLUDED.file_name,
    file_extension = EXCLUDED.file_extension,
    file_size_bytes = EXCLUDED.file_size_bytes,
    download_url = EXCLUDED.download_url,
    play_url = EXCLUDED.play_url,
    processing_status = EXCLUDED.processing_status,
    recording_start = EXCLUDED.recording_start,
    recording_end = EXCLUDED.recording_end,
    source_event_at = EXCLUDED.source_event_at,
    download_token = EXCLUDED.download_token,
    download_token_expires_at = EXCLUDED.download_token_expires_at,
    updated_at = now()
WHERE (EXCLUDED.source_event_at, EXCLUDED.download_url, EXCLUDED.download_token)
   >= (f.source_event_at, f.download_url, f.download_token)
"""


async def upsert_files(
    conn: AsyncConnection, recording_id: int, files: Sequence[FileRecord]
) -> None:
    if not files:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            UPSERT_FILE, [{**f.__dict__, "recording_id": recording_id} for f in files]
        )


async def set_lifecycle(
    conn: AsyncConnection, recording_id: int, lifecycle: Lifecycle, at: datetime
) -> None:
    """Apply a trash, delete or recover that is newer than the last one applied."""
    await conn.execute(
        "UPDATE zoom_recordings SET lifecycle = %s, lifecycle_changed_at = %s,"
        " version = version + 1, updated_at = now()"
        " WHERE id = %s AND (lifecycle_changed_at IS NULL OR lifecycle_changed_at < %s)",
        (lifecycle, at, recording_id, at),
    )


async def status_inputs(
    conn: AsyncConnection, recording_id: int
) -> tuple[Lifecycle, list[tuple[str, str]], datetime | None]:
    """The recording's lifecycle, the (file_type, processing_status) of its files and when
    Zoom deletes it."""
    cur = await conn.execute(
        "SELECT lifecycle, zoom_expires_at FROM zoom_recordings WHERE id = %s", (recording_id,)
    )
    row = await cur.fetchone()
    assert row is not None
    cur = await conn.execute(
        "SELECT file_type, processing_status FROM zoom_recording_files WHERE recording_id = %s",
        (recording_id,),
    )
    return row[0], [(str(kind), str(status)) for kind, status in await cur.fetchall()], row[1]


async def expiring(conn: AsyncConnection, now: datetime, limit: int) -> list[int]:
    """Recordings whose Zoom deletion date has come and that are not marked expired (or
    trashed or deleted) yet, soonest first, locked; others' locked ones are skipped."""
    cur = await conn.execute(
        "SELECT id FROM zoom_recordings WHERE zoom_expires_at <= %s"
        " AND status NOT IN ('expired', 'trashed', 'deleted')"
        " ORDER BY zoom_expires_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (now, limit),
    )
    return [int(row[0]) for row in await cur.fetchall()]


async def processing_to_check(
    conn: AsyncConnection,
    quiet_since: datetime,
    checked_before: datetime,
    now: datetime,
    limit: int,
) -> list[tuple[int, str, str]]:
    """Up to `limit` recordings with a file still processing whose last webhook came before
    `quiet_since`, not asked about since `checked_before`: marked asked about at `now` and
    returned as (id, Zoom's meeting uuid, zoom_recording_id), those asked about longest ago
    first."""
    cur = await conn.execute(
        "UPDATE zoom_recordings SET zoom_checked_at = %(now)s WHERE id IN ("
        " SELECT r.id FROM zoom_recordings r"
        " WHERE r.id IN (SELECT f.recording_id FROM zoom_recording_files f"
        "   WHERE f.processing_status = 'processing' AND f.source_event_at < %(quiet)s)"
        " AND r.lifecycle = 'active'"
        " AND (r.zoom_checked_at IS NULL OR r.zoom_checked_at < %(checked)s)"
        " ORDER BY r.zoom_checked_at NULLS FIRST, r.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
        " RETURNING id, zoom_meeting_uuid, zoom_recording_id",
        {"now": now, "quiet": quiet_since, "checked": checked_before, "limit": limit},
    )
    return [(int(row[0]), str(row[1]), str(row[2])) for row in await cur.fetchall()]


async def complete_files(
    conn: AsyncConnection, recording_id: int, completed: dict[str, int | None]
) -> int:
    """Mark completed the recording's files still processing that Zoom's API lists as completed
    (`completed`: Zoom's file id → its size, when given); how many changed."""
    if not completed:
        return 0
    async with conn.cursor() as cur:
        await cur.executemany(
            "UPDATE zoom_recording_files SET processing_status = 'completed',"
            " file_size_bytes = COALESCE(%s, file_size_bytes), updated_at = now()"
            " WHERE recording_id = %s AND zoom_file_id = %s AND processing_status = 'processing'",
            [(size, recording_id, file_id) for file_id, size in completed.items()],
            returning=False,
        )
        return cur.rowcount


async def auto_publish(conn: AsyncConnection, recording_id: int, at: datetime | None) -> bool:
    """Publish the recording if its `auto_publish` is on, it is available and it was never
    published (by this or by the organizer: an unpublished one stays so); True when it did.
    `at` is the publication time; None: the time of the recording's webhook, so that a rebuild
    gives the same row."""
    cur = await conn.execute(
        "UPDATE zoom_recordings SET is_published = true,"
        " published_at = COALESCE(%s::timestamptz, source_event_at),"
        " version = version + 1, updated_at = now()"
        " WHERE id = %s AND auto_publish AND status = 'available' AND published_at IS NULL"
        " AND NOT is_published",
        (at, recording_id),
    )
    return cur.rowcount > 0


async def set_status(conn: AsyncConnection, recording_id: int, status: str) -> None:
    await conn.execute(
        "UPDATE zoom_recordings SET status = %s, version = version + 1, updated_at = now()"
        " WHERE id = %s AND status <> %s",
        (status, recording_id, status),
    )


async def current_state(conn: AsyncConnection, recording_id: int) -> RecordingState:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT r.zoom_recording_id, r.uuid::text AS recording_uuid, e.uuid::text AS event_uuid,"
            " r.zoom_meeting_id, r.topic, r.status, r.recording_start, r.recording_end,"
            " r.duration_seconds, r.total_size_bytes, r.is_published, r.version, r.updated_at"
            " FROM zoom_recordings r JOIN events e ON e.id = r.event_id WHERE r.id = %s",
            (recording_id,),
        )
        recording = await cur.fetchone()
        await cur.execute(
            "SELECT zoom_file_id, file_type, zoom_file_type, recording_type, file_extension,"
            " file_size_bytes, processing_status, recording_start, recording_end"
            " FROM zoom_recording_files WHERE recording_id = %s ORDER BY zoom_file_id",
            (recording_id,),
        )
        files = await cur.fetchall()
    assert recording is not None
    return RecordingState(**recording, files=[RecordingFileState(**f) for f in files])
