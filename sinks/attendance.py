"""Attendance tables: meetings, participant facts, identities, and the sessions and summaries.

Rows go in and out as plain tuples and dicts; the stream layer owns their meaning. Reads select
whole occurrences or some of their people; nothing reads an occurrence whole unless asked to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from schemas.registration import LIVE_STATUS
from schemas.rows import MeetingRow

UPSERT_MEETING = """
INSERT INTO zoom_meetings AS m (zoom_meeting_uuid, zoom_meeting_id, event_id, topic, is_webinar,
                                start_time, end_time, first_join, last_leave)
VALUES (%(uuid)s::text, %(meeting_id)s::text,
        zoomstream_match_event(%(meeting_id)s::text, %(uuid)s::text), %(topic)s::text,
        %(is_webinar)s::boolean, %(start_time)s::timestamptz, %(end_time)s::timestamptz,
        %(first_join)s::timestamptz, %(last_leave)s::timestamptz)
ON CONFLICT (zoom_meeting_uuid) DO UPDATE SET
    zoom_meeting_id = CASE WHEN m.zoom_meeting_id = '' THEN EXCLUDED.zoom_meeting_id ELSE m.zoom_meeting_id END,
    event_id = COALESCE(m.event_id, EXCLUDED.event_id),
    topic = GREATEST(m.topic, EXCLUDED.topic),
    is_webinar = m.is_webinar OR EXCLUDED.is_webinar,
    start_time = LEAST(m.start_time, EXCLUDED.start_time),
    end_time = GREATEST(m.end_time, EXCLUDED.end_time),
    first_join = LEAST(m.first_join, EXCLUDED.first_join),
    last_leave = GREATEST(m.last_leave, EXCLUDED.last_leave),
    updated_at = now()
"""


_MEETING_FIELDS = tuple(f.name for f in fields(MeetingRow))


async def upsert_meetings(conn: AsyncConnection, meetings: Sequence[MeetingRow]) -> None:
    """Record what events say of their occurrences (times combine: earliest start and join,
    latest end and leave); in the order given, which should be the occurrences' order."""
    if meetings:
        params = [{name: getattr(row, name) for name in _MEETING_FIELDS} for row in meetings]
        async with conn.cursor() as cur:
            await cur.executemany(UPSERT_MEETING, params)


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

Registration = tuple[int, str, str | None, str]
"""(id, uuid, zoom_registrant_id, lower(email)) of a registration."""


@dataclass(frozen=True)
class OccurrenceRow:
    meeting_id: str
    event_id: int | None
    start_time: datetime | None
    end_time: datetime | None
    first_join: datetime | None
    last_leave: datetime | None
    applied_threshold: int | None
    """The threshold the occurrence's summaries were all last brought to."""
    applied_end: datetime | None
    """The end its open sessions were all last closed at."""
    settled_at: datetime | None
    """When all its people were last brought up to date."""
    settle_due: bool
    """Some of its people have an older threshold or end than the others."""
    people_indexed: bool
    """Its identities are in attendance_identities (false for occurrences of before 0008)."""


async def occurrences(
    conn: AsyncConnection, meeting_uuids: Sequence[str]
) -> dict[str, OccurrenceRow]:
    """The occurrences already recorded, locked in the order of their uuids."""
    cur = await conn.execute(
        "SELECT zoom_meeting_uuid, zoom_meeting_id, event_id, start_time, end_time, first_join,"
        " last_leave, applied_threshold, applied_end, settled_at, settle_due, people_indexed"
        " FROM zoom_meetings WHERE zoom_meeting_uuid = ANY(%b) ORDER BY zoom_meeting_uuid"
        " FOR UPDATE",
        (list(meeting_uuids),),
    )
    return {str(r[0]): OccurrenceRow(str(r[1]), *r[2:]) for r in await cur.fetchall()}


