"""Attendance webhooks applied together (a few statements per batch) on real PostgreSQL: the
same rows and log rows as one by one, bad webhooks isolated, and the fallback when the bulk
statement itself fails."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection

from schemas import RawWebhookEnvelope, parse_zoom_event
from streams.apply import Handlers, Item, apply_items, build_handlers
from streams.webhook_log import Delivery
from tests.integration.test_attendance import OCCURRENCE, participant_event
from zoomstream.samples import dumps, iso, meeting_object, participant, zoom_event

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def item(event: dict[str, Any], offset: int) -> Item:
    body = dumps(event)
    envelope = RawWebhookEnvelope(
        webhook_id=hashlib.sha256(body).hexdigest(), received_at=NOW, headers={}, body=body
    )
    delivery = Delivery("zoom.webhooks.raw", 0, offset, envelope.model_dump_json().encode())
    return Item(delivery, envelope, parse_zoom_event(body))


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
    async with await AsyncConnection.connect(url) as conn, conn.transaction():
        results, _changes = await apply_items(conn, items, NOW, handlers)
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
    together = build_handlers(0.75)
    alone = Handlers(together.by_type, together.recompute)  # no `many`: one by one

    statuses = asyncio.run(apply(database_url, items, together))
    assert asyncio.run(apply(clean_database_url, items, alone)) == statuses
    assert snapshot(database_url) == snapshot(clean_database_url)

    assert statuses[:-2] == [("completed", 1)] * len(events)
    assert statuses[-2] == ("failed", 0)  # no participant: a permanent error, nothing stored
    assert statuses[-1] == ("completed", 0)  # the same fact again: not new
    facts = snapshot(database_url)["facts"]
    assert len(facts) == len(events)


def test_a_failing_bulk_statement_falls_back_to_one_by_one(database_url: str) -> None:
    """An email too long for its column breaks the bulk insert; the batch's other webhooks are
    applied one by one and only the bad one fails."""
    events = traffic()
    too_long = participant_event("joined", "555", 0, email="x" * 300 + "@example.org")
    items = [item(e, n) for n, e in enumerate([*events[:6], too_long, *events[6:10]])]

    statuses = asyncio.run(apply(database_url, items, build_handlers(0.75)))

    assert statuses[6] == ("failed", 0)
    assert statuses[:6] + statuses[7:] == [("completed", 1)] * 10
    rows = snapshot(database_url)
    assert len(rows["facts"]) == 10
    failed = [row for row in rows["logs"] if row[1] != "completed"]
    assert len(failed) == 1 and "too long" in failed[0][3]
    with psycopg.connect(database_url) as conn:
        (meetings,) = conn.execute(
            "SELECT count(*) FROM zoom_meetings WHERE zoom_meeting_uuid = %s", (OCCURRENCE,)
        ).fetchone() or (0,)
    assert meetings == 1


def test_occurrences_recomputed_together_equal_each_alone(
    database_url: str, clean_database_url: str
) -> None:
    """Five occurrences in one batch: their sessions, summaries and published records are the
    same whether recomputed in one go or one occurrence at a time."""
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    events = []
    for m in range(5):
        for n in range(6):
            who = participant(10 * m + n, start, left=start + timedelta(minutes=10 * n + 5))
            obj = meeting_object("8600000000" + str(m), f"occ{m}==", participant=who)
            events.append(zoom_event("meeting.participant_left", obj, 1_764_493_200_000 + n))
            events.append(zoom_event("meeting.participant_joined", {**obj}, 1_764_493_100_000 + n))
        ended = meeting_object(
            "8600000000" + str(m), f"occ{m}==", end_time=iso(start + timedelta(minutes=60))
        )
        events.append(zoom_event("meeting.ended", ended, 1_764_496_800_000))
    items = [item(e, n) for n, e in enumerate(events)]
    together = build_handlers(0.75)
    calls: list[int] = []

    async def one_at_a_time(conn: AsyncConnection, uuids: Sequence[str]) -> tuple[Any, ...]:
        calls.append(len(uuids))
        found: tuple[Any, ...] = ()
        for uuid in uuids:
            found += await together.recompute(conn, [uuid])
        return found

    alone = Handlers(together.by_type, one_at_a_time, together.many, together.many_types)
    published_together = asyncio.run(records(database_url, items, together))
    published_alone = asyncio.run(records(clean_database_url, items, alone))
    assert calls == [5]
    assert published_together == published_alone
    assert len(published_together) == 30
    assert snapshot(database_url) == snapshot(clean_database_url)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT zoom_meeting_uuid, count(*), sum(total_seconds) FROM attendance_summaries"
            " GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert rows == [(f"occ{m}==", 6, sum(600 * n + 300 for n in range(6))) for m in range(5)]


async def records(url: str, items: list[Item], handlers: Handlers) -> list[str]:
    async with await AsyncConnection.connect(url) as conn, conn.transaction():
        _results, changes = await apply_items(conn, items, NOW, handlers)
    return sorted(r.model_dump_json(exclude={"version"}) for r in changes.attendance)
