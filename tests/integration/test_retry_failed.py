"""retry-failed: a webhook stuck in processing is driven through again, by its event type; one
that failed three times (dead-lettered) is left at its limit until `--force`; a parked one is
reported, never driven (issue 16.11)."""

from __future__ import annotations

import psycopg
import pytest

from schemas.topics import ZOOM_DEAD_LETTERS
from tests.integration.conftest import Pipeline, messages_in_topic, wait_for
from tests.integration.zoom_webhooks import MEETING, completed, post
from tests.polling import poll
from zoomstream.samples import dumps, meeting_object, zoom_event

pytestmark = pytest.mark.integration


def retry(pipeline: Pipeline, *more: str) -> str:
    return pipeline.command("retry-failed", "--stuck-after-minutes", "30", *more)


def test_failed_and_stuck_webhooks_are_driven_again(
    running: Pipeline, database_url: str, topic_prefix: str
) -> None:
    # A cause that goes away: for now no recording file may be written.
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "ALTER TABLE zoom_recording_files ADD CONSTRAINT not_yet CHECK (file_size_bytes < 0)"
        )
    post(running, completed("occ-retry==", "t1", 1_764_500_000_000))
    wait_for(
        database_url,
        "SELECT processing_status FROM zoom_webhook_logs WHERE zoom_meeting_uuid = %s",
        ("occ-retry==",),
        lambda rows: rows == [("failed",)],
        timeout=90,
    )
    dead = f"{topic_prefix}{ZOOM_DEAD_LETTERS}"
    poll(
        lambda: messages_in_topic(dead),
        until=lambda letters: letters >= 1,
        what=f"a dead letter on {dead}",
        timeout=30,
        interval=0.5,
        raise_on_timeout=False,
    )
    assert messages_in_topic(dead) == 1
    running.stop_all()

    # A webhook left in `processing` by a crash of an older version, two hours ago.
    stuck = zoom_event(
        "meeting.started",
        meeting_object(MEETING, "occ-stuck==", start_time="2026-11-30T09:00:00Z"),
        1_764_493_200_000,
    )
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO zoom_webhook_logs (webhook_id, event_type, event_timestamp, zoom_meeting_id,"
            " zoom_meeting_uuid, payload, headers, processing_status, processing_attempts,"
            " received_at, updated_at) VALUES (repeat('a', 64), 'meeting.started', now(), %s,"
            " 'occ-stuck==', %s::jsonb, '{}'::jsonb, 'processing', 1, now(), now() - interval '2 hours')",
            (MEETING, dumps(stuck).decode()),
        )
        # A transcript parked two hours ago until its recording arrives: waiting, not stuck.
        conn.execute(
            "INSERT INTO zoom_webhook_logs (webhook_id, event_type, event_timestamp,"
            " zoom_meeting_uuid, payload, headers, processing_status, processing_attempts, parked,"
            " received_at, updated_at) VALUES (repeat('b', 64), 'recording.transcript_completed',"
            " now(), 'occ-parked==', '{}'::jsonb, '{}'::jsonb, 'pending', 1, true,"
            " '2026-11-30T10:00:00Z', now() - interval '2 hours')"
        )
        conn.execute("ALTER TABLE zoom_recording_files DROP CONSTRAINT not_yet")

    output = retry(running)
    assert "webhooks driven again: 1 from failed or stuck log rows" in output, output
    assert "now done: 1; failed again: 0" in output, output
    assert "at the 3-attempt limit, left alone (--force drives them): 1" in output, output
    assert "not driven): 1, the oldest since 2026-11-30T10:00:00+00:00" in output, output

    output = retry(running, "--force")
    assert "webhooks driven again: 1 from failed or stuck log rows" in output, output
    assert "past the 3-attempt limit (--force): 1" in output, output
    assert "now done: 1; failed again: 0" in output, output
    with psycopg.connect(database_url) as conn:
        statuses = conn.execute(
            "SELECT zoom_meeting_uuid, processing_status, processing_attempts FROM zoom_webhook_logs"
            " ORDER BY zoom_meeting_uuid"
        ).fetchall()
        recordings = conn.execute("SELECT count(*) FROM zoom_recording_files").fetchone()
        meetings = conn.execute(
            "SELECT count(*) FROM zoom_meetings WHERE zoom_meeting_uuid = 'occ-stuck=='"
        ).fetchone()
    assert statuses == [
        ("occ-parked==", "pending", 1),
        ("occ-retry==", "completed", 4),
        ("occ-stuck==", "completed", 2),
    ]
    assert recordings == (2,) and meetings == (1,)  # routed: a recording, and a meeting

    # The dead letter was driven once (the log row took it first); a second run has nothing.
    again = retry(running)
    assert "webhooks driven again: 0 from failed or stuck log rows, 0 from dead letters" in again


def test_the_leader_runs_it_on_a_schedule_beside_the_agents(
    pipeline: Pipeline, database_url: str
) -> None:
    """A stuck row is driven by the worker itself; one at its three attempts and a parked one
    are left as they are."""
    stuck = zoom_event(
        "meeting.started",
        meeting_object(MEETING, "occ-stuck==", start_time="2026-11-30T09:00:00Z"),
        1_764_493_200_000,
    )
    spent = zoom_event(
        "meeting.started",
        meeting_object(MEETING, "occ-spent==", start_time="2026-11-30T09:00:00Z"),
        1_764_493_200_000,
    )
    with psycopg.connect(database_url) as conn:
        for webhook_id, uuid, event, status, attempts, parked in (
            ("a" * 64, "occ-stuck==", stuck, "processing", 1, False),
            ("b" * 64, "occ-spent==", spent, "failed", 3, False),
            ("c" * 64, "occ-parked==", {}, "pending", 1, True),
        ):
            conn.execute(
                "INSERT INTO zoom_webhook_logs (webhook_id, event_type, event_timestamp,"
                " zoom_meeting_id, zoom_meeting_uuid, payload, headers, processing_status,"
                " processing_attempts, parked, received_at, updated_at)"
                " VALUES (%s, %s, now(), %s, %s, %s::jsonb, '{}'::jsonb, %s, %s, %s, now(),"
                " now() - interval '2 hours')",
                (
                    webhook_id,
                    event.get("event", "recording.transcript_completed"),
                    MEETING,
                    uuid,
                    dumps(event).decode(),
                    status,
                    attempts,
                    parked,
                ),
            )
    pipeline.env["RETRY_FAILED_EVERY_SECONDS"] = "2"
    pipeline.start_worker()
    rows = wait_for(
        database_url,
        "SELECT zoom_meeting_uuid, processing_status, processing_attempts FROM zoom_webhook_logs"
        " ORDER BY zoom_meeting_uuid",
        (),
        lambda rows: ("occ-stuck==", "completed", 2) in rows,
        timeout=120,
    )
    assert rows == [
        ("occ-parked==", "pending", 1),
        ("occ-spent==", "failed", 3),
        ("occ-stuck==", "completed", 2),
    ]
    # The run logs its summary once it has driven every row: just after the row above.
    poll(
        lambda: pipeline.log("worker"),
        until=lambda log: "retry-failed (scheduled): webhooks driven again: 1" in log,
        what="the scheduled run's summary in the worker's log",
        timeout=30,
    )