def _pairs(pairs: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [a for a, _ in pairs], [b for _, b in pairs]


async def _by_occurrence(
    conn: AsyncConnection,
    columns: str,
    source: str,
    whole: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    pair_join: str,
    suffix: str = "",
) -> dict[str, list[dict[str, Any]]]:
    """Rows of `source` (alias t) for whole occurrences and for (occurrence, value) pairs joined
    as `pair_join` says, as two statements: one with an OR would read the whole table."""
    found: dict[str, list[dict[str, Any]]] = {}
    async with conn.cursor(row_factory=dict_row) as cur:
        if whole:
            await cur.execute(
                f"SELECT t.zoom_meeting_uuid, {columns} FROM {source} t"
                f" WHERE t.zoom_meeting_uuid = ANY(%b) ORDER BY t.zoom_meeting_uuid{suffix}",
                (list(whole),),
            )
            for row in await cur.fetchall():
                found.setdefault(row.pop("zoom_meeting_uuid"), []).append(row)
        if pairs:
            await cur.execute(
                f"SELECT t.zoom_meeting_uuid, {columns} FROM {source} t"
                " JOIN unnest(%b::text[], %b::text[]) AS p(uuid, value)"
                f" ON t.zoom_meeting_uuid = p.uuid AND {pair_join}"
                f" ORDER BY t.zoom_meeting_uuid{suffix}",
                _pairs(pairs),
            )
            for row in await cur.fetchall():
                found.setdefault(row.pop("zoom_meeting_uuid"), []).append(row)
    return found


async def identities(
    conn: AsyncConnection, whole: Sequence[str], nodes: Sequence[tuple[str, str]]
) -> dict[str, dict[str, str]]:
    """Identity → person key: every one of the `whole` occurrences, and every one of the people
    any of `nodes` (occurrence, identity) belongs to."""
    people: list[tuple[str, str]] = []
    if nodes:
        cur = await conn.execute(
            "SELECT DISTINCT i.zoom_meeting_uuid, i.person_key FROM attendance_identities i"
            " JOIN unnest(%b::text[], %b::text[]) AS n(uuid, identity)"
            "   ON i.zoom_meeting_uuid = n.uuid AND i.identity = n.identity",
            _pairs(nodes),
        )
        people = [(str(r[0]), str(r[1])) for r in await cur.fetchall()]
    rows = await _by_occurrence(
        conn,
        "t.identity, t.person_key",
        "attendance_identities",
        whole,
        people,
        "t.person_key = p.value",
    )
    return {uuid: {r["identity"]: r["person_key"] for r in found} for uuid, found in rows.items()}


async def facts(
    conn: AsyncConnection, whole: Sequence[str], sessions: Sequence[tuple[str, str]]
) -> dict[str, list[dict[str, Any]]]:
    """The facts of the `whole` occurrences and of the (occurrence, session id) pairs."""
    return await _by_occurrence(
        conn,
        ", ".join(f"t.{c}" for c in FACT_COLUMNS),
        "zoom_participant_facts",
        whole,
        sessions,
        "t.session_id = p.value",
    )


async def stored(
    conn: AsyncConnection,
    table: str,
    columns: Sequence[str],
    whole: Sequence[str],
    people: Sequence[tuple[str, str]],
) -> dict[str, list[dict[str, Any]]]:
    """The rows of `table` of the `whole` occurrences and of the (occurrence, person key) pairs,
    locked for update in the order of the occurrences."""
    return await _by_occurrence(
        conn,
        ", ".join(f"t.{c}" for c in columns),
        table,
        whole,
        people,
        "t.person_key = p.value",
        " FOR UPDATE OF t",
    )


async def registrations(
    conn: AsyncConnection,
    event_ids: Sequence[int],
    registrant_ids: Sequence[str],
    emails: Sequence[str],
) -> dict[int, list[Registration]]:
    """The events' registrations that count (`schemas.registration`) and have one of the
    registrant ids or (lower-cased) emails, by event id."""
    found: dict[int, list[Registration]] = {event_id: [] for event_id in event_ids}
    cur = await conn.execute(
        "SELECT event_id, id, uuid::text, zoom_registrant_id, lower(email) FROM registrations"
        " WHERE event_id = ANY(%b) AND (zoom_registrant_id = ANY(%b) OR lower(email) = ANY(%b))"
        " AND status = %s ORDER BY id",
        (list(event_ids), list(registrant_ids), list(emails), LIVE_STATUS),
    )
    for r in await cur.fetchall():
        found[int(r[0])].append((int(r[1]), str(r[2]), r[3], str(r[4])))
    return found


async def upsert_identities(conn: AsyncConnection, rows: Sequence[tuple[str, str, str]]) -> None:
    """(occurrence, identity, person key) in one statement."""
    if rows:
        await conn.execute(
            "INSERT INTO attendance_identities (zoom_meeting_uuid, identity, person_key)"
            " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[])"
            " ON CONFLICT (zoom_meeting_uuid, identity) DO UPDATE SET person_key = EXCLUDED.person_key,"
            " updated_at = now() WHERE attendance_identities.person_key <> EXCLUDED.person_key",
            ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
        )


@dataclass(frozen=True)
class Applied:
    """What an update leaves an occurrence at."""

    meeting_uuid: str
    settled: bool
    """All its people were brought up to date: the threshold and end below are theirs."""
    threshold: int
    end: datetime | None
    settle_due: bool
    """Some of its people still have an older threshold or end."""


async def mark_applied(conn: AsyncConnection, rows: Sequence[Applied], now: datetime) -> None:
    """Record how far the occurrences' people are up to date."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "UPDATE zoom_meetings SET settle_due = %(due)s,"
            " applied_threshold = CASE WHEN %(settled)s THEN %(threshold)s ELSE applied_threshold END,"
            " applied_end = CASE WHEN %(settled)s THEN %(end)s::timestamptz ELSE applied_end END,"
            " settled_at = CASE WHEN %(settled)s THEN %(now)s ELSE settled_at END,"
            " people_indexed = people_indexed OR %(settled)s"
            " WHERE zoom_meeting_uuid = %(uuid)s",
            [
                {
                    "uuid": r.meeting_uuid,
                    "settled": r.settled,
                    "threshold": r.threshold,
                    "end": r.end,
                    "due": r.settle_due,
                    "now": now,
                }
                for r in rows
            ],
        )


async def settle_due(conn: AsyncConnection, before: datetime | None, limit: int) -> list[str]:
    """Occurrences some of whose people are behind (or never indexed), last brought up to date
    before `before` (any time when None), oldest first."""
    cur = await conn.execute(
        "SELECT zoom_meeting_uuid FROM zoom_meetings WHERE (settle_due OR NOT people_indexed)"
        " AND (%(before)s::timestamptz IS NULL OR settled_at IS NULL OR settled_at < %(before)s)"
        " ORDER BY settled_at NULLS FIRST LIMIT %(limit)s",
        {"before": before, "limit": limit},
    )
    return [str(r[0]) for r in await cur.fetchall()]


RowChanges = tuple[str, Sequence[dict[str, Any]], Sequence[dict[str, Any]]]
"""(occurrence, rows to upsert, rows to delete)."""


COLUMN_TYPES = {
    "join_time": "timestamptz",
    "leave_time": "timestamptz",
    "first_join": "timestamptz",
    "last_leave": "timestamptz",
    "duration_seconds": "integer",
    "total_seconds": "integer",
    "session_count": "integer",
    "threshold_seconds": "integer",
    "event_id": "bigint",
    "registration_id": "bigint",
    "attended": "boolean",
}
"""Types of the session and summary columns that are not text, for their arrays."""


def _arrays(names: Sequence[str]) -> str:
    # Arrays go in binary (%b) throughout this module: psycopg dumps a list of 500 rows about
    # four times faster so than as text, which escapes every element in Python.
    return ", ".join(f"%b::{COLUMN_TYPES.get(name, 'text')}[]" for name in names)


async def replace_rows(
    conn: AsyncConnection,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    changes: Sequence[RowChanges],
    versioned: bool = False,
) -> None:
    """Upsert changed rows by their natural key and delete the ones that no longer exist, for
    every occurrence given, in one statement of each kind (one array per column).

    `versioned` tables count their changes in a `version` column."""
    upserts = [(uuid, row) for uuid, rows, _ in changes for row in rows]
    deletes = [(uuid, row) for uuid, _, rows in changes for row in rows]
    if upserts:
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
        extra = ", version = t.version + 1" if versioned else ""
        await conn.execute(
            f"INSERT INTO {table} AS t (zoom_meeting_uuid, {', '.join(columns)})"
            f" SELECT * FROM unnest(%b::text[], {_arrays(columns)})"
            f" ON CONFLICT (zoom_meeting_uuid, {', '.join(keys)})"
            f" DO UPDATE SET {updates}{extra}, updated_at = now()",
            [[uuid for uuid, _ in upserts], *([row[c] for _, row in upserts] for c in columns)],
        )
    if deletes:
        condition = " AND ".join(f"t.{k} = d.{k}" for k in keys)
        await conn.execute(
            f"DELETE FROM {table} t USING unnest(%b::text[], {_arrays(keys)})"
            f" AS d(zoom_meeting_uuid, {', '.join(keys)})"
            f" WHERE t.zoom_meeting_uuid = d.zoom_meeting_uuid AND {condition}",
            [[uuid for uuid, _ in deletes], *([row[k] for _, row in deletes] for k in keys)],
        )


async def versions(
    conn: AsyncConnection, people: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str | None, str | None]]:
    """(occurrence, person key) → (version, event uuid, registration uuid) of the summaries."""
    cur = await conn.execute(
        "SELECT s.zoom_meeting_uuid, s.person_key, s.version, e.uuid::text, r.uuid::text"
        " FROM attendance_summaries s"
        " JOIN unnest(%b::text[], %b::text[]) AS p(uuid, person_key)"
        "   ON s.zoom_meeting_uuid = p.uuid AND s.person_key = p.person_key"
        " LEFT JOIN events e ON e.id = s.event_id LEFT JOIN registrations r ON r.id = s.registration_id",
        ([uuid for uuid, _ in people], [key for _, key in people]),
    )
    return {(row[0], row[1]): (int(row[2]), row[3], row[4]) for row in await cur.fetchall()}


async def sync_attended(conn: AsyncConnection, candidates: Sequence[int]) -> None:
    """Make registrations.attended follow the summaries for the registrations named.

    Set when the registration counts (`schemas.registration`) and any of its summaries is
    attended (and remembered in attendance_flags); set back to false only where zoomstream set
    it and no summary is attended any more, or the registration no longer counts.
    """
    if not candidates:
        return
    params = {"ids": sorted(set(candidates)), "live": LIVE_STATUS}
    await conn.execute(
        "WITH reached AS ("
        "  UPDATE registrations r SET attended = true, updated_at = now()"
        "   WHERE r.id = ANY(%(ids)b) AND NOT r.attended AND r.status = %(live)s AND EXISTS ("
        "     SELECT 1 FROM attendance_summaries s WHERE s.registration_id = r.id AND s.attended)"
        "  RETURNING r.id)"
        " INSERT INTO attendance_flags (registration_id) SELECT id FROM reached ON CONFLICT DO NOTHING",
        params,
    )
    await conn.execute(
        "WITH withdrawn AS ("
        "  DELETE FROM attendance_flags f WHERE f.registration_id = ANY(%(ids)b) AND ("
        "    NOT EXISTS (SELECT 1 FROM attendance_summaries s"
        "                 WHERE s.registration_id = f.registration_id AND s.attended)"
        "    OR NOT EXISTS (SELECT 1 FROM registrations r"
        "                    WHERE r.id = f.registration_id AND r.status = %(live)s))"
        "  RETURNING f.registration_id)"
        " UPDATE registrations SET attended = false, updated_at = now()"
        " WHERE id IN (SELECT registration_id FROM withdrawn)",
        params,
    )
