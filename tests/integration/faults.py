"""Helpers of the fault tests (tests/integration/test_faults.py, test_worker_faults.py): a
platform to match, steady traffic, a sender that counts what was accepted, and the checks that
nothing was lost, nothing doubled, and the derived tables equal a clean run's."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from ingest import delivery_id
from tests.conftest import SECRET
from tests.integration.conftest import (
    Pipeline,
)
from tests.integration.derived import checksums, replay
from zoomstream.samples import dumps, meeting_burst, sign


def platform_rows(database_url: str, meetings: int) -> None:
    """The same events and registrations, with the same ids, in any fresh database."""
    with psycopg.connect(database_url) as conn:
        for n in range(meetings):
            event = conn.execute(
                "INSERT INTO events (title, zoom_meeting_id, auto_publish_recordings)"
                " VALUES (%s, %s, true) RETURNING id",
                (f"Session {n}", str(82_000_000_000 + n)),
            ).fetchone()
            assert event is not None
            for p in range(0, 30, 3):
                conn.execute(
                    "INSERT INTO registrations (event_id, email) VALUES (%s, %s)",
                    (event[0], f"person{p}@example.org"),
                )


def traffic(meetings: int, participants: int) -> list[bytes]:
    start = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(hours=2)
    bodies = []
    for n in range(meetings):
        events = meeting_burst(str(82_000_000_000 + n), f"f{n}==", start, participants)
        bodies += [dumps(e) for e in events]
    return bodies


class Sender:
    """Posts bodies from a few threads, spread over time; remembers what was answered 200."""

    def __init__(self, url: str, bodies: list[bytes], seconds: float) -> None:
        self.url, self.bodies, self.gap = url, bodies, seconds / max(1, len(bodies))
        self.accepted: set[str] = set()
        self.refused = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run)

    def _post(self, body: bytes) -> None:
        try:
            response = httpx.post(
                f"{self.url}/webhooks/zoom",
                content=body,
                headers=sign(SECRET.encode(), body, int(time.time())),
                timeout=10,
            )
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        with self._lock:
            if ok:
                self.accepted.add(delivery_id(body))
            else:
                self.refused += 1

    def _run(self) -> None:
        with ThreadPoolExecutor(8) as pool:
            for body in self.bodies:
                pool.submit(self._post, body)
                time.sleep(self.gap)

    def __enter__(self) -> Sender:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()

    def resend_refused(self) -> None:
        """What a sender does after a 503: try again, until each one is accepted."""
        for body in self.bodies:
            while delivery_id(body) not in self.accepted:
                self._post(body)


def logged_once(database_url: str, accepted: set[str]) -> None:
    with psycopg.connect(database_url) as conn:
        ids = [row[0] for row in conn.execute("SELECT webhook_id FROM zoom_webhook_logs")]
    assert len(ids) == len(set(ids)), "a delivery logged twice"
    assert accepted <= set(ids), f"{len(accepted - set(ids))} accepted webhooks are missing"


def same_as_clean_run(pipeline: Pipeline, database_url: str, clean_database_url: str) -> None:
    # Not `wait_workers_caught_up`: after a worker stalled past its session and resumed, its
    # group had committed no offset for 5 of 8 partitions a minute later, though every row was
    # written (CI, 2026-12-02). That is a defect of its own (issue 20's note); what this compares
    # is the rows, once the last batch has had time to commit.
    time.sleep(2)
    pipeline.stop_all()
    env = dict(pipeline.env)
    pipeline.env["DATABASE_URL"] = clean_database_url
    try:
        replay(pipeline, datetime.now(tz=UTC) - timedelta(hours=1), datetime.now(tz=UTC))
    finally:
        pipeline.env = env
    assert checksums(database_url) == checksums(clean_database_url)
