"""View counting end to end: 10,000 progress beacons from 500 viewers, with retried beacons and
a worker killed and restarted in the middle → exact counters, completions and LMS progress; a
view whose write fails is dead-lettered and its partition goes on."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from confluent_kafka import Producer
from psycopg.rows import dict_row

from schemas import DeadLetter
from schemas.topics import RECORDING_VIEW_DEAD_LETTERS, RECORDING_VIEWS
from schemas.view_event import RecordingViewEvent
from streams.runtime.ranges import Offsets, Range, RangeReader
from tests.integration.conftest import BOOTSTRAP, Pipeline, wait_for, wait_for_group
from tests.polling import poll

pytestmark = pytest.mark.integration
JWT_SECRET = "platform-jwt-secret-for-the-view-tests-0123456789abcdef"
DURATION = 10  # seconds: completion needs 9 s of watched time
HONEST, PARTIAL, SEEKERS = range(0, 250), range(250, 400), range(400, 500)
ROUNDS = 24
GAP = 0.6  # seconds between one round's last answer and the next round: > each beacon's claim
CLAIM = 0.5  # seconds watched, as each beacon says


def setup_world(database_url: str) -> tuple[str, list[str], int, int]:
    with psycopg.connect(database_url) as conn:
        organizer = conn.execute(
            "INSERT INTO users (email, name) VALUES ('org@x.org', 'Org') RETURNING id"
        ).fetchone()
        assert organizer is not None
        event = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id, organizer_id)"
            " VALUES ('CPD webinar', '81234567890', %s) RETURNING id",
            (organizer[0],),
        ).fetchone()
        assert event is not None
        users = conn.execute(
            "INSERT INTO users (email, name) SELECT 'v' || n || '@x.org', 'Viewer ' || n"
            " FROM generate_series(0, 499) AS n ORDER BY n RETURNING uuid, id"
        ).fetchall()
        conn.execute(
            "INSERT INTO registrations (event_id, user_id, email, status)"
            " SELECT %s, id, email, 'confirmed' FROM users WHERE id <> %s",
            (event[0], organizer[0]),
        )
        recording = conn.execute(
            "INSERT INTO zoom_recordings (event_id, zoom_meeting_id, zoom_meeting_uuid,"
            " zoom_recording_id, recording_start, recording_end, duration_seconds, status,"
            " is_published, source_event_at) VALUES (%s, '81234567890', 'occ', 'occ',"
            " now() - interval '1 hour', now(), %s, 'available', true, now()) RETURNING id, uuid",
            (event[0], DURATION),
        ).fetchone()
        assert recording is not None
        content = conn.execute(
            "INSERT INTO module_contents (event_id, content_type, zoom_recording_id)"
            " VALUES (%s, 'recording', %s) RETURNING id",
            (event[0], recording[0]),
        ).fetchone()
        assert content is not None
    ordered = sorted(users, key=lambda row: row[1])
    return str(recording[1]), [str(u) for u, _ in ordered], recording[0], content[0]


def bearer(user: str) -> dict[str, str]:
    token = jwt.encode({"sub": user, "exp": int(time.time()) + 3600}, JWT_SECRET, "HS256")
    return {"Authorization": f"Bearer {token}"}


def beacons_of(viewer: int) -> int:
    return ROUNDS if viewer in HONEST else 15 if viewer in PARTIAL else 4


Call = tuple[str, str, dict[str, str], dict[str, Any] | None]


async def send_round(client: httpx.AsyncClient, calls: list[Call]) -> list[int]:
    limit = asyncio.Semaphore(48)

    async def one(method: str, path: str, headers: dict[str, str], body: Any) -> int:
        async with limit:
            for _attempt in range(10):  # 503 means "not stored, try again", as a player would
                response = await client.request(method, path, headers=headers, json=body)
                if response.status_code != 503:
                    break
                await asyncio.sleep(0.5)
            return response.status_code

    return await asyncio.gather(*(one(*call) for call in calls))


def test_ten_thousand_beacons_with_retries_and_a_worker_restart(
    pipeline: Pipeline, database_url: str
) -> None:
    recording, users, recording_id, content_id = setup_world(database_url)
    pipeline.env["PLATFORM_JWT_SECRET"] = JWT_SECRET
    pipeline.start_ingest()
    pipeline.start_worker()
    headers = [bearer(user) for user in users]
    base = f"/api/recordings/{recording}"

    async def drive() -> int:
        sent = 0
        async with httpx.AsyncClient(base_url=pipeline.url, timeout=30) as client:
            views: list[Call] = [("GET", f"{base}/access/", headers[v], None) for v in range(500)]
            views += [("GET", f"{base}/access/", headers[v], None) for v in range(0, 500, 10)]
            assert set(await send_round(client, views)) == {200}
            for round_ in range(1, ROUNDS + 1):
                await asyncio.sleep(GAP)
                calls: list[Call] = []
                for v in range(500):
                    if round_ > beacons_of(v):
                        continue
                    position = DURATION if v in SEEKERS else round_ * CLAIM
                    body: dict[str, Any] = {
                        "position_seconds": position,
                        "watch_seconds": CLAIM,
                        "beacon_id": f"{v}-{round_}",
                    }
                    calls.append(("POST", f"{base}/progress/", headers[v], body))
                    if (v + round_) % 6 == 0:  # a player retrying a beacon it saw time out
                        calls.append(("POST", f"{base}/progress/", headers[v], body))
                answers = await send_round(client, calls)
                assert set(answers) == {202}, answers
                sent += len(answers)
                if round_ == ROUNDS // 2:
                    pipeline.kill("worker")  # kill -9 with batches in flight
                    pipeline.start_worker()
        return sent

    sent = asyncio.run(drive())
    assert sent >= 10_000

    expected_watch = (
        len(HONEST) * ROUNDS * CLAIM + len(PARTIAL) * 15 * CLAIM + len(SEEKERS) * 4 * CLAIM
    )

    def watched() -> float:
        with psycopg.connect(database_url) as probe:
            row = probe.execute(
                "SELECT COALESCE(sum(watch_seconds_exact), 0) FROM recording_views"
            ).fetchone()
        return float(row[0]) if row else 0.0

    poll(
        watched,
        until=lambda total: total >= expected_watch,
        what=f"{expected_watch} s of watched time",
        timeout=180,
        interval=1,
        raise_on_timeout=False,
    )
    time.sleep(3)  # anything still in flight would show as a surplus now
    with psycopg.connect(database_url, row_factory=dict_row) as reader:
        views = reader.execute(
            "SELECT v.*, r.user_id FROM recording_views v"
            " JOIN registrations r ON r.id = v.registration_id"
        ).fetchall()
        counters = reader.execute(
            "SELECT view_count, unique_viewers FROM zoom_recordings WHERE id = %s", (recording_id,)
        ).fetchone()
        progress = reader.execute(
            "SELECT p.*, r.user_id FROM content_progress p"
            " JOIN registrations r ON r.id = p.registration_id WHERE p.content_id = %s",
            (content_id,),
        ).fetchall()
        user_ids = [
            user["id"] for user in reader.execute("SELECT id FROM users ORDER BY id").fetchall()
        ]
    viewer_of = {user_id: index for index, user_id in enumerate(user_ids[1:])}  # [0]: organizer

    assert sum(v["watch_seconds_exact"] for v in views) == expected_watch, pipeline.log("worker")
    assert counters == {"view_count": 550, "unique_viewers": 500}
    assert len(views) == 500 and len(progress) == 500
    for view in views:
        v = viewer_of[view["user_id"]]
        assert view["view_count"] == (2 if v % 10 == 0 else 1)
        expect: tuple[float, float, bool]
        if v in HONEST:
            expect = (ROUNDS * CLAIM, DURATION, True)
        elif v in PARTIAL:
            expect = (15 * CLAIM, 15 * CLAIM, False)
        else:  # seeking to the end is not watching it (spec defect 15)
            expect = (4 * CLAIM, DURATION, False)
        assert (
            view["watch_seconds_exact"],
            view["max_position_seconds"],
            view["completed"],
        ) == (expect[0], int(expect[1]), expect[2]), (v, view)
    for item in progress:
        v = viewer_of[item["user_id"]]
        done = v in HONEST
        assert (item["status"], item["video_completed"]) == (
            "completed" if done else "in_progress",
            done,
        )
        assert (item["completed_at"] is not None) == done


def letters_in(topic: str) -> list[DeadLetter]:
    """Every dead letter of `topic`, read once from its start."""
    offsets = Offsets(BOOTSTRAP)
    try:
        ranges = [Range(topic, p, 0, offsets.end(topic, p)) for p in offsets.partitions(topic)]
    finally:
        offsets.close()
    reader = RangeReader(BOOTSTRAP, ranges)
    try:
        return [DeadLetter.model_validate_json(d.value) for d in reader.read_all(timeout=30)]
    finally:
        reader.close()


def test_a_view_of_a_deleted_recording_is_dead_lettered_and_the_rest_are_written(
    pipeline: Pipeline, database_url: str, topic_prefix: str
) -> None:
    with psycopg.connect(database_url) as conn:
        event = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('CPD', '81234567891') RETURNING id"
        ).fetchone()
        assert event is not None
        registrations = [
            row[0]
            for row in conn.execute(
                "INSERT INTO registrations (event_id, email, status) SELECT %s, 'r' || n || '@x.org',"
                " 'confirmed' FROM generate_series(1, 2) n ORDER BY n RETURNING id",
                (event[0],),
            ).fetchall()
        ]
        recordings = {
            name: conn.execute(
                "INSERT INTO zoom_recordings (event_id, zoom_meeting_id, zoom_meeting_uuid,"
                " zoom_recording_id, recording_start, recording_end, duration_seconds, status,"
                " is_published, source_event_at) VALUES (%s, '81234567891', %s, %s,"
                " now() - interval '1 hour', now(), 600, 'available', true, now())"
                " RETURNING id, uuid",
                (event[0], name, name),
            ).fetchone()
            for name in ("kept", "gone")
        }
        conn.execute("DELETE FROM zoom_recordings WHERE zoom_recording_id = 'gone'")
    kept, gone = recordings["kept"], recordings["gone"]
    assert kept is not None and gone is not None
    pipeline.start_worker()
    views_topic = f"{topic_prefix}{RECORDING_VIEWS}"
    wait_for_group(pipeline.worker_group, views_topic, lambda members: len(members) == 1)

    now = datetime.now(tz=UTC)

    def view(recording: tuple[Any, Any], registration: int, second: int, **extra: Any) -> bytes:
        return (
            RecordingViewEvent(
                view_id=uuid.uuid4(),
                kind="progress" if extra else "view",
                recording_id=recording[0],
                recording_uuid=recording[1],
                event_id=event[0],
                registration_id=registration,
                duration_seconds=600,
                received_at=now + timedelta(seconds=second),
                **extra,
            )
            .model_dump_json()
            .encode()
        )

    first, second = registrations
    # One partition: the bad event among good ones. The last names the recording by an id it no
    # longer has (as an event read again after a rebuild would): the uuid decides.
    values = [
        view(kept, first, 0),
        view(gone, first, 1),
        view(kept, second, 2),
        view((kept[0] + 1000, kept[1]), first, 5, position_seconds=5.0, watch_seconds=4.0),
    ]
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    for value in values:
        producer.produce(views_topic, key=str(kept[1]).encode(), value=value, partition=0)
    assert producer.flush(30) == 0

    rows = wait_for(
        database_url,
        "SELECT registration_id, recording_id, view_count, total_watch_seconds"
        " FROM recording_views ORDER BY registration_id",
        (),
        lambda found: len(found) == 2 and found[0][3] == 4,
    )
    assert rows == [(first, kept[0], 1, 4), (second, kept[0], 1, 0)]
    with psycopg.connect(database_url) as conn:
        counters = conn.execute(
            "SELECT view_count, unique_viewers FROM zoom_recordings WHERE id = %s", (kept[0],)
        ).fetchone()
    assert counters == (2, 2)
    dead = f"{topic_prefix}{RECORDING_VIEW_DEAD_LETTERS}"
    letters = poll(
        lambda: letters_in(dead), what=f"a dead letter on {dead}", timeout=30, interval=0.5
    )
    assert [(letter.partition, letter.offset, letter.value) for letter in letters] == [
        (0, 1, values[1])
    ]
    assert f"recording {gone[1]} does not exist" in letters[0].error, letters[0].error
    offsets = Offsets(BOOTSTRAP, pipeline.worker_group)
    try:
        poll(
            lambda: offsets.resume(views_topic, 0),
            until=lambda committed: committed == len(values),
            what="the group to commit the partition past the dead letter",
            timeout=60,
        )
    finally:
        offsets.close()
    pipeline.assert_running("worker")
