"""A 300-participant webinar over signed HTTP: rejoins, guests, duplicates, any order."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.integration.conftest import Pipeline, count_rows, messages_in_topic
from tests.integration.zoom_webhooks import OCCURRENCE, T0, WEBINAR, at, participant_event, send_all
from tests.polling import poll
from zoomstream.samples import dumps, meeting_object, zoom_event

pytestmark = pytest.mark.integration


def webinar_traffic() -> tuple[list[dict[str, Any]], set[int]]:
    """The webinar's events, and the registration numbers expected to have attended."""
    events = [
        zoom_event(
            "webinar.started", meeting_object(WEBINAR, OCCURRENCE, start_time=at(0), type=5), 1
        ),
        zoom_event(
            "webinar.ended",
            meeting_object(WEBINAR, OCCURRENCE, start_time=at(0), end_time=at(60), type=5),
            2,
        ),
    ]
    attended: set[int] = set()
    for n in range(200):
        who: dict[str, Any] = {
            "name": f"Registrant {n}",
            "registrant_id": f"r{n}",
            "email": f"p{n}@example.org",
        }
        uid = str(16_000_000 + 10 * n)
        if n % 4 == 0:  # the whole webinar
            events += [
                participant_event("joined", uid, 0, **who),
                participant_event("left", uid, 0, 60, **who),
            ]
            attended.add(n)
        elif (
            n % 4 == 1
        ):  # dropped out and rejoined with a new user_id; the left has registrant_id ""
            uid2 = str(int(uid) + 1)
            events += [
                participant_event("joined", uid, 0, **who),
                participant_event("left", uid, 0, 20, **{**who, "registrant_id": ""}),
                participant_event("joined", uid2, 25, **who),
                participant_event("left", uid2, 25, 60, **who),
            ]
            attended.add(n)
        elif n % 4 == 2:  # half an hour only
            events += [
                participant_event("joined", uid, 0, **who),
                participant_event("left", uid, 0, 30, **who),
            ]
        else:  # no registrant id at all, email in other case, never left: closed at the end
            events.append(
                participant_event("joined", uid, 5, name=who["name"], email=f"P{n}@EXAMPLE.ORG")
            )
            attended.add(n)
    for g in range(100):  # guests: nothing to match them by
        uid = str(17_000_000 + g)
        events += [
            participant_event("joined", uid, 0, name=f"Guest {g}"),
            participant_event("left", uid, 0, 50, name=f"Guest {g}"),
        ]
    return events, attended


def test_a_300_participant_webinar(
    pipeline: Pipeline, database_url: str, topic_prefix: str
) -> None:
    with psycopg.connect(database_url) as conn:
        event_id = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('Webinar', %s) RETURNING id",
            (WEBINAR,),
        ).fetchone()
        assert event_id is not None
        for n in range(200):
            conn.execute(
                "INSERT INTO registrations (event_id, email, full_name, zoom_registrant_id) VALUES (%s, %s, %s, %s)",
                (
                    event_id[0],
                    f"p{n}@example.org",
                    f"Registrant {n}",
                    f"r{n}" if n % 4 != 3 else None,
                ),
            )
    events, attended = webinar_traffic()
    bodies = [dumps(e) for e in events]
    rng = random.Random(7)
    traffic = bodies + rng.sample(bodies, len(bodies) // 5)
    rng.shuffle(traffic)

    pipeline.start_ingest()
    pipeline.start_worker()
    answers = asyncio.run(send_all(pipeline.url, traffic, concurrency=24))
    assert answers.count(200) == len(traffic)

    with psycopg.connect(database_url, autocommit=True) as conn:
        done = poll(
            lambda: conn.execute(
                "SELECT count(*) FROM zoom_webhook_logs WHERE processing_status = 'completed'"
            ).fetchone(),
            until=lambda row: row == (len(bodies),),
            what=f"{len(bodies)} webhooks completed",
            timeout=180,
            interval=0.5,
            raise_on_timeout=False,
        )
        assert done == (len(bodies),), done
        summaries = conn.execute(
            "SELECT count(*), count(registration_id), count(*) FILTER (WHERE attended) FROM attendance_summaries"
        ).fetchone()
        sessions = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE closed_by = 'meeting_end') FROM attendance_sessions"
        ).fetchone()
        flagged = {
            int(row[0][1:].split("@")[0])
            for row in conn.execute("SELECT email FROM registrations WHERE attended")
        }
        rejoin = conn.execute(
            "SELECT total_seconds, session_count, last_leave FROM attendance_summaries WHERE person_key = 'registrant:r1'"
        ).fetchone()
        changed = conn.execute(
            "SELECT sum(attendance_records_created) FROM zoom_webhook_logs"
            " WHERE event_type LIKE 'webinar.participant_%'"
        ).fetchone()
        facts = count_rows(database_url, "SELECT count(*) FROM zoom_participant_facts")
    assert summaries == (300, 200, 150 + 100)
    assert sessions == (50 + 100 + 50 + 50 + 100, 50)
    assert flagged == attended
    assert rejoin == (55 * 60, 2, T0 + timedelta(minutes=60))
    # each participant webhook records its fact once: the log counts the facts it added
    assert changed is not None and changed[0] == facts
    # every summary went to zoom.attendance at least once
    assert messages_in_topic(f"{topic_prefix}zoom.attendance") >= 300
