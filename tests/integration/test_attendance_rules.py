"""Attendance rules that certificates depend on, on real PostgreSQL (issue 16, items 1-3): what
bounds an occurrence, which registrations count, and that a person's old key does not linger."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from schemas.attendance import AttendanceRecord, AttendanceRemoved
from streams.webhooks.apply import Changes, Item, apply_items, build_handlers
from tests.integration.conftest import (
    BOOTSTRAP,
    Pipeline,
    database_before,
    drop_database,
    watermarks,
)
from tests.integration.zoom_webhooks import as_item, post
from tests.polling import poll
from zoomstream.migrate import migrate
from zoomstream.samples import iso, meeting_object, zoom_event

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SERIES_START = START - timedelta(days=13)
MEETING_ID = "86000000016"
OCCURRENCE = "recurring-occ/16=="
HANDLERS = build_handlers(0.75, 60)


def minutes(n: float) -> str:
    return iso(START + timedelta(minutes=n))


def person_event(
    kind: str, user_id: str, join: float, leave: float | None = None, **who: Any
) -> dict[str, Any]:
    """A participant webhook of a recurring (type 8) meeting: its object's start_time is the
    series' start, 13 days before the occurrence, as Zoom sends it in some payloads."""
    person: dict[str, Any] = {"user_id": user_id, "user_name": "Ada", "id": "", "email": ""}
    person.update(who, join_time=minutes(join))
    if leave is not None:
        person.update(leave_time=minutes(leave), leave_reason="left the meeting")
    obj = meeting_object(
        MEETING_ID, OCCURRENCE, type=8, start_time=iso(SERIES_START), participant=person
    )
    return zoom_event(f"meeting.participant_{kind}", obj, 1)


def started(start: datetime = START) -> dict[str, Any]:
    return zoom_event(
        "meeting.started", meeting_object(MEETING_ID, OCCURRENCE, type=8, start_time=iso(start)), 1
    )


def ended(end: float = 60) -> dict[str, Any]:
    obj = meeting_object(
        MEETING_ID, OCCURRENCE, type=8, start_time=iso(SERIES_START), end_time=minutes(end)
    )
    return zoom_event("meeting.ended", obj, 2)


def item(event: dict[str, Any], offset: int) -> Item:
    return as_item(event, offset, START)


def apply(url: str, *batches: list[dict[str, Any]]) -> list[Changes]:
    """Each batch in a transaction of its own, as the worker applies them."""
    offsets = iter(range(1_000_000))

    async def run() -> list[Changes]:
        found = []
        async with await AsyncConnection.connect(url) as conn:
            for events in batches:
                async with conn.transaction():
                    _results, changes = await apply_items(
                        conn,
                        [item(e, next(offsets)) for e in events],
                        START + timedelta(hours=2),
                        HANDLERS,
                    )
                found.append(changes)
        return found

    return asyncio.run(run())


def occurrence(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT m.start_time, s.threshold_seconds, s.total_seconds, s.attended"
            " FROM zoom_meetings m JOIN attendance_summaries s USING (zoom_meeting_uuid)"
            " WHERE m.zoom_meeting_uuid = %s",
            (OCCURRENCE,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_series_start_in_participant_payloads_never_moves_the_occurrence(
    database_url: str,
) -> None:
    """Present 50 of 60 minutes: attended, whatever start_time the participant and ended
    webhooks carry, in either order."""
    apply(
        database_url,
        [person_event("joined", "1", 0)],
        [started(), person_event("left", "1", 0, 50)],
        [ended()],
    )
    assert occurrence(database_url) == (START, 45 * 60, 50 * 60, True)


def test_without_a_started_webhook_the_earliest_join_starts_it(database_url: str) -> None:
    apply(
        database_url,
        [person_event("joined", "1", 5), person_event("joined", "2", 10)],
        [person_event("left", "1", 5, 50), person_event("left", "2", 10, 20), ended(60)],
    )
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT s.person_key, s.threshold_seconds, s.attended FROM attendance_summaries s"
            " ORDER BY 1"
        ).fetchall()
        start = conn.execute("SELECT start_time FROM zoom_meetings").fetchone()
    assert start == (None,)
    # 5 → 60 minutes: 55 minutes, threshold 41:15; 45 minutes present is enough
    assert rows == [("session:1", 2475, True), ("session:2", 2475, False)]


def registrations(url: str, *rows: tuple[str, str, str]) -> dict[str, int]:
    """(email, registrant id, status) of the occurrence's event; their ids by email."""
    with psycopg.connect(url) as conn:
        event = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('Ethics', %s) RETURNING id",
            (MEETING_ID,),
        ).fetchone()
        assert event is not None
        return {
            email: conn.execute(
                "INSERT INTO registrations (event_id, email, zoom_registrant_id, status)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (event[0], email, registrant, status),
            ).fetchone()[0]  # type: ignore[index]
            for email, registrant, status in rows
        }


def attended(url: str) -> dict[int, bool]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT id, attended FROM registrations").fetchall())


