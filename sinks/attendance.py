"""Attendance tables: meetings, participant facts, and the recomputed sessions and summaries.

Rows go in and out as plain tuples and dicts; the stream layer owns their meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

UPSERT_MEETING = """
INSERT INTO zoom_meetings AS m (zoom_meeting_uuid, zoom_meeting_id, event_id, topic, is_webinar, start_time, end_time)
VALUES (%(uuid)s::text, %(meeting_id)s::text,
        zoomstream_match_event(%(meeting_id)s::text, %(uuid)s::text), %(topic)s::text,
        %(is_webinar)s::boolean, %(start_time)s::timestamptz, %(end_time)s::timestamptz)
ON CONFLICT (zoom_meeting_uuid) DO UPDATE SET
    zoom_meeting_id = CASE WHEN m.zoom_meeting_id = '' THEN EXCLUDED.zoom_meeting_id ELSE m.zoom_meeting_id END,
    event_id = COALESCE(m.event_id, EXCLUDED.event_id),
    topic = GREATEST(m.topic, EXCLUDED.topic),
    is_webinar = m.is_webinar OR EXCLUDED.is_webinar,
    start_time = LEAST(m.start_time, EXCLUDED.start_time),
    end_time = GREATEST(m.end_time, EXCLUDED.end_time),
    updated_at = now()
RETURNING event_id, start_time, end_time, zoom_meeting_id
"""


async def upsert_meeting(
    conn: AsyncConnection, **meeting: Any
) -> tuple[int | None, datetime | None, datetime | None, str]:
    """Record what an event says of its occurrence (times combine: earliest start, latest end)."""
    cur = await conn.execute(UPSERT_MEETING, meeting)
    row = await cur.fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


FACT_COLUMNS = (
    "kind",
    "session_id",
    "at",
    "join_time",
    "registrant_id",
    "email",
    "zoom_user_id",
    "customer_key",
    "name",
    "leave_reason",
)


async def insert_fact(
    conn: AsyncConnection, meeting_uuid: str, fact_key: str, fact: dict[str, Any]
) -> bool:
    """Store the fact; False when it was stored before."""
    cur = await conn.execute(
        f"INSERT INTO zoom_participant_facts (zoom_meeting_uuid, fact_key, {', '.join(FACT_COLUMNS)})"
        f" VALUES (%s, %s, {', '.join(['%s'] * len(FACT_COLUMNS))})"
        " ON CONFLICT (zoom_meeting_uuid, fact_key) DO NOTHING",
        (meeting_uuid, fact_key, *(fact[c] for c in FACT_COLUMNS)),
    )
    return cur.rowcount == 1


async def upsert_meetings(conn: AsyncConnection, meetings: Sequence[dict[str, Any]]) -> None:
    """`upsert_meeting` for many events at once, in their order (the times combine alike)."""
    if meetings:
        async with conn.cursor() as cur:
            await cur.executemany(UPSERT_MEETING, meetings)


_FACT_TYPES = ("text", "text", "text", "text", "timestamptz", "timestamptz") + ("text",) * 6


async def insert_facts(
    conn: AsyncConnection, facts: Sequence[tuple[str, str, dict[str, Any]]]
) -> set[tuple[str, str]]:
    """Store many (meeting uuid, fact key, fact) in one statement; the keys that were new.

    A key twice in `facts` is stored once (the later copy conflicts with the first)."""
    if not facts:
        return set()
    columns = [[uuid for uuid, _, _ in facts], [key for _, key, _ in facts]]
    columns += [[fact[c] for _, _, fact in facts] for c in FACT_COLUMNS]
    arrays = ", ".join(f"%b::{kind}[]" for kind in _FACT_TYPES)
    cur = await conn.execute(
        f"INSERT INTO zoom_participant_facts (zoom_meeting_uuid, fact_key, {', '.join(FACT_COLUMNS)})"
        f" SELECT * FROM unnest({arrays})"
        " ON CONFLICT (zoom_meeting_uuid, fact_key) DO NOTHING"
        " RETURNING zoom_meeting_uuid, fact_key",
        columns,
    )
    return {(str(row[0]), str(row[1])) for row in await cur.fetchall()}


MeetingRow = tuple[int | None, datetime | None, datetime | None, str]
"""(event id, start time, end time, Zoom meeting id) of an occurrence."""


async def meetings(conn: AsyncConnection, meeting_uuids: Sequence[str]) -> dict[str, MeetingRow]:
    """What upsert_meeting returns, for the occurrences already recorded."""
    cur = await conn.execute(
        "SELECT zoom_meeting_uuid, event_id, start_time, end_time, zoom_meeting_id"
        " FROM zoom_meetings WHERE zoom_meeting_uuid = ANY(%s)",
        (list(meeting_uuids),),
    )
    return {str(r[0]): (r[1], r[2], r[3], str(r[4])) for r in await cur.fetchall()}


async def facts(
    conn: AsyncConnection, meeting_uuids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    return await existing(conn, "zoom_participant_facts", FACT_COLUMNS, meeting_uuids, lock=False)


Registration = tuple[int, str, str | None, str]
"""(id, uuid, zoom_registrant_id, lower(email)) of a registration."""


async def registrations(
    conn: AsyncConnection, event_ids: Sequence[int]
) -> dict[int, list[Registration]]:
    """The events' registrations, by event id."""
    found: dict[int, list[Registration]] = {event_id: [] for event_id in event_ids}
    cur = await conn.execute(
        "SELECT event_id, id, uuid::text, zoom_registrant_id, lower(email) FROM registrations"
        " WHERE event_id = ANY(%s) ORDER BY id",
        (list(event_ids),),
    )
    for r in await cur.fetchall():
        found[int(r[0])].append((int(r[1]), str(r[2]), r[3], str(r[4])))
    return found


