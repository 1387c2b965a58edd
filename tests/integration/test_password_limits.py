"""Password guessing on `GET /api/recordings/{uuid}/access/` is held off (issue 15): past the
failures a caller or a recording may have within the window, the answer is 429 with Retry-After
and no hash is computed; the counters live in PostgreSQL, so two API processes share them."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import jwt
import psycopg
import pytest

from ingest.passwords import hash_password
from schemas.settings import Settings
from tests.integration.conftest import Pipeline
from zoomstream.topics import ensure_topics

pytestmark = pytest.mark.integration

JWT_SECRET = "platform-jwt-secret-for-the-password-tests-0123456789"
PASSWORD = "open sesame"
WINDOW_SECONDS = 4


@dataclass
class Recording:
    uuid: str
    users: list[str]
    """Signed-in users (their uuids): each another caller than the anonymous address."""


def insert_recording(database_url: str) -> Recording:
    with psycopg.connect(database_url) as conn:
        organizer = conn.execute(
            "INSERT INTO users (email, name) VALUES ('org@x.org', 'org') RETURNING id"
        ).fetchone()
        users = [
            str(row[0])
            for n in range(5)
            for row in [
                conn.execute(
                    "INSERT INTO users (email, name) VALUES (%s, 'u') RETURNING uuid",
                    (f"u{n}@x.org",),
                ).fetchone()
                or ("",)
            ]
        ]
        assert organizer is not None
        event = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id, organizer_id)"
            " VALUES ('Ethics', '81234567890', %s) RETURNING id",
            (organizer[0],),
        ).fetchone()
        assert event is not None
        row = conn.execute(
            "INSERT INTO zoom_recordings (event_id, zoom_meeting_id, zoom_meeting_uuid,"
            " zoom_recording_id, recording_start, recording_end, duration_seconds, status,"
            " access_level, is_published, access_password_hash, source_event_at)"
            " VALUES (%s, '81234567890', 'occ-pw', 'occ-pw', now() - interval '1 hour', now(),"
            " 3600, 'available', 'public', true, %s, now()) RETURNING uuid",
            (event[0], hash_password(PASSWORD)),
        ).fetchone()
        assert row is not None
    return Recording(str(row[0]), users)


def metric(url: str, name: str, label: str) -> float:
    """A counter of an API process's /metrics (0 while never counted)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.search(rf'^{name}_total\{{[a-z]+="{label}"\}} ([0-9.e+]+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def hashes(url: str) -> float:
    """Password hashes the process computed: accepted and rejected attempts."""
    name = "zoomstream_recording_password_attempts"
    return metric(url, name, "accepted") + metric(url, name, "rejected")


@dataclass
class Api:
    urls: list[str]
    recording: Recording

    def access(self, url: str, password: str, user: str | None = None) -> httpx.Response:
        headers = {"X-Recording-Password": password}
        if user is not None:
            token = jwt.encode(
                {"sub": user, "exp": int(time.time()) + 300}, JWT_SECRET, algorithm="HS256"
            )
            headers["Authorization"] = f"Bearer {token}"
        return httpx.get(
            f"{url}/api/recordings/{self.recording.uuid}/access/", headers=headers, timeout=30
        )


@pytest.fixture
def api(pipeline: Pipeline, database_url: str) -> Iterator[Callable[[int], Api]]:
    """`api(n)`: n API processes (`zoomstream ingest --only api`) on one database, each caller
    allowed 3 failures and each recording 6 within the window."""
    pipeline.env.update(
        PLATFORM_JWT_SECRET=JWT_SECRET,
        PASSWORD_FAILURES_PER_CALLER="3",
        PASSWORD_FAILURES_PER_RECORDING="6",
        PASSWORD_FAILURE_WINDOW_SECONDS=str(WINDOW_SECONDS),
    )
    ensure_topics_for(pipeline)
    recording = insert_recording(database_url)

    def start(count: int) -> Api:
        urls = [pipeline.start_ingest(name=f"api-{n}", only="api") for n in range(count)]
        return Api(urls, recording)

    yield start


def ensure_topics_for(pipeline: Pipeline) -> None:
    ensure_topics(
        Settings(
            _env_file=None,
            kafka_bootstrap_servers=pipeline.env["KAFKA_BOOTSTRAP_SERVERS"],
            topic_prefix=pipeline.env["TOPIC_PREFIX"],
        )
    )


def test_a_caller_is_locked_out_without_a_hash_and_another_still_gets_in(
    api: Callable[[int], Api],
) -> None:
    one = api(1)
    [url] = one.urls
    assert [one.access(url, "guess").status_code for _ in range(3)] == [403] * 3
    assert hashes(url) == 3
    refused = one.access(url, "guess")
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW_SECONDS
    assert one.access(url, PASSWORD).status_code == 429  # the right password too: locked out
    assert hashes(url) == 3  # nothing was hashed for the refused attempts
    assert metric(url, "zoomstream_recording_password_attempts", "locked_out") == 2
    assert metric(url, "zoomstream_recording_password_lockouts", "caller") == 1

    # A signed-in user is another caller: the recording itself is not locked (3 < 6).
    assert one.access(url, PASSWORD, user=one.recording.users[0]).status_code == 200
    assert hashes(url) == 4


def test_the_lockout_ends_with_its_window(api: Callable[[int], Api]) -> None:
    one = api(1)
    [url] = one.urls
    for _ in range(3):
        one.access(url, "guess")
    assert one.access(url, PASSWORD).status_code == 429
    time.sleep(WINDOW_SECONDS + 0.5)
    assert one.access(url, PASSWORD).status_code == 200


def test_two_api_processes_share_the_counts(api: Callable[[int], Api]) -> None:
    two = api(2)
    first, second = two.urls
    # Failures alternate between the processes; the third reaches the caller's limit.
    assert [two.access(u, "guess").status_code for u in (first, second, first)] == [403] * 3
    # The second process has never seen a lockout; PostgreSQL's count refuses it all the same.
    assert two.access(second, PASSWORD).status_code == 429
    assert hashes(first) + hashes(second) == 3

    # Guessers at many addresses are held off by the recording's own limit (6): signed-in
    # users stand in for them here, one failure each after the three above.
    users = two.recording.users
    statuses = [two.access(second, "guess", user=user).status_code for user in users[:3]]
    assert statuses == [403, 403, 403]  # failures 4 to 6 of the recording
    # A caller who never failed, with the right password: the recording is locked for all.
    assert two.access(first, PASSWORD, user=users[3]).status_code == 429
    assert hashes(first) + hashes(second) == 6
