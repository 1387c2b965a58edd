"""Pure: what updating some people of one occurrence writes and publishes.

The people are given by all of their facts (a set closed under `rules.groups`: every person
any of the facts belongs to, with all of that person's facts); `Stored` is what the tables hold
for the same people. The plan holds only what differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.attendance import (
    AttendanceChange,
    AttendanceRecord,
    AttendanceRemoved,
    AttendanceSession,
)
from sinks.attendance import SESSION_COLUMNS, SUMMARY_COLUMNS, Registration
from streams.attendance.rules import Fact, Session, Summary, groups, sessions, summaries

Row = dict[str, Any]


@dataclass(frozen=True)
class Stored:
    """What the tables hold of the people an update touches."""

    identities: Mapping[str, str]
    """Identity → person key."""
    sessions: Sequence[Row]
    summaries: Sequence[Row]


@dataclass(frozen=True)
class Plan:
    """One occurrence's update of some of its people: what it writes and what it publishes."""

    meeting_uuid: str
    meeting_id: str
    sessions: list[Session]
    summary_rows: list[Row]
    session_upserts: list[Row]
    session_deletes: list[Row]
    summary_upserts: list[Row]
    summary_deletes: list[Row]
    identity_upserts: list[tuple[str, str]]
    """(identity, person key) that are new or moved to another person."""
    registration_ids: list[int]
    """Registrations whose `attended` may change: before and after."""

    @property
    def changed_people(self) -> set[str]:
        return {r["person_key"] for r in self.summary_upserts} | {
            r["person_key"] for r in self.session_upserts
        }


def plan_people(
    meeting_uuid: str,
    meeting_id: str,
    event_id: int | None,
    facts: Sequence[Fact],
    stored: Stored,
    registrations: Sequence[Registration],
    threshold: int,
    meeting_end: datetime | None,
) -> Plan:
    """The people's sessions and summaries from their facts, against what is stored."""
    grouped = groups(facts)
    all_sessions = sessions(facts, meeting_end, grouped)
    session_rows = [{c: getattr(s, c) for c in SESSION_COLUMNS} for s in all_sessions]
    summary_rows = [
        _summary_row(summary, meeting_id, event_id, registrations)
        for summary in summaries(all_sessions, threshold)
    ]
    session_upserts, session_deletes = _diff(
        stored.sessions, session_rows, ("session_id", "join_time")
    )
    summary_upserts, summary_deletes = _diff(stored.summaries, summary_rows, ("person_key",))
    identity_upserts = sorted(
        (node, key) for node, key in grouped.items() if stored.identities.get(node) != key
    )
    return Plan(
        meeting_uuid,
        meeting_id,
        all_sessions,
        summary_rows,
        session_upserts,
        session_deletes,
        summary_upserts,
        summary_deletes,
        identity_upserts,
        [r["registration_id"] for r in [*stored.summaries, *summary_rows] if r["registration_id"]],
    )


def _summary_row(
    summary: Summary, meeting_id: str, event_id: int | None, registrations: Sequence[Registration]
) -> Row:
    row = {c: getattr(summary, c) for c in SUMMARY_COLUMNS if hasattr(summary, c)}
    row.update(
        zoom_meeting_id=meeting_id,
        event_id=event_id,
        registration_id=_registration(summary, registrations),
    )
    return row


def _registration(summary: Summary, registrations: Sequence[Registration]) -> int | None:
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
    old: Sequence[Row], new: Sequence[Row], keys: Sequence[str]
) -> tuple[list[Row], list[Row]]:
    def key(row: Row) -> tuple[Any, ...]:
        return tuple(row[k] for k in keys)

    before = {key(row): row for row in old}
    after = {key(row): row for row in new}
    upserts = [row for k, row in after.items() if before.get(k) != row]
    deletes = [row for k, row in before.items() if k not in after]
    return upserts, deletes


Versions = Mapping[tuple[str, str], tuple[int, str | None, str | None]]
"""(occurrence, person key) → (version, event uuid, registration uuid) of stored summaries."""


def records(plan: Plan, known: Versions) -> list[AttendanceChange]:
    """The changed summaries as published records, with their stored versions, and the person
    keys that are gone (their summaries deleted: another key holds those people now)."""
    people = plan.changed_people
    found: list[AttendanceChange] = [
        AttendanceRemoved(plan.meeting_uuid, row["person_key"]) for row in plan.summary_deletes
    ]
    own: dict[str, list[Session]] = {}
    for session in plan.sessions:
        if session.person_key in people:
            own.setdefault(session.person_key, []).append(session)
    for row in plan.summary_rows:
        key = (plan.meeting_uuid, row["person_key"])
        if row["person_key"] not in people or key not in known:
            continue
        version, event_uuid, registration_uuid = known[key]
        found.append(
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
                    for s in sorted(own.get(row["person_key"], []), key=lambda s: s.join_time)
                ],
            )
        )
    return found
