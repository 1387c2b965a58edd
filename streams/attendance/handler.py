"""Meeting and participant webhooks applied in the batch's transaction, person by person.

A batch's facts are stored in one statement; the people its new facts touch are found through
`attendance_identities`, recomputed from their own facts (`streams.attendance.rules`), and only
the rows that changed are written. The cost is that of the batch and the people it touches,
never of the whole occurrence, with one exception that is paid once per change: when an
occurrence's bounds move its threshold or its end, all of its people are brought up to date in
one go ("settled"). That happens at once for a started or ended webhook and whenever the end is
known; while an occurrence runs on the bounds its facts give (no ended webhook yet, each leave
moving its end) at most once per `Rule.settle_seconds`, the people untouched meanwhile keeping
their threshold until then (`settle` runs what is due, also when the stream is idle).
The one-by-one fallback of a batch is `apply_attendance` on a batch of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from schemas import ZoomEvent
from schemas.attendance import AttendanceChange
from schemas.columns import clip
from schemas.rows import MeetingRow
from sinks import attendance as sink
from streams.attendance.plan import Plan, Stored, plan_people, records
from streams.attendance.rules import (
    MEETING_EVENTS,
    PARTICIPANT_EVENTS,
    AttendanceEventError,
    Bounds,
    Fact,
    nodes,
    to_fact,
)
from streams.webhooks.outcome import Outcome

EVENT_TYPES = frozenset(PARTICIPANT_EVENTS) | MEETING_EVENTS
"""The Zoom event types this handler applies."""

SETTLE_BATCH = 20
"""Occurrences settled at most per call of `settle`."""


@dataclass(frozen=True)
class Rule:
    min_fraction: float
    """Attended when present for this fraction of the occurrence."""
    settle_seconds: float
    """How long people untouched by a batch may keep an older threshold (see the module)."""


@dataclass(frozen=True)
class Applied:
    outcomes: list[Outcome | AttendanceEventError]
    """Each event's outcome, or the error that left it unapplied, in the events' order."""
    records: list[AttendanceChange]
    """The summaries that changed and the person keys that are gone, for zoom.attendance after
    the commit."""


def _meeting(event: ZoomEvent, fact: Fact | None) -> MeetingRow:
    uuid = event.meeting_uuid
    if not uuid:
        raise AttendanceEventError(f"{event.event} without payload.object.uuid")
    obj = event.meeting
    bounds = Bounds(None, None, None, None).with_facts([fact] if fact else [])
    return clip(
        MeetingRow(
            uuid=uuid,
            meeting_id=obj.id or "",
            topic=obj.topic or "",
            is_webinar=event.event.startswith("webinar."),
            # Only the started webhook's start_time starts the occurrence: a participant's or a
            # recording's payload can carry a recurring series' start, weeks before.
            start_time=obj.start_time if event.event.endswith(".started") else None,
            end_time=obj.end_time if event.event.endswith(".ended") else None,
            first_join=bounds.first_join,
            last_leave=bounds.last_leave,
        )
    )


def _combined(rows: Sequence[MeetingRow]) -> MeetingRow:
    """What several events say of one occurrence, as one row (combined as the upsert does)."""

    def pick(name: str, choose: Any) -> Any:
        values = [getattr(row, name) for row in rows if getattr(row, name) is not None]
        return choose(values) if values else None

    return MeetingRow(
        uuid=rows[0].uuid,
        meeting_id=next((row.meeting_id for row in rows if row.meeting_id), ""),
        topic=max(row.topic for row in rows),
        is_webinar=any(row.is_webinar for row in rows),
        start_time=pick("start_time", min),
        end_time=pick("end_time", max),
        first_join=pick("first_join", min),
        last_leave=pick("last_leave", max),
    )


def _fact_row(fact: Fact) -> dict[str, Any]:
    return {name: getattr(fact, name) for name in sink.FACT_COLUMNS}  # not asdict: it deep-copies


async def apply_attendance(
    conn: AsyncConnection, events: Sequence[ZoomEvent], now: datetime, rule: Rule
) -> Applied:
    """Meeting and participant events, in a few statements for all of them.

    An event that names no occurrence or no participant gets its error and changes nothing; the
    others are applied. A fact twice among `events` counts as new for its first event only.
    """
    prepared: list[tuple[MeetingRow, Fact | None] | AttendanceEventError] = []
    for event in events:
        try:
            fact = to_fact(event) if event.event in PARTICIPANT_EVENTS else None
            prepared.append((_meeting(event, fact), fact))
        except AttendanceEventError as exc:
            prepared.append(exc)
    said: dict[str, list[MeetingRow]] = {}
    met: set[str] = set()
    for entry in prepared:
        if not isinstance(entry, Exception):
            said.setdefault(entry[0].uuid, []).append(entry[0])
            if entry[1] is None:
                met.add(entry[0].uuid)
    uuids = sorted(said)  # one lock order for every writer
    await sink.upsert_meetings(conn, [_combined(said[uuid]) for uuid in uuids])
    stored = [
        (meeting.uuid, fact.key, _fact_row(fact))
        for meeting, fact in (entry for entry in prepared if not isinstance(entry, Exception))
        if fact is not None
    ]
    new = await sink.insert_facts(conn, stored)
    outcomes: list[Outcome | AttendanceEventError] = []
    new_facts: dict[str, list[Fact]] = {}
    for entry in prepared:
        if isinstance(entry, Exception):
            outcomes.append(entry)
            continue
        meeting, fact = entry
        key = None if fact is None else (meeting.uuid, fact.key)
        created = key in new
        new.discard(key)  # the fact's later copies are not new
        if created and fact is not None:
            new_facts.setdefault(meeting.uuid, []).append(fact)
        outcomes.append(Outcome("completed", records_changed=int(created)))
    found = await update_people(conn, uuids, new_facts, met, now, rule)
    return Applied(outcomes, found)


async def settle(
    conn: AsyncConnection, now: datetime, rule: Rule, everything: bool = False
) -> list[AttendanceChange]:
    """Bring up to date the people of occurrences whose settling is due (`everything`: of all
    occurrences that have any behind, at once: the end of a replay)."""
    found: list[AttendanceChange] = []
    before = None if everything else now - timedelta(seconds=rule.settle_seconds)
    while due := await sink.settle_due(conn, before, SETTLE_BATCH):
        found += await update_people(conn, due, {}, set(), now, rule, settle=frozenset(due))
        if not everything:
            break
    return found


async def update_people(
    conn: AsyncConnection,
    uuids: Sequence[str],
    new_facts: Mapping[str, Sequence[Fact]],
    met: set[str],
    now: datetime,
    rule: Rule,
    settle: frozenset[str] = frozenset(),
) -> list[AttendanceChange]:
    """The people the new facts touch, or all people of the occurrences that settle now (those
    in `settle`, those never indexed, those whose bounds moved: see `_settles`; `met` are the
    occurrences a meeting webhook of the batch named); the records that changed. Occurrences
    not recorded are skipped."""
    rows = await sink.occurrences(conn, uuids)
    whole: list[str] = []
    touched: list[str] = []
    for uuid in sorted(rows):
        if _settles(rows[uuid], uuid in settle, uuid in met, now, rule):
            whole.append(uuid)
        elif new_facts.get(uuid):
            touched.append(uuid)
    if not whole and not touched:
        return []
    identities = await sink.identities(
        conn, whole, [(u, node) for u in touched for f in new_facts[u] for node in nodes(f)]
    )
    sessions = {
        (u, node.removeprefix("session:"))
        for u in touched
        for node in identities.get(u, {})
        if node.startswith("session:")
    }
    sessions |= {(u, f.session_id) for u in touched for f in new_facts[u]}
    facts = await sink.facts(conn, whole, sorted(sessions))
    people = sorted({(u, key) for u in touched for key in identities.get(u, {}).values()})
    old_sessions = await sink.stored(
        conn, "attendance_sessions", sink.SESSION_COLUMNS, whole, people
    )
    old_summaries = await sink.stored(
        conn, "attendance_summaries", sink.SUMMARY_COLUMNS, whole, people
    )
    fact_rows = [row for u in [*whole, *touched] for row in facts.get(u, [])]
    event_ids = sorted(
        {event_id for u in [*whole, *touched] if (event_id := rows[u].event_id) is not None}
    )
    registrations = (
        await sink.registrations(
            conn,
            event_ids,
            sorted({r["registrant_id"] for r in fact_rows if r["registrant_id"]}),
            sorted({r["email"] for r in fact_rows if r["email"]}),
        )
        if event_ids
        else {}
    )
    plans: list[Plan] = []
    applied: list[sink.Applied] = []
    for uuid in sorted([*whole, *touched]):
        row = rows[uuid]
        threshold = _bounds(row).threshold(rule.min_fraction)
        plans.append(
            plan_people(
                uuid,
                row.meeting_id,
                row.event_id,
                [Fact(**fact) for fact in facts.get(uuid, [])],
                Stored(
                    identities.get(uuid, {}),
                    old_sessions.get(uuid, []),
                    old_summaries.get(uuid, []),
                ),
                registrations.get(row.event_id, []) if row.event_id is not None else [],
                threshold,
                row.end_time,
            )
        )
        settled = uuid in whole
        behind = threshold != row.applied_threshold or row.end_time != row.applied_end
        # Once behind, behind until settled: people touched meanwhile have thresholds of their own.
        due = not settled and (row.settle_due or behind)
        applied.append(sink.Applied(uuid, settled, threshold, row.end_time, due))
    await _write(conn, plans, applied, now)
    changed = [(p.meeting_uuid, person) for p in plans for person in sorted(p.changed_people)]
    known = await sink.versions(conn, changed) if changed else {}
    return [record for p in plans for record in records(p, known)]


def _bounds(row: sink.OccurrenceRow) -> Bounds:
    return Bounds(row.start_time, row.end_time, row.first_join, row.last_leave)


def _settles(row: sink.OccurrenceRow, asked: bool, met: bool, now: datetime, rule: Rule) -> bool:
    """Whether all of the occurrence's people are brought up to date now (see the module):
    when asked to, when never indexed, and when its bounds moved the threshold or the end, at
    once for a meeting webhook or a known end, else once the last settling is old enough."""
    if asked or not row.people_indexed:
        return True
    threshold = _bounds(row).threshold(rule.min_fraction)
    if threshold == row.applied_threshold and row.end_time == row.applied_end:
        return False
    if met or row.end_time is not None or row.settled_at is None:
        return True
    return (now - row.settled_at).total_seconds() >= rule.settle_seconds


async def _write(
    conn: AsyncConnection, plans: Sequence[Plan], applied: Sequence[sink.Applied], now: datetime
) -> None:
    await sink.upsert_identities(
        conn,
        [(p.meeting_uuid, node, key) for p in plans for node, key in p.identity_upserts],
    )
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
    await sink.mark_applied(conn, applied, now)
