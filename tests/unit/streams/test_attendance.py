"""Attendance rules, one case per real-traffic pitfall, and a property: order never matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import parse_zoom_event
from streams.attendance import Bounds, Summary, merged_seconds, sessions, summaries, to_fact
from zoomstream.samples import dumps, iso, meeting_object, zoom_event

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def person(
    user_id: str, *, join: float | None = None, leave: float | None = None, **fields: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "user_id": user_id,
        "user_name": fields.pop("name", f"User {user_id}"),
        "id": "",
        "email": "",
    }
    if join is not None:
        data["join_time"] = iso(at(join))
    if leave is not None:
        data["leave_time"] = iso(at(leave))
        data["leave_reason"] = "left the meeting. Reason : left the meeting"
    data.update(fields)
    return data


def joined(user_id: str, minute: float, **fields: Any) -> dict[str, Any]:
    return zoom_event(
        "meeting.participant_joined",
        meeting_object(participant=person(user_id, join=minute, **fields)),
    )


def left(user_id: str, join: float | None, leave: float, **fields: Any) -> dict[str, Any]:
    return zoom_event(
        "meeting.participant_left",
        meeting_object(participant=person(user_id, join=join, leave=leave, **fields)),
    )


def attendance(
    bodies: list[dict[str, Any]],
    start: float | None = 0,
    end: float | None = 60,
    fraction: float = 0.75,
) -> list[Summary]:
    facts = [to_fact(parse_zoom_event(dumps(body))) for body in bodies]
    bounds = Bounds(
        at(start) if start is not None else None,
        at(end) if end is not None else None,
        None,
        None,
    ).with_facts(facts)
    return summaries(sessions(facts, bounds.end), bounds.threshold(fraction))


def one(result: list[Summary]) -> Summary:
    assert len(result) == 1, result
    return result[0]


def test_join_and_leave_make_one_session() -> None:
    s = one(attendance([joined("1", 0, registrant_id="r1"), left("1", 0, 50, registrant_id="r1")]))
    assert (s.person_key, s.total_seconds, s.session_count, s.attended) == (
        "registrant:r1",
        50 * 60,
        1,
        True,
    )
    assert (s.first_join, s.last_leave, s.threshold_seconds) == (at(0), at(50), 45 * 60)


def test_left_of_an_earlier_session_arriving_after_the_rejoin() -> None:
    # user_id changes on rejoin; the first session's left comes late
    events = [
        joined("1", 0, registrant_id="r1"),
        joined("2", 30, registrant_id="r1"),
        left("1", 0, 20, registrant_id=""),
        left("2", 30, 60),
    ]
    s = one(attendance(events))
    assert (s.session_count, s.total_seconds) == (2, 50 * 60)


def test_meeting_ended_before_the_last_left_and_a_late_left_corrects() -> None:
    open_only = one(attendance([joined("1", 0, email="A@x.org")], end=60))
    assert (open_only.total_seconds, open_only.last_leave) == (60 * 60, at(60))
    corrected = one(
        attendance([joined("1", 0, email="A@x.org"), left("1", 0, 30, email="a@x.org")], end=60)
    )
    assert (corrected.total_seconds, corrected.last_leave, corrected.attended) == (
        30 * 60,
        at(30),
        False,
    )


def test_overlapping_sessions_are_merged() -> None:
    # the same person on two devices
    events = [
        joined("1", 0, email="p@x.org"),
        joined("2", 10, email="p@x.org"),
        left("1", 0, 40, email="p@x.org"),
        left("2", 10, 50, email="p@x.org"),
    ]
    s = one(attendance(events))
    assert (s.session_count, s.total_seconds) == (2, 50 * 60)


def test_guests_without_ids_or_email_are_kept_apart_and_unmatched() -> None:
    result = attendance([joined("7", 0), joined("8", 0), left("7", 0, 60), left("8", 0, 10)])
    assert [(s.person_key, s.registrant_id, s.email, s.attended) for s in result] == [
        ("session:7", None, None, True),
        ("session:8", None, None, False),
    ]


def test_registrant_id_null_empty_or_missing_within_one_person() -> None:
    events = [
        joined("1", 0, registrant_id=None, email="x@y.org"),
        left("1", 0, 10, registrant_id=""),
        joined("2", 15, email="x@y.org", registrant_id="r9"),
        left("2", 15, 60),
    ]
    s = one(attendance(events))
    assert (s.person_key, s.registrant_id, s.total_seconds) == ("registrant:r9", "r9", 55 * 60)


def test_no_meeting_started_at_all_uses_the_sessions() -> None:
    s = one(attendance([joined("1", 5), left("1", 5, 45)], start=None, end=None))
    assert (s.threshold_seconds, s.attended) == (30 * 60, True)


def test_a_left_without_its_join_uses_the_join_time_it_carries() -> None:
    s = one(attendance([left("1", 10, 40)]))
    assert (s.first_join, s.total_seconds) == (at(10), 30 * 60)


def test_waiting_room_is_not_presence() -> None:
    waiting = zoom_event(
        "meeting.participant_joined_waiting_room",
        meeting_object(participant={"user_id": "5", "user_name": "W", "date_time": iso(at(0))}),
    )
    assert attendance([waiting]) == []


def test_the_threshold_is_configurable() -> None:
    events = [joined("1", 0, registrant_id="r"), left("1", 0, 30, registrant_id="r")]
    assert one(attendance(events, fraction=0.5)).attended
    assert not one(attendance(events, fraction=0.75)).attended


def test_merged_seconds() -> None:
    assert merged_seconds([(at(0), at(10)), (at(5), at(15)), (at(20), at(30))]) == 25 * 60
    assert merged_seconds([]) == 0


MEETING = [
    joined("1", 0, registrant_id="r1", email="one@x.org"),
    left("1", 0, 20, registrant_id="r1"),
    joined("2", 25, email="ONE@x.org"),
    left("2", 25, 61, email="one@x.org"),
    joined("3", 5),
    joined("4", 10, email="two@x.org"),
    left("4", 10, 12, email="two@x.org"),
    joined("5", 14, email="two@x.org"),
    left("3", 5, 55),
]


@settings(max_examples=200, deadline=None)
@given(st.permutations(MEETING), st.lists(st.sampled_from(range(len(MEETING))), max_size=6))
def test_any_permutation_and_duplication_gives_the_same_summaries(
    order: list[dict[str, Any]], repeats: list[int]
) -> None:
    expected = attendance(MEETING)
    shuffled = list(order) + [MEETING[i] for i in repeats]
    assert attendance(shuffled) == expected
