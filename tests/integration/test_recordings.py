"""Recording webhooks over signed HTTP into rows and zoom.recordings, on the real stack."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer

from tests.integration.conftest import BOOTSTRAP, Pipeline, count_rows, wait_for
from tests.integration.zoom_server import (
    RECORDINGS,
    running_fake_zoom,
)
from tests.integration.zoom_webhooks import MEETING, completed, post
from tests.polling import poll
from zoomstream.samples import meeting_object, recording_object, zoom_event

pytestmark = pytest.mark.integration


def transcript(occurrence: str, event_ts: int) -> dict[str, Any]:
    obj = recording_object(int(MEETING), occurrence)
    obj["recording_files"] = [
        {
            "id": "file-transcript-1",
            "meeting_id": occurrence,
            "file_type": "TRANSCRIPT",
            "file_extension": "VTT",
            "file_size": 3000,
            "status": "completed",
            "recording_type": "audio_transcript",
            "download_url": "https://zoom.example/t",
        }
    ]
    return zoom_event("recording.transcript_completed", obj, event_ts, download_token="tok-t")


def recording_messages(topic: str, count: int) -> list[tuple[bytes, dict[str, Any]]]:
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found: list[tuple[bytes, dict[str, Any]]] = []

    def read_one() -> int:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            found.append((message.key() or b"", json.loads(message.value() or b"{}")))
        return len(found)

    try:
        poll(
            read_one,
            until=lambda read: read >= count,
            what=f"{count} messages on {topic}",
            timeout=30,
            interval=0,  # the consumer's poll waits
            raise_on_timeout=False,
        )
    finally:
        consumer.close()
    return found


def state(database_url: str, occurrence: str) -> tuple[Any, ...]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT r.status, r.is_published, r.download_token, r.duration_seconds, e.title,"
            " (SELECT count(*) FROM zoom_recording_files f WHERE f.recording_id = r.id),"
            " (SELECT string_agg(f.file_type || ':' || f.processing_status, ',' ORDER BY f.zoom_file_id) FROM zoom_recording_files f WHERE f.recording_id = r.id)"
            " FROM zoom_recordings r JOIN events e ON e.id = r.event_id WHERE r.zoom_recording_id = %s",
            (occurrence,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_recording_lands_once_whatever_the_order_and_tokens(
    running: Pipeline, database_url: str, topic_prefix: str
) -> None:
    occurrence = "occ-A/+x=="
    # the transcript first: parked, not dropped
    post(running, transcript(occurrence, 1_764_500_000_000))
    wait_for(
        database_url,
        "SELECT processing_status, parked FROM zoom_webhook_logs WHERE event_type = 'recording.transcript_completed'",
        (),
        lambda rows: bool(rows) and rows[0] == ("pending", True),
    )
    post(running, completed(occurrence, "tok-2", 1_764_499_000_000))
    post(
        running, completed(occurrence, "tok-1", 1_764_498_000_000)
    )  # an older duplicate with another token
    rows = wait_for(
        database_url,
        "SELECT count(*) FROM zoom_webhook_logs WHERE processing_status = 'completed'",
        (),
        lambda rows: rows[0][0] == 3,
    )
    assert rows[0][0] == 3
    # un-parked in the transaction that completed the recording
    assert count_rows(database_url, "SELECT count(*) FROM zoom_webhook_logs WHERE parked") == 0
    status, published, token, duration, title, files, kinds = state(database_url, occurrence)
    assert (status, published, token, duration, title, files) == (
        "available",
        True,
        "tok-2",
        67 * 60 + 8,
        "Cardiology",
        3,
    )
    assert kinds == "video:completed,timeline:completed,transcript:completed"
    messages = recording_messages(f"{topic_prefix}zoom.recordings", 1)
    assert messages and messages[-1][0] == occurrence.encode()
    assert "download_token" not in json.dumps(messages[-1][1]) and "tok-2" not in json.dumps(
        messages[-1][1]
    )

    # the organizer unpublishes; a redelivery must not publish it again
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE zoom_recordings SET is_published = false WHERE zoom_recording_id = %s",
            (occurrence,),
        )
    post(running, completed(occurrence, "tok-3", 1_764_501_000_000))
    wait_for(
        database_url,
        "SELECT download_token FROM zoom_recordings",
        (),
        lambda rows: rows[0][0] == "tok-3",
    )
    assert state(database_url, occurrence)[1] is False

    # trash, then recover
    post(
        running,
        zoom_event(
            "recording.trashed", recording_object(int(MEETING), occurrence), 1_764_502_000_000
        ),
    )
    wait_for(
        database_url, "SELECT status FROM zoom_recordings", (), lambda rows: rows[0][0] == "trashed"
    )
    post(
        running,
        zoom_event(
            "recording.recovered", recording_object(int(MEETING), occurrence), 1_764_503_000_000
        ),
    )
    wait_for(
        database_url,
        "SELECT status FROM zoom_recordings",
        (),
        lambda rows: rows[0][0] == "available",
    )


def test_unknown_meeting_is_skipped_with_the_reason(running: Pipeline, database_url: str) -> None:
    post(running, completed("occ-unknown==", "t", 1_764_500_000_000, meeting="99999999999"))
    rows = wait_for(
        database_url,
        "SELECT processing_status, error_message FROM zoom_webhook_logs",
        (),
        lambda rows: bool(rows),
    )
    assert rows == [("skipped", "no event found for meeting 99999999999")]


def test_poison_goes_to_dead_letters_after_three_attempts_without_holding_up_the_partition(
    running: Pipeline, database_url: str, topic_prefix: str
) -> None:
    poison = completed("occ-poison==", "t", 1_764_500_000_000)
    poison["payload"]["object"]["recording_files"][0]["file_size"] = (
        10**20
    )  # over PostgreSQL's bigint
    post(running, poison)
    post(
        running, completed("occ-fine==", "t", 1_764_500_000_001)
    )  # same meeting id: same partition
    wait_for(
        database_url,
        "SELECT status FROM zoom_recordings WHERE zoom_recording_id = 'occ-fine=='",
        (),
        lambda rows: bool(rows),
    )
    rows = wait_for(
        database_url,
        "SELECT processing_status, processing_attempts, error_message, error_traceback FROM zoom_webhook_logs WHERE zoom_meeting_uuid = 'occ-poison=='",
        (),
        lambda rows: bool(rows) and rows[0][0] == "failed",
    )
    status, attempts, error, trace = rows[0]
    assert (status, attempts) == ("failed", 3)
    assert "NumericValueOutOfRange" in error and "Traceback" in trace
    [(_key, letter)] = recording_messages(f"{topic_prefix}zoom.webhooks.dead-letter", 1)
    assert letter["attempts"] == 3 and "NumericValueOutOfRange" in letter["error"]
    assert json.loads(base64.b64decode(letter["value"]))["webhook_id"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM zoom_recordings WHERE zoom_recording_id = 'occ-poison=='"
        ).fetchone() == (0,)


def test_every_arrival_order_of_two_tokens_and_a_transcript_gives_the_same_rows(
    running: Pipeline, database_url: str
) -> None:
    orders = list(itertools.permutations(["tok-1", "tok-2", "transcript"]))
    for n, order in enumerate(orders):
        occurrence = f"perm-{n}=="
        for step in order:
            if step == "transcript":
                post(running, transcript(occurrence, 1_764_500_000_000))
            else:
                post(
                    running,
                    completed(
                        occurrence,
                        step,
                        1_764_498_000_000 if step == "tok-1" else 1_764_499_000_000,
                    ),
                )
    wait_for(
        database_url,
        "SELECT count(*) FROM zoom_webhook_logs WHERE processing_status = 'completed'",
        (),
        lambda rows: rows[0][0] == 3 * len(orders),
    )
    with psycopg.connect(database_url) as conn:
        recordings = conn.execute(
            "SELECT status, is_published, download_token, download_token_expires_at, recording_start,"
            " recording_end, duration_seconds, total_size_bytes, topic FROM zoom_recordings ORDER BY zoom_recording_id"
        ).fetchall()
        files = conn.execute(
            "SELECT r.zoom_recording_id, f.zoom_file_id, f.file_type, f.processing_status, f.download_url, f.file_size_bytes,"
            " f.download_token, f.download_token_expires_at"
            " FROM zoom_recording_files f JOIN zoom_recordings r ON r.id = f.recording_id ORDER BY 1, 2"
        ).fetchall()
    assert len(recordings) == len(orders)
    assert len(set(recordings)) == 1, recordings
    by_recording: dict[str, list[tuple[Any, ...]]] = {}
    for row in files:
        by_recording.setdefault(row[0], []).append(row[1:])
    assert len({tuple(v) for v in by_recording.values()}) == 1, by_recording
    assert recordings[0][2] == "tok-2"
    # each file keeps the token of the webhook that brought it: the transcript's its own
    assert [(f[0], f[5]) for f in next(iter(by_recording.values()))] == [
        ("file-mp4-1", "tok-2"),
        ("file-timeline-1", "tok-2"),
        ("file-transcript-1", "tok-t"),
    ]


def test_auto_publish_publishes_once_when_the_recording_becomes_available(
    running: Pipeline, database_url: str
) -> None:
    """The event's auto_publish_recordings (copied to the recording) publishes it when its video
    is done, not while it is processing; an unpublished one is never published again."""
    occurrence = "auto-pub=="
    processing = completed(occurrence, "tok-1", 1_764_498_000_000)
    for f in processing["payload"]["object"]["recording_files"]:
        f["status"] = "processing"
    post(running, processing)
    wait_for(
        database_url,
        "SELECT status, is_published, published_at FROM zoom_recordings",
        (),
        lambda rows: rows == [("processing", False, None)],
    )
    post(running, completed(occurrence, "tok-2", 1_764_499_000_000))
    done = wait_for(
        database_url,
        "SELECT status, is_published, extract(epoch FROM published_at)::bigint FROM zoom_recordings",
        (),
        lambda rows: rows[0][0] == "available",
    )
    assert done == [("available", True, 1_764_499_000)]  # the webhook's time: a rebuild agrees
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE zoom_recordings SET is_published = false")  # as unpublish does
    post(running, completed(occurrence, "tok-3", 1_764_500_000_000))
    wait_for(
        database_url,
        "SELECT download_token, is_published FROM zoom_recordings",
        (),
        lambda rows: rows[0][0] == "tok-3",
    )
    assert state(database_url, occurrence)[1] is False


def test_a_recurring_meeting_id_keeps_each_occurrence_with_its_first_matched_event(
    running: Pipeline, database_url: str
) -> None:
    recurring = "81234567890"
    with psycopg.connect(database_url) as conn:
        first = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('Series, week 1', %s) RETURNING id",
            (recurring,),
        ).fetchone()
    post(
        running,
        zoom_event("meeting.started", meeting_object(recurring, "week1=="), 1_764_400_000_000),
    )
    wait_for(
        database_url,
        "SELECT event_id FROM zoom_webhook_logs WHERE zoom_meeting_uuid = 'week1=='",
        (),
        lambda rows: bool(rows),
    )
    with psycopg.connect(database_url) as conn:
        second = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('Series, week 2', %s) RETURNING id",
            (recurring,),
        ).fetchone()
    post(running, completed("week1==", "t1", 1_764_410_000_000, meeting=recurring))
    post(running, completed("week2==", "t2", 1_764_420_000_000, meeting=recurring))
    rows = wait_for(
        database_url,
        "SELECT zoom_recording_id, event_id FROM zoom_recordings WHERE zoom_meeting_id = %s ORDER BY 1",
        (recurring,),
        lambda rows: len(rows) == 2,
    )
    assert first is not None and second is not None
    assert rows == [("week1==", first[0]), ("week2==", second[0])]


def test_a_recording_expires_on_zooms_auto_delete_date(
    pipeline: Pipeline, database_url: str, topic_prefix: str
) -> None:
    """From a recording.completed with auto_delete_date (Zoom's documented form, a date): one
    whose date has passed lands expired; one that expires later is marked so by the worker
    between its webhooks, and its state is published."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('Cardiology', %s)", (MEETING,)
        )
    pipeline.env["RECORDING_EXPIRY_CHECK_SECONDS"] = "1"
    pipeline.start_ingest()
    pipeline.start_worker()
    post(
        pipeline,
        completed(
            "occ-gone==", "t1", 1_764_500_000_000, auto_delete=True, auto_delete_date="2026-11-01"
        ),
    )
    post(
        pipeline,
        completed(
            "occ-later==", "t2", 1_764_500_000_000, auto_delete=True, auto_delete_date="2099-01-01"
        ),
    )
    rows = wait_for(
        database_url,
        "SELECT zoom_recording_id, status, zoom_expires_at FROM zoom_recordings ORDER BY 1",
        (),
        lambda rows: len(rows) == 2,
    )
    assert [(r[0], r[1], r[2].isoformat()) for r in rows] == [
        ("occ-gone==", "expired", "2026-11-01T00:00:00+00:00"),
        ("occ-later==", "available", "2099-01-01T00:00:00+00:00"),
    ]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE zoom_recordings SET zoom_expires_at = now() + interval '2 seconds'"
            " WHERE zoom_recording_id = 'occ-later=='"
        )
    wait_for(
        database_url,
        "SELECT status FROM zoom_recordings WHERE zoom_recording_id = 'occ-later=='",
        (),
        lambda rows: rows == [("expired",)],
        timeout=60,
    )
    states = recording_messages(f"{topic_prefix}zoom.recordings", 3)
    latest = {key: value for key, value in states}
    assert latest[b"occ-later=="]["status"] == "expired"
    assert latest[b"occ-gone=="]["status"] == "expired"


