"""Faults in the middle of a stream: PostgreSQL stopped, the Kafka broker restarted, ingest
restarted under load. Every webhook answered 200 ends up in zoom_webhook_logs exactly once, and
the derived tables equal those of a clean run (a replay of the same topic into a fresh
database). Short here; `bench` runs them longer (FAULT_SECONDS)."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from ingest import delivery_id
from tests.conftest import SECRET
from tests.integration.conftest import (
    Pipeline,
    count_rows,
    create_database,
    free_port,
    wait_for_rows,
)
from tests.integration.derived import checksums, replay
from zoomstream.samples import dumps, meeting_burst, sign
from zoomstream.stack import KafkaBroker, LocalPostgres

pytestmark = pytest.mark.integration
FAULT_SECONDS = float(os.environ.get("FAULT_SECONDS", "8"))


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
    time.sleep(2)
    pipeline.stop_all()
    env = dict(pipeline.env)
    pipeline.env["DATABASE_URL"] = clean_database_url
    try:
        replay(pipeline, datetime.now(tz=UTC) - timedelta(hours=1), datetime.now(tz=UTC))
    finally:
        pipeline.env = env
    assert checksums(database_url) == checksums(clean_database_url)


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    """A PostgreSQL cluster of this test's own, to stop and start (the shared one serves the
    other tests, and DATABASE_URL may name a server the test does not own)."""
    server = LocalPostgres(home=tmp_path / "postgres", port=free_port())
    server.up()
    yield server
    server.down()
    shutil.rmtree(server.data, ignore_errors=True)


def test_postgres_stopped_mid_stream(
    pipeline: Pipeline, clean_database_url: str, private_postgres: LocalPostgres
) -> None:
    database_url = create_database(private_postgres.url)
    platform_rows(database_url, 3)
    platform_rows(clean_database_url, 3)
    bodies = traffic(3, 30)
    pipeline.env["DATABASE_URL"] = database_url
    pipeline.start_ingest()
    pipeline.start_worker()
    with Sender(pipeline.url, bodies, seconds=FAULT_SECONDS * 2) as sender:
        deadline = time.monotonic() + 60
        while count_rows(database_url) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        private_postgres.down()  # the worker's transactions fail; ingest goes on accepting
        try:
            time.sleep(FAULT_SECONDS)
        finally:
            private_postgres.up()
    sender.resend_refused()
    assert wait_for_rows(database_url, len(bodies)) == len(bodies)
    logged_once(database_url, sender.accepted)
    same_as_clean_run(pipeline, database_url, clean_database_url)


def test_broker_restart_and_ingest_restart_under_load(
    pipeline: Pipeline,
    database_url: str,
    clean_database_url: str,
    private_broker: KafkaBroker,
) -> None:
    platform_rows(database_url, 4)
    platform_rows(clean_database_url, 4)
    bodies = traffic(4, 30)
    pipeline.env["KAFKA_BOOTSTRAP_SERVERS"] = private_broker.bootstrap
    pipeline.start_ingest()
    pipeline.start_worker()
    with Sender(pipeline.url, bodies, seconds=FAULT_SECONDS * 3) as sender:
        time.sleep(FAULT_SECONDS * 0.5)
        private_broker.down()  # ingest answers 503 meanwhile: Zoom sends again
        time.sleep(FAULT_SECONDS * 0.5)
        private_broker.up()
        time.sleep(FAULT_SECONDS * 0.5)
        pipeline.kill("ingest", signal.SIGTERM)  # a deploy: in-flight requests finish first
        pipeline.start_ingest()
    assert sender.refused > 0, "the faults should have refused some requests"
    sender.resend_refused()
    assert wait_for_rows(database_url, len(bodies), timeout=180) == len(bodies)
    logged_once(database_url, sender.accepted)
    same_as_clean_run(pipeline, database_url, clean_database_url)