SESSION_COLUMNS = (
    "session_id",
    "join_time",
    "person_key",
    "leave_time",
    "closed_by",
    "duration_seconds",
    "leave_reason",
    "name",
    "registrant_id",
    "email",
)
SUMMARY_COLUMNS = (
    "person_key",
    "zoom_meeting_id",
    "event_id",
    "registration_id",
    "registrant_id",
    "email",
    "name",
    "first_join",
    "last_leave",
    "total_seconds",
    "session_count",
    "attended",
    "threshold_seconds",
)


async def existing(
    conn: AsyncConnection,
    table: str,
    columns: Sequence[str],
    meeting_uuids: Sequence[str],
    lock: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """The occurrences' rows of `table`, by occurrence (locked for update, in the order of the
    occurrences, unless `lock` is false)."""
    found: dict[str, list[dict[str, Any]]] = {uuid: [] for uuid in meeting_uuids}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT zoom_meeting_uuid, {', '.join(columns)} FROM {table}"
            " WHERE zoom_meeting_uuid = ANY(%s) ORDER BY zoom_meeting_uuid"
            + (" FOR UPDATE" if lock else ""),
            (list(meeting_uuids),),
        )
        for row in await cur.fetchall():
            found[row.pop("zoom_meeting_uuid")].append(row)
    return found


Changes = tuple[str, Sequence[dict[str, Any]], Sequence[dict[str, Any]]]
"""(occurrence, rows to upsert, rows to delete)."""


async def replace_rows(
    conn: AsyncConnection,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    changes: Sequence[Changes],
    versioned: bool = False,
) -> None:
    """Upsert changed rows by their natural key and delete the ones that no longer exist, for
    every occurrence given, in one statement of each kind.

    `versioned` tables count their changes in a `version` column."""
    upserts = [(uuid, *(row[c] for c in columns)) for uuid, rows, _ in changes for row in rows]
    deletes = [(uuid, *(row[k] for k in keys)) for uuid, _, rows in changes for row in rows]
    async with conn.cursor() as cur:
        if upserts:
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
            extra = ", version = t.version + 1" if versioned else ""
            await cur.executemany(
                f"INSERT INTO {table} AS t (zoom_meeting_uuid, {', '.join(columns)})"
                f" VALUES (%s, {', '.join(['%s'] * len(columns))})"
                f" ON CONFLICT (zoom_meeting_uuid, {', '.join(keys)})"
                f" DO UPDATE SET {updates}{extra}, updated_at = now()",
                upserts,
            )
        if deletes:
            condition = " AND ".join(f"{k} = %s" for k in keys)
            await cur.executemany(
                f"DELETE FROM {table} WHERE zoom_meeting_uuid = %s AND {condition}", deletes
            )


async def versions(
    conn: AsyncConnection, people: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str | None, str | None]]:
    """(occurrence, person key) → (version, event uuid, registration uuid) of the summaries."""
    cur = await conn.execute(
        "SELECT s.zoom_meeting_uuid, s.person_key, s.version, e.uuid::text, r.uuid::text"
        " FROM attendance_summaries s"
        " JOIN unnest(%s::text[], %s::text[]) AS p(uuid, person_key)"
        "   ON s.zoom_meeting_uuid = p.uuid AND s.person_key = p.person_key"
        " LEFT JOIN events e ON e.id = s.event_id LEFT JOIN registrations r ON r.id = s.registration_id",
        ([uuid for uuid, _ in people], [key for _, key in people]),
    )
    return {(row[0], row[1]): (int(row[2]), row[3], row[4]) for row in await cur.fetchall()}


async def sync_attended(conn: AsyncConnection, candidates: Sequence[int]) -> None:
    """Make registrations.attended follow the summaries for the registrations named.

    Set when any summary of the registration is attended (and remembered in attendance_flags);
    set back to false only where zoomstream set it and no summary is attended any more.
    """
    if not candidates:
        return
    ids = sorted(set(candidates))
    await conn.execute(
        "WITH reached AS ("
        "  UPDATE registrations r SET attended = true, updated_at = now()"
        "   WHERE r.id = ANY(%(ids)s) AND NOT r.attended AND EXISTS ("
        "     SELECT 1 FROM attendance_summaries s WHERE s.registration_id = r.id AND s.attended)"
        "  RETURNING r.id)"
        " INSERT INTO attendance_flags (registration_id) SELECT id FROM reached ON CONFLICT DO NOTHING",
        {"ids": ids},
    )
    await conn.execute(
        "WITH withdrawn AS ("
        "  DELETE FROM attendance_flags f WHERE f.registration_id = ANY(%(ids)s) AND NOT EXISTS ("
        "    SELECT 1 FROM attendance_summaries s WHERE s.registration_id = f.registration_id AND s.attended)"
        "  RETURNING f.registration_id)"
        " UPDATE registrations SET attended = false, updated_at = now()"
        " WHERE id IN (SELECT registration_id FROM withdrawn)",
        {"ids": ids},
    )
