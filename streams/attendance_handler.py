"""Meeting and participant webhooks applied in the batch's transaction.

Each webhook stores its fact, then the occurrence's sessions and summaries are recomputed from
all its facts (streams.attendance) and only the rows that changed are written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from schemas import ZoomEvent
from schemas.attendance import AttendanceRecord, AttendanceSession
from sinks import attendance as sink
from streams.attendance import (
    AttendanceEventError,
    Fact,
    MeetingTimes,
    Session,
    Summary,
    sessions,
    summaries,
    to_fact,
)
from streams.outcome import Outcome


def _meeting(event: ZoomEvent) -> dict[str, Any]:
    uuid = event.meeting_uuid
    if not uuid:
        raise AttendanceEventError(f"{event.event} without payload.object.uuid")
    obj = event.meeting()
    return {
        "uuid": uuid[:100],
        "meeting_id": (obj.id or "")[:20],
        "topic": (obj.topic or "")[:300],
        "is_webinar": event.event.startswith("webinar."),
        "start_time": obj.start_time,
        "end_time": obj.end_time if event.event.endswith(".ended") else None,
    }


async def on_meeting(
    conn: AsyncConnection, event: ZoomEvent, _at: datetime, _now: datetime
) -> Outcome:
    """meeting.started / ended and the webinar ones: the occurrence's times; its attendance is
    recomputed at the end of the batch (an end closes the sessions still open)."""
    meeting = _meeting(event)
    await sink.upsert_meeting(conn, **meeting)
    return Outcome("completed", recompute=frozenset({meeting["uuid"]}))


async def on_participant(
    conn: AsyncConnection, event: ZoomEvent, _at: datetime, _now: datetime
) -> Outcome:
    """The participant's fact, stored once; `records_changed` says whether it was new. The
    occurrence is recomputed once per batch, however many of its webhooks the batch holds."""
    meeting = _meeting(event)
    fact = to_fact(event)
    await sink.upsert_meeting(conn, **meeting)
    new = await sink.insert_fact(conn, meeting["uuid"], fact.key, dataclasses.asdict(fact))
    return Outcome("completed", records_changed=int(new), recompute=frozenset({meeting["uuid"]}))


PARTICIPANT_TYPES = frozenset(
    {
        "meeting.participant_joined",
        "meeting.participant_left",
        "meeting.participant_joined_waiting_room",
        "webinar.participant_joined",
        "webinar.participant_left",
    }
)


async def apply_many(
    conn: AsyncConnection, events: Sequence[ZoomEvent]
) -> list[Outcome | AttendanceEventError]:
    """What `on_meeting` and `on_participant` do for each event, in three statements in all.

    An event that names no occurrence or no participant gets its error and changes nothing; the
    others are applied. A fact twice among `events` counts as new for its first event only.
    """
    prepared: list[tuple[dict[str, Any], Fact | None] | AttendanceEventError] = []
    for event in events:
        try:
            meeting = _meeting(event)
            fact = to_fact(event) if event.event in PARTICIPANT_TYPES else None
            prepared.append((meeting, fact))
        except AttendanceEventError as exc:
            prepared.append(exc)
    meetings = {
        tuple(entry[0].items()): entry[0] for entry in prepared if not isinstance(entry, Exception)
    }
    await sink.upsert_meetings(conn, list(meetings.values()))
    facts = [
        (meeting["uuid"], fact.key, {name: getattr(fact, name) for name in sink.FACT_COLUMNS})
        for meeting, fact in (entry for entry in prepared if not isinstance(entry, Exception))
        if fact is not None
    ]
    new = await sink.insert_facts(conn, facts)
    outcomes: list[Outcome | AttendanceEventError] = []
    for entry in prepared:
        if isinstance(entry, Exception):
            outcomes.append(entry)
            continue
        meeting, fact = entry
        key = None if fact is None else (meeting["uuid"], fact.key)
        created = key in new
        new.discard(key)  # the fact's later copies are not new
        outcomes.append(
            Outcome(
                "completed",
                records_changed=int(created),
                recompute=frozenset({meeting["uuid"]}),
            )
        )
    return outcomes


async def recompute_occurrence(
    conn: AsyncConnection, meeting_uuid: str, min_fraction: float
) -> tuple[AttendanceRecord, ...]:
    """Sessions and summaries of one occurrence from all its facts; the records that changed."""
    row = await sink.meeting(conn, meeting_uuid)
    if row is None:
        return ()
    return (await recompute(conn, meeting_uuid, row, min_fraction)).attendance


def _registration(
    summary: Summary, registrations: Sequence[tuple[int, str, str | None, str]]
) -> int | None:
    """By registrant id when the person has one, else by email, case-insensitively."""
    if summary.registrant_id:
        for reg_id, _uuid, registrant_id, _email in registrations:
            if registrant_id == summary.registrant_id:
                return reg_id
    if summary.email:
        for reg_id, _uuid, _registrant, email in registrations:
            if email == summary.email.lower():
                return reg_id
    return None


def _diff(
    old: list[dict[str, Any]], new: list[dict[str, Any]], keys: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[k] for k in keys)

    before = {key(row): row for row in old}
    after = {key(row): row for row in new}
    upserts = [row for k, row in after.items() if before.get(k) != row]
    deletes = [row for k, row in before.items() if k not in after]
    return upserts, deletes


async def recompute(
    conn: AsyncConnection,
    meeting_uuid: str,
    meeting_row: tuple[int | None, datetime | None, datetime | None, str],
    min_fraction: float,
) -> Outcome:
    event_id, start, end, meeting_id = meeting_row
    times = MeetingTimes(start, end)
    facts = [Fact(**row) for row in await sink.facts(conn, meeting_uuid)]
    all_sessions = sessions(facts, times)
    all_summaries = summaries(all_sessions, times, min_fraction)
    registrations = await sink.registrations(conn, event_id) if event_id is not None else []

    session_rows = [{c: getattr(s, c) for c in sink.SESSION_COLUMNS} for s in all_sessions]
    summary_rows = []
    for summary in all_summaries:
        row = {c: getattr(summary, c) for c in sink.SUMMARY_COLUMNS if hasattr(summary, c)}
        row.update(
            zoom_meeting_id=meeting_id,
            event_id=event_id,
            registration_id=_registration(summary, registrations),
        )
        summary_rows.append(row)

    old_sessions = await sink.existing(
        conn, "attendance_sessions", sink.SESSION_COLUMNS, meeting_uuid
    )
    old_summaries = await sink.existing(
        conn, "attendance_summaries", sink.SUMMARY_COLUMNS, meeting_uuid
    )
    session_upserts, session_deletes = _diff(
        old_sessions, session_rows, ("session_id", "join_time")
    )
    summary_upserts, summary_deletes = _diff(old_summaries, summary_rows, ("person_key",))
    await sink.replace_rows(
        conn,
        "attendance_sessions",
        sink.SESSION_COLUMNS,
        ("session_id", "join_time"),
        meeting_uuid,
        session_upserts,
        session_deletes,
    )
    await sink.replace_rows(
        conn,
        "attendance_summaries",
        sink.SUMMARY_COLUMNS,
        ("person_key",),
        meeting_uuid,
        summary_upserts,
        summary_deletes,
        versioned=True,
    )
    await sink.sync_attended(
        conn,
        [r["registration_id"] for r in [*old_summaries, *summary_rows] if r["registration_id"]],
    )

    changed_people = {r["person_key"] for r in summary_upserts} | {
        r["person_key"] for r in session_upserts
    }
    records = await _records(
        conn, meeting_uuid, meeting_id, all_sessions, summary_rows, changed_people
    )
    changed = (
        len(session_upserts) + len(session_deletes) + len(summary_upserts) + len(summary_deletes)
    )
    return Outcome("completed", records_changed=changed, attendance=records)


async def _records(
    conn: AsyncConnection,
    meeting_uuid: str,
    meeting_id: str,
    all_sessions: Sequence[Session],
    summary_rows: Sequence[dict[str, Any]],
    people: set[str],
) -> tuple[AttendanceRecord, ...]:
    if not people:
        return ()
    known = await sink.versions(conn, meeting_uuid, sorted(people))
    records = []
    for row in summary_rows:
        if row["person_key"] not in people or row["person_key"] not in known:
            continue
        version, event_uuid, registration_uuid = known[row["person_key"]]
        own = sorted(
            (s for s in all_sessions if s.person_key == row["person_key"]),
            key=lambda s: s.join_time,
        )
        records.append(
            AttendanceRecord(
                zoom_meeting_uuid=meeting_uuid,
                zoom_meeting_id=meeting_id,
                event_uuid=event_uuid,
                person_key=row["person_key"],
                registration_uuid=registration_uuid,
                registrant_id=row["registrant_id"],
                email=row["email"],
                name=row["name"],
                first_join=row["first_join"],
                last_leave=row["last_leave"],
                total_seconds=row["total_seconds"],
                session_count=row["session_count"],
                attended=row["attended"],
                threshold_seconds=row["threshold_seconds"],
                version=version,
                sessions=[
                    AttendanceSession(
                        join_time=s.join_time,
                        leave_time=s.leave_time,
                        closed_by=s.closed_by,
                        duration_seconds=s.duration_seconds,
                    )
                    for s in own
                ],
            )
        )
    return tuple(records)


HANDLERS: dict[str, Any] = {
    "meeting.started": on_meeting,
    "meeting.ended": on_meeting,
    "webinar.started": on_meeting,
    "webinar.ended": on_meeting,
    "meeting.participant_joined": on_participant,
    "meeting.participant_left": on_participant,
    "meeting.participant_joined_waiting_room": on_participant,
    "webinar.participant_joined": on_participant,
    "webinar.participant_left": on_participant,
}
