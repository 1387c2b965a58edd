"""Attendance: who attended which occurrence, for how long.

`rules` are the pure rules (facts → sessions → summaries), `plan` what an update of some
people writes, `handler` drives them inside the batch's transaction.
"""

from streams.attendance.handler import EVENT_TYPES, Applied, Rule, apply_attendance, settle
from streams.attendance.rules import (
    MEETING_EVENTS,
    PARTICIPANT_EVENTS,
    AttendanceEventError,
    Bounds,
    Fact,
    Session,
    Summary,
    merged_seconds,
    sessions,
    summaries,
    to_fact,
)

__all__ = [
    "EVENT_TYPES",
    "MEETING_EVENTS",
    "PARTICIPANT_EVENTS",
    "Applied",
    "AttendanceEventError",
    "Bounds",
    "Fact",
    "Rule",
    "Session",
    "Summary",
    "apply_attendance",
    "merged_seconds",
    "sessions",
    "settle",
    "summaries",
    "to_fact",
]