def test_only_a_confirmed_registration_is_matched_and_flagged(database_url: str) -> None:
    ids = registrations(
        database_url,
        ("live@x.org", "r-live", "confirmed"),
        ("gone@x.org", "r-gone", "cancelled"),
        ("wait@x.org", "", "pending"),
    )
    people = [("1", "live@x.org", "r-live"), ("2", "gone@x.org", "r-gone"), ("3", "wait@x.org", "")]
    apply(
        database_url,
        [started()]
        + [person_event("joined", u, 0, email=e, registrant_id=r) for u, e, r in people]
        + [person_event("left", u, 0, 55, email=e, registrant_id=r) for u, e, r in people],
        [ended()],
    )
    assert attended(database_url) == {
        ids["live@x.org"]: True,
        ids["gone@x.org"]: False,
        ids["wait@x.org"]: False,
    }
    with psycopg.connect(database_url) as conn:
        matched = conn.execute(
            "SELECT person_key, registration_id, attended FROM attendance_summaries ORDER BY 1"
        ).fetchall()
    assert matched == [
        ("registrant:r-gone", None, True),
        ("registrant:r-live", ids["live@x.org"], True),
        ("session:3", None, True),
    ] or matched == [
        ("email:wait@x.org", None, True),
        ("registrant:r-gone", None, True),
        ("registrant:r-live", ids["live@x.org"], True),
    ]

    # cancelled after the fact: the next change of that person takes the flag back
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE registrations SET status = 'cancelled' WHERE email = 'live@x.org'")
    apply(database_url, [person_event("joined", "1b", 56, email="live@x.org")])
    assert attended(database_url)[ids["live@x.org"]] is False


def test_a_person_whose_key_changes_leaves_no_summary_behind(database_url: str) -> None:
    """A join known by email, then a webhook with their registrant id: one summary, keyed by
    the registrant id; the email key's row is gone and its removal is among the changes."""
    first = apply(database_url, [started(), person_event("joined", "1", 0, email="ada@x.org")])
    assert [r.key for r in first[0].attendance] == [f"{OCCURRENCE}|email:ada@x.org"]
    [second] = apply(
        database_url,
        [person_event("left", "1", 0, 55, email="ada@x.org", registrant_id="r-ada")],
    )
    with psycopg.connect(database_url) as conn:
        keys = conn.execute("SELECT person_key FROM attendance_summaries").fetchall()
    assert keys == [("registrant:r-ada",)]
    removed = [c for c in second.attendance if isinstance(c, AttendanceRemoved)]
    assert [c.key for c in removed] == [f"{OCCURRENCE}|email:ada@x.org"]
    assert [c.person_key for c in second.attendance if isinstance(c, AttendanceRecord)] == [
        "registrant:r-ada"
    ]


def topic_messages(topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every message of a topic, partition by partition."""
    consumer = Consumer(
        {"bootstrap.servers": BOOTSTRAP, "group.id": "probe", "enable.auto.commit": False}
    )
    try:
        found: list[tuple[bytes | None, bytes | None]] = []
        for partition in sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions):
            low, high = watermarks(consumer, TopicPartition(topic, partition))
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            while (message := consumer.poll(10)) is not None:
                found.append((message.key(), message.value()))
                if (message.offset() or 0) + 1 >= high:
                    break
        return found
    finally:
        consumer.close()


def test_the_old_key_gets_a_tombstone_on_zoom_attendance(
    pipeline: Pipeline, topic_prefix: str
) -> None:
    pipeline.start_ingest()
    pipeline.start_worker()
    topic = f"{topic_prefix}zoom.attendance"
    old, new = f"{OCCURRENCE}|email:ada@x.org".encode(), f"{OCCURRENCE}|registrant:r-ada".encode()
    post(pipeline, started())
    post(pipeline, person_event("joined", "1", 0, email="ada@x.org"))
    poll(
        lambda: [k for k, _ in topic_messages(topic)],
        until=lambda keys: old in keys,
        what="the email key's record",
        timeout=60,
    )
    post(pipeline, person_event("left", "1", 0, 55, email="ada@x.org", registrant_id="r-ada"))
    messages = poll(
        lambda: topic_messages(topic),
        until=lambda found: (old, None) in found,
        what="a tombstone for the email key",
        timeout=60,
    )
    on_old = [value for key, value in messages if key == old]
    assert on_old[-1] is None and on_old[0] is not None  # the record, then its tombstone
    assert any(key == new and value is not None for key, value in messages)


@pytest.fixture
def database_before_0015() -> Iterator[str]:
    url = database_before("0015_occurrence_start")
    yield url
    drop_database(url)


def test_migration_0015_restarts_logged_occurrences_at_their_started_webhook(
    database_before_0015: str,
) -> None:
    url = database_before_0015
    with psycopg.connect(url) as conn:
        for uuid_, start in (
            ("both", SERIES_START),
            ("joins", SERIES_START),
            ("old", SERIES_START),
        ):
            conn.execute(
                "INSERT INTO zoom_meetings (zoom_meeting_uuid, zoom_meeting_id, start_time,"
                " first_join, people_indexed) VALUES (%s, %s, %s, %s, true)",
                (uuid_, MEETING_ID, start, START),
            )
        logs = [("both", started()), ("both", person_event("joined", "1", 0))]
        logs += [("joins", person_event("joined", "1", 0))]  # "old": past the log's retention
        for n, (uuid_, event) in enumerate(logs):
            conn.execute(
                "INSERT INTO zoom_webhook_logs (webhook_id, event_type, event_timestamp,"
                " zoom_meeting_uuid, payload, processing_status, received_at)"
                " VALUES (%s, %s, %s, %s, %s, 'completed', %s)",
                (str(n), event["event"], START, uuid_, Jsonb(event), START),
            )
    assert migrate(url, platform=True) == ["0015_occurrence_start"]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT zoom_meeting_uuid, start_time, settle_due FROM zoom_meetings ORDER BY 1"
        ).fetchall()
    assert rows == [("both", START, True), ("joins", None, True), ("old", SERIES_START, False)]
    assert migrate(url, platform=True) == []
