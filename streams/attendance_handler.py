"""Meeting and participant webhooks applied in the batch's transaction.

Each webhook stores its fact, then the occurrence's sessions and summaries are recomputed from
all its facts (streams.attendance) and only the rows that changed are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from schemas import ZoomEvent
from schemas.attendance import AttendanceRecord, AttendanceSession
from sinks import attendance as sink
from streams.attendance import (
    PARTICIPANT_EVENTS,
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


def _fact_row(fact: Fact) -> dict[str, Any]:
    return {name: getattr(fact, name) for name in sink.FACT_COLUMNS}  # not asdict: it deep-copies


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
    new = await sink.insert_fact(conn, meeting["uuid"], fact.key, _fact_row(fact))
    return Outcome("completed", records_changed=int(new), recompute=frozenset({meeting["uuid"]}))


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
            fact = to_fact(event) if event.event in PARTICIPANT_EVENTS else None
            prepared.append((meeting, fact))
        except AttendanceEventError as exc:
            prepared.append(exc)
    meetings = {
        tuple(entry[0].items()): entry[0] for entry in prepared if not isinstance(entry, Exception)
    }
    await sink.upsert_meetings(conn, list(meetings.values()))
    facts = [
        (meeting["uuid"], fact.key, _fact_row(fact))
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


async def recompute_occurrences(
    conn: AsyncConnection, meeting_uuids: Sequence[str], min_fraction: float
) -> tuple[AttendanceRecord, ...]:
    """Sessions and summaries of the occurrences from all their facts, in a few statements for
    all of them (a round trip per occurrence was most of a batch's time); the records that
    changed. Occurrences not recorded yet are skipped."""
    rows = await sink.meetings(conn, meeting_uuids)
    uuids = [uuid for uuid in meeting_uuids if uuid in rows]
    if not uuids:
        return ()
    facts = await sink.facts(conn, uuids)
    event_ids = sorted({event_id for event_id, *_ in rows.values() if event_id is not None})
    registrations = await sink.registrations(conn, event_ids) if event_ids else {}
    old_sessions = await sink.existing(conn, "attendance_sessions", sink.SESSION_COLUMNS, uuids)
    old_summaries = await sink.existing(conn, "attendance_summaries", sink.SUMMARY_COLUMNS, uuids)
    plans = [
        _plan(
            uuid,
            rows[uuid],
            facts[uuid],
            registrations.get(event_id, []) if (event_id := rows[uuid][0]) is not None else [],
            old_sessions[uuid],
            old_summaries[uuid],
            min_fraction,
        )
        for uuid in uuids
    ]
    await sink.replace_rows(
        conn,
        "attendance_sessions",
        sink.SESSION_COLUMNS,
        ("session_id", "join_time"),
        [(p.meeting_uuid, p.session_upserts, p.session_deletes) for p in plans],
    )
    await sink.replace_rows(
        conn,
        "attendance_summaries",
        sink.SUMMARY_COLUMNS,
        ("person_key",),
        [(p.meeting_uuid, p.summary_upserts, p.summary_deletes) for p in plans],
        versioned=True,
    )
    await sink.sync_attended(conn, [reg for p in plans for reg in p.registration_ids])
    people = [(p.meeting_uuid, person) for p in plans for person in sorted(p.changed_people)]
    known = await sink.versions(conn, people) if people else {}
    return tuple(record for p in plans for record in _records(p, known))


def _registration(summary: Summary, registrations: Sequence[sink.Registration]) -> int | None:
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


@dataclass(frozen=True)
class _Plan:
    """One occurrence's recomputation: what it writes and what it publishes."""

    meeting_uuid: str
    meeting_id: str
    sessions: list[Session]
    summary_rows: list[dict[str, Any]]
    session_upserts: list[dict[str, Any]]
    session_deletes: list[dict[str, Any]]
    summary_upserts: list[dict[str, Any]]
    summary_deletes: list[dict[str, Any]]
    registration_ids: list[int]
    """Registrations whose `attended` may change: before and after."""

    @property
    def changed_people(self) -> set[str]:
        return {r["person_key"] for r in self.summary_upserts} | {
            r["person_key"] for r in self.session_upserts
        }


def _plan(
    meeting_uuid: str,
    meeting_row: sink.MeetingRow,
    fact_rows: list[dict[str, Any]],
    registrations: Sequence[sink.Registration],
    old_sessions: list[dict[str, Any]],
    old_summaries: list[dict[str, Any]],
    min_fraction: float,
) -> _Plan:
    """Pure: the occurrence's sessions and summaries from its facts, against what is stored."""
    event_id, start, end, meeting_id = meeting_row
    times = MeetingTimes(start, end)
    all_sessions = sessions([Fact(**row) for row in fact_rows], times)
    all_summaries = summaries(all_sessions, times, min_fraction)
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
    session_upserts, session_deletes = _diff(
        old_sessions, session_rows, ("session_id", "join_time")
    )
    summary_upserts, summary_deletes = _diff(old_summaries, summary_rows, ("person_key",))
    return _Plan(
        meeting_uuid,
        meeting_id,
        all_sessions,
        summary_rows,
        session_upserts,
        session_deletes,
        summary_upserts,
        summary_deletes,
        [r["registration_id"] for r in [*old_summaries, *summary_rows] if r["registration_id"]],
    )


def _records(
    plan: _Plan, known: Mapping[tuple[str, str], tuple[int, str | None, str | None]]
) -> list[AttendanceRecord]:
    """The changed summaries as published records, with their stored versions."""
    records = []
    people = plan.changed_people
    for row in plan.summary_rows:
        key = (plan.meeting_uuid, row["person_key"])
        if row["person_key"] not in people or key not in known:
            continue
        version, event_uuid, registration_uuid = known[key]
        own = sorted(
            (s for s in plan.sessions if s.person_key == row["person_key"]),
            key=lambda s: s.join_time,
        )
        records.append(
            AttendanceRecord(
                zoom_meeting_uuid=plan.meeting_uuid,
                zoom_meeting_id=plan.meeting_id,
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
    return records


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
