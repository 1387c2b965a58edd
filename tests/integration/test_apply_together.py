"""Attendance webhooks applied together (a few statements per batch) on real PostgreSQL: the
same rows and log rows as one by one, bad webhooks isolated, and the fallback when the bulk
statement itself fails."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection

from streams.attendance import settle
from streams.webhooks.apply import Handlers, Item, apply_items, build_handlers
from tests.integration.zoom_webhooks import OCCURRENCE, as_item, participant_event
from zoomstream.samples import iso, meeting_object, participant, zoom_event

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def item(event: dict[str, Any], offset: int) -> Item:
    return as_item(event, offset, NOW)


def traffic() -> list[dict[str, Any]]:
    events = []
    for n in range(20):
        name, registrant, email = f"P {n}", f"r{n}", f"p{n}@example.org"
        events += [
            participant_event(
                "joined", str(100 + n), 0, name=name, registrant_id=registrant, email=email
            ),
            participant_event(
                "left", str(100 + n), 0, 40 + n, name=name, registrant_id=registrant, email=email
            ),
        ]
    return events


async def apply(url: str, items: list[Item], handlers: Handlers) -> list[tuple[str, int]]:
    """The items in one transaction, then every occurrence settled (one by one, the people
    of the first webhooks keep the threshold of their time until then)."""
    async with await AsyncConnection.connect(url) as conn, conn.transaction():
        results, _changes = await apply_items(conn, items, NOW, handlers)
        await settle(conn, NOW, handlers.attendance, everything=True)
    return [
        (
            "failed" if r.failure else r.outcome.status if r.outcome else "?",
            r.outcome.records_changed if r.outcome else 0,
        )
        for r in results
    ]


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "facts": "SELECT fact_key, kind, session_id, at FROM zoom_participant_facts ORDER BY 1",
        "summaries": "SELECT person_key, total_seconds, attended FROM attendance_summaries ORDER BY 1",
        "logs": "SELECT webhook_id, processing_status, attendance_records_created, error_message"
        " FROM zoom_webhook_logs ORDER BY 1",
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in queries.items()}


def test_together_equals_one_by_one_and_isolates_bad_webhooks(
    database_url: str, clean_database_url: str
) -> None:
    events = traffic()
    no_participant = participant_event("joined", "999", 0)
    no_participant["payload"]["object"].pop("participant")
    items = [item(e, n) for n, e in enumerate([*events, no_participant, events[0]])]
    together = build_handlers(0.75, 60)
    alone = Handlers(together.by_type, together.attendance, together=False)

    statuses = asyncio.run(apply(database_url, items, together))
    assert asyncio.run(apply(clean_database_url, items, alone)) == statuses
    assert snapshot(database_url) == snapshot(clean_database_url)

    assert statuses[:-2] == [("completed", 1)] * len(events)
    assert statuses[-2] == ("failed", 0)  # no participant: a permanent error, nothing stored
    assert statuses[-1] == ("completed", 0)  # the same fact again: not new
    facts = snapshot(database_url)["facts"]
    assert len(facts) == len(events)


def test_a_failing_bulk_statement_falls_back_to_one_by_one(database_url: str) -> None:
    """A name PostgreSQL cannot store (a NUL character) breaks the bulk insert; the batch's other
    webhooks are applied one by one and only the bad one fails."""
    events = traffic()
    unstorable = participant_event("joined", "555", 0, name="nul\x00name")
    items = [item(e, n) for n, e in enumerate([*events[:6], unstorable, *events[6:10]])]

    statuses = asyncio.run(apply(database_url, items, build_handlers(0.75, 60)))

    assert statuses[6] == ("failed", 0)
    assert statuses[:6] + statuses[7:] == [("completed", 1)] * 10
    rows = snapshot(database_url)
    assert len(rows["facts"]) == 10
    failed = [row for row in rows["logs"] if row[1] != "completed"]
    assert len(failed) == 1 and "0x00" in failed[0][3]
    with psycopg.connect(database_url) as conn:
        (meetings,) = conn.execute(
            "SELECT count(*) FROM zoom_meetings WHERE zoom_meeting_uuid = %s", (OCCURRENCE,)
        ).fetchone() or (0,)
    assert meetings == 1


def test_a_value_too_long_for_its_column_is_cut_to_it(database_url: str) -> None:
    """schemas/columns.py: an email longer than its column (254) is stored cut, not refused."""
    too_long = participant_event("joined", "555", 0, email="x" * 300 + "@example.org")

    statuses = asyncio.run(apply(database_url, [item(too_long, 0)], build_handlers(0.75, 60)))

    assert statuses == [("completed", 1)]
    with psycopg.connect(database_url) as conn:
        (email,) = conn.execute("SELECT email FROM zoom_participant_facts").fetchone() or ("",)
    assert email == "x" * 254


def mixed_traffic() -> list[dict[str, Any]]:
    """Two occurrences: one with started and ended webhooks, one with neither (its bounds come
    from its facts); people known first by email and then by registrant id (two people that
    become one), rejoins, overlaps, guests, a late left after the end, duplicates."""
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    events = []
    for m, ends in ((0, True), (1, False)):
        meeting_id, occurrence = f"8600000000{m}", f"occ{m}=="
        if ends:
            events.append(
                zoom_event(
                    "meeting.started",
                    meeting_object(meeting_id, occurrence, start_time=iso(start)),
                    1_764_493_000_000,
                )
            )
        for n in range(8):
            first = participant(10 * m + n, start + timedelta(minutes=n))
            first["registrant_id"] = ""
            later = {**first, "user_id": f"{first['user_id']}b", "registrant_id": f"r{m}-{n}"}
            later["participant_uuid"] = f"{first['participant_uuid']}-b"
            for who, join, leave in ((first, n, 20 + n), (later, 25, 40 + 3 * n)):
                who = {**who, "join_time": iso(start + timedelta(minutes=join))}
                obj = meeting_object(meeting_id, occurrence, participant=who)
                events.append(zoom_event("meeting.participant_joined", obj, 1_764_493_100_000))
                if n % 3 or who is not first:
                    gone = {**who, "leave_time": iso(start + timedelta(minutes=leave))}
                    obj = meeting_object(meeting_id, occurrence, participant=gone)
                    events.append(zoom_event("meeting.participant_left", obj, 1_764_493_200_000))
        if ends:
            ended = meeting_object(
                meeting_id, occurrence, end_time=iso(start + timedelta(minutes=45))
            )
            events.append(zoom_event("meeting.ended", ended, 1_764_496_800_000))
    return events + events[3:6]


DERIVED = {
    "sessions": "SELECT zoom_meeting_uuid, session_id, join_time, person_key, leave_time,"
    " closed_by, duration_seconds, name, registrant_id, email FROM attendance_sessions ORDER BY 1, 2, 3",
    "summaries": "SELECT zoom_meeting_uuid, person_key, registration_id, registrant_id, email, name,"
    " first_join, last_leave, total_seconds, session_count, attended, threshold_seconds"
    " FROM attendance_summaries ORDER BY 1, 2",
    "identities": "SELECT zoom_meeting_uuid, identity, person_key, uuid"
    " FROM attendance_identities ORDER BY 1, 2",
}


def derived(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in DERIVED.items()}


async def in_batches(
    url: str, batches: list[list[Item]], handlers: Handlers, step: timedelta
) -> None:
    """Each batch in its own transaction, `step` later than the one before; then every
    occurrence settled, as a replay ends."""
    now = NOW
    async with await AsyncConnection.connect(url) as conn:
        for batch in batches:
            async with conn.transaction():
                await apply_items(conn, batch, now, handlers)
            now += step
        async with conn.transaction():
            await settle(conn, now, handlers.attendance, everything=True)


def test_any_order_and_split_into_batches_gives_the_rows_of_one_batch(
    database_url: str, clean_database_url: str
) -> None:
    """People are updated one by one as their facts come, in whatever batches; once settled,
    the rows are those of all the facts applied at once."""
    items = [item(e, n) for n, e in enumerate(mixed_traffic())]
    handlers = build_handlers(0.75, 60)
    asyncio.run(in_batches(database_url, [items], handlers, timedelta(0)))
    expected = derived(database_url)
    assert len(expected["summaries"]) == 16  # the two sessions of each pair are one person
    for seed in range(6):
        rng = random.Random(seed)
        shuffled = rng.sample(items, len(items))
        cuts = sorted(rng.sample(range(1, len(items)), rng.randint(1, 12)))
        batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)]
        with psycopg.connect(clean_database_url) as conn:
            conn.execute(
                "TRUNCATE zoom_meetings, zoom_participant_facts, attendance_identities,"
                " attendance_sessions, attendance_summaries, zoom_webhook_logs"
            )
        step = timedelta(seconds=rng.choice([0, 30, 90]))
        one_by_one = Handlers(handlers.by_type, handlers.attendance, together=seed % 2 == 0)
        asyncio.run(in_batches(clean_database_url, batches, one_by_one, step))
        assert derived(clean_database_url) == expected, f"seed {seed}"


def test_a_late_webhook_reads_only_its_persons_facts(database_url: str) -> None:
    """A left of one person in a 1,500-person occurrence that has ended reads that person's
    facts, not the occurrence's, and rewrites no one else's summary."""
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    obj = meeting_object("86000000009", "big==", start_time=iso(start))
    events = [zoom_event("meeting.started", obj, 1)]
    for n in range(1_500):
        who = participant(n, start + timedelta(minutes=1))
        events.append(
            zoom_event(
                "meeting.participant_joined",
                meeting_object("86000000009", "big==", participant=who),
                2,
            )
        )
    end = meeting_object("86000000009", "big==", end_time=iso(start + timedelta(minutes=60)))
    events.append(zoom_event("meeting.ended", end, 3))
    handlers = build_handlers(0.75, 60)
    asyncio.run(
        in_batches(
            database_url, [[item(e, n) for n, e in enumerate(events)]], handlers, timedelta(0)
        )
    )
    late = participant(7, start + timedelta(minutes=1), left=start + timedelta(minutes=30))
    event = zoom_event(
        "meeting.participant_left", meeting_object("86000000009", "big==", participant=late), 4
    )

    async def late_left() -> tuple[int, int]:
        async with await AsyncConnection.connect(database_url) as conn, conn.transaction():
            await apply_items(conn, [item(event, 10_000)], NOW, handlers)
            read = await conn.execute(
                "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables"
                " WHERE relname = 'zoom_participant_facts'"
            )
            written = await conn.execute(
                "SELECT count(*) FROM attendance_summaries WHERE version > 1"
            )
            return (await read.fetchone() or (0,))[0], (await written.fetchone() or (0,))[0]

    facts_read, summaries_changed = asyncio.run(late_left())
    assert facts_read <= 10
    assert summaries_changed == 1
