"""Attendance rules: pure functions from a person's facts to their sessions and summary.

A *fact* is what one participant webhook says (someone joined, left, or waited). A person's
sessions and summary are computed from the full set of that person's facts and the occurrence's
threshold, so the result cannot depend on arrival order or on duplicates (docs/design.md,
"Attendance"). People are the connected groups of sessions sharing an identity; the rules work
on any set of facts closed under that grouping: one person, several, or the whole occurrence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas import ZoomEvent
from schemas.columns import Email, PersonName, ZoomId, clip
from streams.webhooks.outcome import PermanentError

FactKind = Literal["joined", "left", "waiting"]

PARTICIPANT_EVENTS: dict[str, FactKind] = {
    "meeting.participant_joined": "joined",
    "meeting.participant_left": "left",
    "meeting.participant_joined_waiting_room": "waiting",
    "webinar.participant_joined": "joined",
    "webinar.participant_left": "left",
}
MEETING_EVENTS = frozenset({"meeting.started", "meeting.ended", "webinar.started", "webinar.ended"})


class AttendanceEventError(PermanentError):
    """A participant webhook that names no meeting occurrence or no participant."""


@dataclass(frozen=True)
class Fact:
    """One participant webhook, reduced to what attendance needs."""

    kind: FactKind
    session_id: ZoomId
    """Zoom's id of this session: participant_uuid, else user_id (both change on rejoin)."""
    at: datetime
    """join_time for joins, leave_time for lefts, date_time for waiting."""
    join_time: datetime | None
    registrant_id: ZoomId | None
    email: Email | None
    zoom_user_id: ZoomId | None
    customer_key: ZoomId | None
    name: PersonName
    leave_reason: str | None

    @property
    def key(self) -> str:
        """Identifies the fact: the same webhook delivered twice is one fact."""
        parts = (
            self.kind,
            self.session_id,
            self.at.isoformat(),
            self.join_time.isoformat() if self.join_time else "",
        )
        return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Bounds:
    """What bounds an occurrence: its meeting webhooks' times, else what its facts say."""

    start: datetime | None
    """The start_time of its started webhook (no other webhook's start_time counts)."""
    end: datetime | None
    """The end_time of its ended webhook (latest seen): open sessions close here."""
    first_join: datetime | None
    """The earliest join any fact states."""
    last_leave: datetime | None
    """The latest leave any fact states."""

    def length_seconds(self) -> int:
        start = self.start or self.first_join
        end = self.end or self.last_leave
        if start is None or end is None or end <= start:
            return 0
        return int((end - start).total_seconds())

    def threshold(self, min_fraction: float) -> int:
        """Seconds of presence that make a person attended."""
        return int(self.length_seconds() * min_fraction)

    def with_facts(self, facts: Iterable[Fact]) -> Bounds:
        """These bounds widened by what the facts state."""
        first, last = self.first_join, self.last_leave
        for fact in facts:
            joined, leave = fact_bounds(fact)
            if joined is not None and (first is None or joined < first):
                first = joined
            if leave is not None and (last is None or leave > last):
                last = leave
        return Bounds(self.start, self.end, first, last)


def fact_bounds(fact: Fact) -> tuple[datetime | None, datetime | None]:
    """(the join, the leave) a fact states, for the occurrence's bounds."""
    if fact.kind == "joined":
        return fact.at, None
    if fact.kind == "left":
        return fact.join_time, fact.at
    return None, None


@dataclass(frozen=True)
class Session:
    session_id: str
    person_key: str
    join_time: datetime
    leave_time: datetime | None
    closed_by: Literal["left", "meeting_end"] | None
    duration_seconds: int | None
    leave_reason: str | None
    name: str
    registrant_id: str | None
    email: str | None


@dataclass(frozen=True)
class Summary:
    person_key: str
    registrant_id: str | None
    email: str | None
    name: str
    first_join: datetime
    last_leave: datetime | None
    total_seconds: int
    session_count: int
    attended: bool
    threshold_seconds: int


def to_fact(event: ZoomEvent) -> Fact:
    kind = PARTICIPANT_EVENTS[event.event]
    person = event.meeting.participant
    if person is None:
        raise AttendanceEventError(f"{event.event} without payload.object.participant")
    session_id = person.participant_uuid or person.user_id
    if not session_id:
        raise AttendanceEventError(f"{event.event} without participant_uuid or user_id")
    at = {"joined": person.join_time, "left": person.leave_time, "waiting": person.date_time}[kind]
    at = at or person.join_time or event.event_ts
    if at is None:
        raise AttendanceEventError(f"{event.event} without a time")
    return clip(
        Fact(
            kind=kind,
            session_id=session_id,
            at=at,
            join_time=person.join_time,
            registrant_id=person.registrant_id,
            email=person.email.lower() if person.email else None,
            zoom_user_id=person.participant_user_id or person.id,
            customer_key=person.customer_key,
            name=person.user_name or "",
            leave_reason=person.leave_reason,
        )
    )


def _identities(fact: Fact) -> list[str]:
    found = []
    if fact.registrant_id:
        found.append(f"registrant:{fact.registrant_id}")
    if fact.email:
        found.append(f"email:{fact.email}")
    if fact.zoom_user_id:
        found.append(f"zoom:{fact.zoom_user_id}")
    if fact.customer_key:
        found.append(f"customer:{fact.customer_key}")
    return found


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def nodes(fact: Fact) -> list[str]:
    """The identities a fact links: its session and whatever says who it is."""
    return [f"session:{fact.session_id}", *_identities(fact)]