def test_files_still_processing_are_completed_from_zooms_api(
    pipeline: Pipeline, database_url: str, topic_prefix: str
) -> None:
    """No webhook completes a video left processing: the leader asks Zoom's API (a fake Zoom, a
    real HTTP server), marks the file completed, and the recording becomes available and is
    published; it asks once, not once per run."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('Cardiology', %s)", (MEETING,)
        )
    webhook = completed("occ-slow==", "t1", 1_764_500_000_000)
    files = webhook["payload"]["object"]["recording_files"]
    video = next(f for f in files if f["file_type"] == "MP4")
    video["status"] = "processing"
    with running_fake_zoom() as zoom:
        zoom.add_recording(
            "occ-slow==", recording_files=[{**video, "status": "completed", "file_size": 531_000}]
        )
        pipeline.env.update(zoom.client_env(), ZOOM_PROCESSING_CHECK_SECONDS="1")
        pipeline.start_ingest()
        pipeline.start_worker()
        post(pipeline, webhook)
        wait_for(
            database_url,
            "SELECT r.status, f.processing_status, f.file_size_bytes, r.zoom_checked_at IS NOT NULL"
            " FROM zoom_recordings r JOIN zoom_recording_files f ON f.recording_id = r.id"
            " WHERE f.zoom_file_id = %s",
            (video["id"],),
            lambda rows: rows == [("available", "completed", 531_000, True)],
            timeout=60,
        )
        assert zoom.calls(RECORDINGS) == 1
        wait_for(  # the worker's client logs its attempts too (issue 17.4)
            database_url,
            "SELECT operation, status_code, meeting_uuid, recording_id FROM external_api_calls"
            " ORDER BY id",
            (),
            lambda rows: (
                rows
                == [
                    ("oauth_token", 200, None, None),
                    ("get_meeting_recordings", 200, "occ-slow==", "occ-slow=="),
                ]
            ),
            timeout=30,
        )
    states = recording_messages(f"{topic_prefix}zoom.recordings", 2)
    assert [state["status"] for key, state in states if key == b"occ-slow=="] == [
        "processing",
        "available",
    ]
