"""Faults in the middle of a stream: PostgreSQL stopped, the Kafka broker restarted, ingest
restarted under load. Every webhook answered 200 ends up in zoom_webhook_logs exactly once, and
the derived tables equal those of a clean run (a replay of the same topic into a fresh
database). Short here; `bench` runs them longer (FAULT_SECONDS)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    Pipeline,
    create_database,
    free_port,
    wait_for_rows,
)
from tests.integration.faults import Sender, logged_once, platform_rows, same_as_clean_run, traffic
from zoomstream.stack import KafkaBroker, LocalPostgres

pytestmark = pytest.mark.integration
FAULT_SECONDS = float(os.environ.get("FAULT_SECONDS", "8"))


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
    pipeline.wait_worker_assigned()
    with Sender(pipeline.url, bodies, seconds=FAULT_SECONDS * 2) as sender:
        wait_for_rows(database_url, 20, timeout=60, interval=0.2)
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
    pipeline.wait_worker_assigned()
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
