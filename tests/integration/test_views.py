"""View counting end to end: 10,000 progress beacons from 500 viewers, with retried beacons and
a worker killed and restarted in the middle → exact counters, completions and LMS progress."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.integration.conftest import Pipeline
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