def groups(facts: Iterable[Fact]) -> dict[str, str]:
    """Identity (`nodes`) → person key, for every identity of the facts."""
    found = _UnionFind()
    for fact in facts:
        node, *others = nodes(fact)
        found.find(node)
        for identity in others:
            found.union(node, identity)
    members: dict[str, list[str]] = {}
    for node in list(found.parent):
        members.setdefault(found.find(node), []).append(node)
    keys: dict[str, str] = {}
    for group in members.values():
        registrants = sorted(n for n in group if n.startswith("registrant:"))
        others = sorted(n for n in group if not n.startswith("session:"))
        key = registrants[0] if registrants else (others[0] if others else min(group))
        for node in group:
            keys[node] = key
    return keys


def people(facts: Iterable[Fact], grouped: Mapping[str, str] | None = None) -> dict[str, str]:
    """Session id → person key. Sessions sharing a registrant id, an email, a Zoom user id or a
    customer key are one person; a session with none of them (a guest) is a person of its own.
    The key is the person's registrant id when any session has one, else the smallest of its
    identities, so it does not depend on arrival order."""
    return {
        node.removeprefix("session:"): key
        for node, key in (groups(facts) if grouped is None else grouped).items()
        if node.startswith("session:")
    }


def sessions(
    facts: Sequence[Fact],
    meeting_end: datetime | None,
    grouped: Mapping[str, str] | None = None,
) -> list[Session]:
    """Pair joins with lefts per session id; close the open ones at the meeting's end.

    A left belongs to the latest join of the same session id at or before it (or the join its
    `join_time` names); a left without any join starts its session at its own join_time.
    `grouped` is `groups(facts)` when the caller has it already.
    """
    person_of = people(facts, grouped)
    by_session: dict[str, list[Fact]] = {}
    for fact in facts:
        by_session.setdefault(fact.session_id, []).append(fact)
    result: list[Session] = []
    for session_id, own in sorted(by_session.items()):
        joins = sorted(
            {f.at for f in own if f.kind == "joined"}
            | {f.join_time for f in own if f.kind == "left" and f.join_time}
        )
        lefts = sorted(
            (f for f in own if f.kind == "left"), key=lambda f: (f.at, f.leave_reason or "")
        )
        leave_of: dict[datetime, Fact] = {}
        for left in lefts:
            candidates = [j for j in joins if j <= left.at]
            if left.join_time is not None and left.join_time in joins:
                candidates = [left.join_time]
            if candidates:
                start = candidates[-1]
                current = leave_of.get(start)
                if current is None or left.at > current.at:
                    leave_of[start] = left
        identity = _best_identity(own)
        for start in joins:
            closing = leave_of.get(start)
            end: datetime | None
            closed_by: Literal["left", "meeting_end"] | None
            if closing is not None:
                end, closed_by = closing.at, "left"
            elif meeting_end is not None and meeting_end >= start:
                end, closed_by = meeting_end, "meeting_end"
            else:
                end, closed_by = None, None
            result.append(
                Session(
                    session_id=session_id,
                    person_key=person_of[session_id],
                    join_time=start,
                    leave_time=end,
                    closed_by=closed_by,
                    duration_seconds=int((end - start).total_seconds()) if end else None,
                    leave_reason=closing.leave_reason if closing else None,
                    name=identity.name,
                    registrant_id=identity.registrant_id,
                    email=identity.email,
                )
            )
    return result


def _best_identity(facts: Sequence[Fact]) -> Fact:
    """The fact with the most to say about who this is (ties: the latest)."""
    return max(
        facts, key=lambda f: (bool(f.registrant_id), bool(f.email), bool(f.name), f.at, f.kind)
    )


def merged_seconds(intervals: Iterable[tuple[datetime, datetime]]) -> int:
    """Length of the union of intervals: overlapping sessions count once."""
    total = 0.0
    current_start: datetime | None = None
    current_end: datetime | None = None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_start is not None and current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_start is not None and current_end is not None:
        total += (current_end - current_start).total_seconds()
    return int(total)


def summaries(all_sessions: Sequence[Session], threshold: int) -> list[Summary]:
    """One summary per person: presence merged over sessions, attended at `threshold` seconds
    (`Bounds.threshold`; none with a threshold of 0, an occurrence of no known length)."""
    by_person: dict[str, list[Session]] = {}
    for session in all_sessions:
        by_person.setdefault(session.person_key, []).append(session)
    result = []
    for person_key, own in sorted(by_person.items()):
        present = merged_seconds((s.join_time, s.leave_time) for s in own if s.leave_time)
        leaves = [s.leave_time for s in own]
        best = max(
            own, key=lambda s: (bool(s.registrant_id), bool(s.email), bool(s.name), s.join_time)
        )
        result.append(
            Summary(
                person_key=person_key,
                registrant_id=next((s.registrant_id for s in own if s.registrant_id), None),
                email=next(
                    (s.email for s in sorted(own, key=lambda s: s.join_time) if s.email), None
                ),
                name=best.name,
                first_join=min(s.join_time for s in own),
                last_leave=None if any(t is None for t in leaves) else max(t for t in leaves if t),
                total_seconds=present,
                session_count=len(own),
                attended=threshold > 0 and present >= threshold,
                threshold_seconds=threshold,
            )
        )
    return result
