"""The recording API's reads and the organizer's writes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from schemas.registration import LIVE_STATUS

RECORDING = """
SELECT r.id, r.uuid, r.zoom_meeting_uuid, r.zoom_recording_id, e.uuid AS event_uuid, e.id AS event_id, e.organizer_id,
       COALESCE(NULLIF(r.title, ''), e.title) AS title, r.description, r.thumbnail_url,
       -- streams.recordings.rules.recording_status's expiry, at the time of the read: the worker
       -- stores it within a minute (streams.recordings.handler.expire), a read never lags it
       CASE WHEN r.zoom_expires_at <= now() AND r.status NOT IN ('trashed', 'deleted')
            THEN 'expired' ELSE r.status END AS status, r.zoom_expires_at AS expires_at,
       r.access_level, r.access_password_hash <> '' AS requires_password, r.access_password_hash,
       r.is_published, r.published_at, r.auto_publish, r.recording_start, r.recording_end,
       r.duration_seconds, r.share_url, r.zoom_password, r.download_token,
       r.download_token_expires_at, r.view_count, r.unique_viewers
  FROM zoom_recordings r JOIN events e ON e.id = r.event_id
"""


async def _all(conn: AsyncConnection, sql: str, params: Any) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def _one(conn: AsyncConnection, sql: str, params: Any) -> dict[str, Any] | None:
    rows = await _all(conn, sql, params)
    return rows[0] if rows else None


async def recording(conn: AsyncConnection, recording_uuid: UUID) -> dict[str, Any] | None:
    """The recording, unless it or its event is not there (an event soft-deleted: 404)."""
    return await _one(
        conn, RECORDING + " WHERE r.uuid = %s AND e.deleted_at IS NULL", (recording_uuid,)
    )


async def event(conn: AsyncConnection, event_uuid: UUID) -> dict[str, Any] | None:
    return await _one(
        conn,
        "SELECT id, uuid, organizer_id, title FROM events WHERE uuid = %s AND deleted_at IS NULL",
        (event_uuid,),
    )


async def user_id(conn: AsyncConnection, user_uuid: UUID) -> int | None:
    row = await _one(conn, "SELECT id FROM users WHERE uuid = %s", (user_uuid,))
    return None if row is None else int(row["id"])


async def registration(conn: AsyncConnection, event_id: int, user: int) -> dict[str, Any] | None:
    """The user's registration for the event: one that counts first, else the newest."""
    return await _one(
        conn,
        "SELECT id, status, attended, certificate_issued FROM registrations"
        " WHERE event_id = %s AND user_id = %s ORDER BY status = %s DESC, id DESC LIMIT 1",
        (event_id, user, LIVE_STATUS),
    )


async def event_recordings(conn: AsyncConnection, event_id: int) -> list[dict[str, Any]]:
    return await _all(
        conn, RECORDING + " WHERE r.event_id = %s ORDER BY r.recording_start DESC", (event_id,)
    )


async def files(conn: AsyncConnection, recording_id: int) -> list[dict[str, Any]]:
    return await _all(
        conn,
        "SELECT uuid, zoom_file_id, file_type, recording_type, file_extension, file_size_bytes,"
        " recording_start, recording_end, storage_url, play_url, share_url, download_url,"
        " download_token, download_token_expires_at"
        " FROM zoom_recording_files WHERE recording_id = %s AND is_visible"
        " AND processing_status = 'completed' ORDER BY file_type, recording_type, zoom_file_id",
        (recording_id,),
    )


async def engagement(conn: AsyncConnection, event_id: int) -> dict[int, dict[str, Any]]:
    """Completions and average watch time per recording of the event."""
    rows = await _all(
        conn,
        "SELECT v.recording_id, count(*) FILTER (WHERE v.completed) AS completions,"
        " COALESCE(avg(v.watch_seconds_exact), 0) AS average_watch_seconds"
        " FROM recording_views v JOIN zoom_recordings r ON r.id = v.recording_id"
        " WHERE r.event_id = %s GROUP BY v.recording_id",
        (event_id,),
    )
    return {int(row["recording_id"]): row for row in rows}


async def update_settings(
    conn: AsyncConnection, recording_id: int, changes: dict[str, Any]
) -> None:
    if not changes:
        return
    assignments = ", ".join(f"{column} = %({column})s" for column in changes)
    await conn.execute(
        f"UPDATE zoom_recordings SET {assignments}, updated_at = now() WHERE id = %(id)s",
        {**changes, "id": recording_id},
    )


async def set_published(conn: AsyncConnection, recording_id: int, published: bool) -> bool:
    """Publish or unpublish; True when it changed (the version grows for zoom.recordings)."""
    cur = await conn.execute(
        "UPDATE zoom_recordings SET is_published = %(p)s, version = version + 1,"
        " published_at = CASE WHEN %(p)s THEN now() ELSE published_at END,"
        " updated_at = now() WHERE id = %(id)s AND is_published <> %(p)s",
        {"p": published, "id": recording_id},
    )
    return cur.rowcount == 1
