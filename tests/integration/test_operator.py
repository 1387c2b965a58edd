"""Issue 20, an operator's first minutes, through the real command line: a known problem is one
line on stderr naming the setting or service and what to do, with an exit status of its own and
no secret in it; ingest and the worker wait for their services; `zoomstream check` says what is
ready."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from confluent_kafka import Consumer

from schemas import RawWebhookEnvelope
from schemas.settings import Settings
from schemas.topics import ZOOM_RAW, topic_specs
from tests.conftest import signed
from tests.integration.conftest import (
    BOOTSTRAP,
    ROOT,
    Pipeline,
    drop_database,
    empty_database,
    free_port,
    messages_in_topic,
)
from tests.integration.faults import Sender, traffic
from tests.polling import poll
from zoomstream.problems import ExitStatus, database_location
from zoomstream.samples import meeting_object, zoom_event
from zoomstream.stack import KafkaBroker
from zoomstream.topics import ensure_topics

pytestmark = pytest.mark.integration

# Planted in the environment of every command: none may appear in what it prints.
DB_PASSWORD = "pg-pw-4e9d1a"
PLANTED = {
    "ZOOM_WEBHOOK_SECRET": "zoom-secret-7c2f90",
    "SMTP_PASSWORD": "smtp-secret-1b8e44",
    "PLATFORM_JWT_SECRET": "jwt-secret-a05c3d",
    "MAILGUN_SIGNING_KEY": "mailgun-key-66f0e2",
}
SECRETS = [DB_PASSWORD, *PLANTED.values()]
MIGRATION_FOLDER = ROOT / "zoomstream" / "migrations" / "pipeline"


def zoomstream(
    *args: str, env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`zoomstream <args>` as an operator runs it, in a folder of its own (no .env) with only
    `env` (and PATH); its output, never checked by this helper."""
    done = subprocess.run(
        [sys.executable, "-m", "zoomstream", *args],
        env={"PATH": os.environ["PATH"], **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr, f"a secret in the output of {args}"
    return done


def unreachable_database() -> str:
    return f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{free_port()}/zoomstream"


def message(done: subprocess.CompletedProcess[str]) -> str:
    """The known problem's line: the last of stderr, alone but for log lines before it."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    assert lines[-1].startswith("zoomstream: "), done.stderr
    return lines[-1]


@pytest.mark.parametrize("command", [["ingest"], ["worker"], ["migrate"], ["cleanup"]])
def test_a_malformed_setting_is_named_without_its_value(tmp_path: Path, command: list[str]) -> None:
    env = {**PLANTED, "SIGNATURE_TOLERANCE_SECONDS": "abc", "DATABASE_URL": unreachable_database()}
    done = zoomstream(*command, env=env, cwd=tmp_path)
    assert done.returncode == ExitStatus.SETTINGS
    assert message(done) == (
        "zoomstream: invalid setting: SIGNATURE_TOLERANCE_SECONDS: Input should be a valid"
        " integer, unable to parse string as an integer — correct it in the environment or .env"
        " (README, Configuration)"
    )
    assert done.stderr.count("\n") == 1, "one line"
    assert "validation error" not in done.stderr and "pydantic" not in done.stderr


def test_settings_that_disagree_are_named_without_their_values(tmp_path: Path) -> None:
    env = {**PLANTED, "ZOOM_ACCOUNT_ID": "account-1", "ZOOM_CLIENT_SECRET": "client-secret-9a9a"}
    done = zoomstream("migrate", env=env, cwd=tmp_path)
    assert done.returncode == ExitStatus.SETTINGS
    assert "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET go together" in message(done)
    assert "client-secret-9a9a" not in done.stderr and "account-1" not in done.stderr


def test_ingest_without_the_zoom_secret_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in PLANTED.items() if k != "ZOOM_WEBHOOK_SECRET"}
    done = zoomstream("ingest", env=env, cwd=tmp_path)
    assert done.returncode == ExitStatus.SETTINGS
    assert message(done) == (
        "zoomstream: ZOOM_WEBHOOK_SECRET is not set (ingest verifies Zoom's signatures with the"
        " Zoom app's secret token) — set it in the environment or .env (README, Configuration)"
    )


def test_migrate_without_postgresql_names_it_and_hides_the_password(tmp_path: Path) -> None:
    url = unreachable_database()
    done = zoomstream("migrate", env={**PLANTED, "DATABASE_URL": url}, cwd=tmp_path)
    assert done.returncode == ExitStatus.POSTGRESQL
    port = url.rsplit(":", 1)[1].split("/")[0]
    line = message(done)
    assert line.startswith(f"zoomstream: cannot reach PostgreSQL at 127.0.0.1:{port}/zoomstream (")
    assert "Connection refused" in line
    assert line.endswith("— start it with `zoomstream stack up` or set DATABASE_URL")


def test_debug_shows_the_traceback_of_a_known_problem(tmp_path: Path) -> None:
    env = {**PLANTED, "DATABASE_URL": unreachable_database()}
    done = zoomstream("--debug", "migrate", env=env, cwd=tmp_path)
    assert done.returncode == ExitStatus.POSTGRESQL
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("zoomstream: cannot reach PostgreSQL")


@pytest.mark.parametrize("command", [["ingest", "--only", "webhooks"], ["worker"]])
def test_a_bounded_wait_for_kafka_logs_each_attempt_then_exits(
    tmp_path: Path, command: list[str]
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    env = {
        **PLANTED,
        "KAFKA_BOOTSTRAP_SERVERS": nowhere,
        "DATABASE_URL": unreachable_database(),
        "SERVICE_WAIT_SECONDS": "8",
        "WORKER_METRICS_PORT": "0",
        "INGEST_PORT": str(free_port()),
    }
    done = zoomstream(*command, env=env, cwd=tmp_path)
    assert done.returncode == ExitStatus.KAFKA
    line = message(done)
    assert line.startswith(f"zoomstream: cannot reach Kafka at {nowhere} (")
    assert "gave up after" in line and "(SERVICE_WAIT_SECONDS)" in line
    assert line.endswith("— start it with `zoomstream stack up` or set KAFKA_BOOTSTRAP_SERVERS")
    waits = [line for line in done.stderr.splitlines() if "waiting for Kafka (attempt" in line]
    # a line per attempt but the last (the message says how that one ended), 1 s, 2 s… apart
    assert len(waits) >= 2, done.stderr
    assert "attempt 1 failed" in waits[0] and "next attempt in 1 s" in waits[0]
    assert "attempt 2 failed" in waits[1] and "next attempt in 2 s" in waits[1]
    assert "rdkafka" not in done.stderr, "librdkafka's own lines repeat ours"


def raw_webhook_ids(topic: str, bootstrap: str) -> set[str]:
    """The delivery ids of every envelope on the raw topic."""
    expected = messages_in_topic(topic, bootstrap)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found: list[str] = []

    def read_one() -> int:
        record = consumer.poll(1.0)
        value = record.value() if record is not None and record.error() is None else None
        if value:
            found.append(RawWebhookEnvelope.model_validate_json(value).webhook_id)
        return len(found)

    try:
        poll(
            read_one,
            until=lambda read: read >= expected,
            what=f"{expected} messages on {topic}",
            timeout=60,
            interval=0,  # the consumer's poll waits
        )
    finally:
        consumer.close()
    return set(found)


def test_ingest_started_before_the_broker_waits_then_takes_webhooks_and_loses_none(
    pipeline: Pipeline, topic_prefix: str, private_broker: KafkaBroker
) -> None:
    broker = private_broker
    broker.down()
    pipeline.env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    pipeline.start_ingest(started=False)  # it answers /healthz at once, the broker down
    with httpx.Client(base_url=pipeline.url, timeout=30) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["started"] is False
        body, headers = signed(zoom_event("meeting.started", meeting_object("1")))
        refused = client.post("/webhooks/zoom", content=body, headers=headers)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert "not ready" in refused.json()["error"]
        poll(
            lambda: "waiting for Kafka (attempt 1 failed" in pipeline.log("ingest"),
            what="ingest to say it waits for Kafka",
            timeout=60,
        )

        # Zoom keeps sending while the broker comes up; every 200 must be in the raw topic.
        with Sender(pipeline.url, traffic(2, 6), seconds=30) as sender:
            assert "started on" in broker.up(), "our broker, not another on a reused port"
            poll(
                lambda: client.get("/readyz").status_code,
                until=lambda status: status == 200,
                what="ingest to be ready once the broker is up",
                timeout=90,
                interval=0.5,
            )
        sender.resend_refused()
        assert sender.refused > 0, "some webhooks came while ingest waited"
        assert client.post("/webhooks/zoom", content=body, headers=headers).status_code == 200
    assert f"Kafka answers ({broker.bootstrap}, 1 broker(s)) after" in pipeline.log("ingest")
    ids = raw_webhook_ids(f"{topic_prefix}{ZOOM_RAW}", broker.bootstrap)
    assert sender.accepted, "the sender got answers"
    assert sender.accepted <= ids, f"{len(sender.accepted - ids)} webhooks answered 200 are lost"


@pytest.fixture
def smtp_relay() -> Iterator[int]:
    """A real SMTP server (aiosmtpd) that takes and drops mail; its port."""

    class Drop:
        async def handle_DATA(self, *_args: object) -> str:
            return "250 OK"

    port = free_port()
    controller = Controller(Drop(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def unmigrated_database_url() -> Iterator[str]:
    url = empty_database()
    yield url
    drop_database(url)


MIGRATIONS = len(
    [path for path in MIGRATION_FOLDER.glob("*.sql") if not path.name.endswith(".rollback.sql")]
)


def settings_for(topic_prefix: str) -> Settings:
    return Settings(_env_file=None, kafka_bootstrap_servers=BOOTSTRAP, topic_prefix=topic_prefix)


def check_env(database_url: str, topic_prefix: str, **more: str) -> dict[str, str]:
    return {
        **PLANTED,
        "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
        "DATABASE_URL": database_url,
        "TOPIC_PREFIX": topic_prefix,
        **more,
    }


def test_check_passes_when_everything_is_ready(
    tmp_path: Path, database_url: str, topic_prefix: str, smtp_relay: int
) -> None:
    env = check_env(database_url, topic_prefix, SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_relay))
    settings = settings_for(topic_prefix)
    ensure_topics(settings)
    done = zoomstream("check", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "settings: ok",
        f"kafka: ok ({BOOTSTRAP}, 1 broker(s))",
        f"topics: ok ({len(topic_specs(settings))} topics, 8 partitions each)",
        f"postgresql: ok ({database_location(database_url)})",
        f"migrations: ok ({MIGRATIONS} applied)",
        f"smtp: ok (127.0.0.1:{smtp_relay}, STARTTLS not offered)",
    ]


def test_check_names_each_problem_with_the_first_ones_status(
    tmp_path: Path, unmigrated_database_url: str, topic_prefix: str
) -> None:
    env = check_env(
        unmigrated_database_url, topic_prefix, SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port())
    )
    env.pop("ZOOM_WEBHOOK_SECRET")
    done = zoomstream("check", env=env, cwd=tmp_path)
    lines = done.stdout.splitlines()
    assert done.returncode == ExitStatus.SETTINGS
    assert lines[0].startswith("settings: ZOOM_WEBHOOK_SECRET is not set")
    assert lines[1].startswith("kafka: ok")
    topics = len(topic_specs(settings_for(topic_prefix)))
    assert lines[2].startswith(
        f"topics: {topics} of {topics} topics missing ({topic_prefix}zoom.webhooks.raw,"
    )
    assert lines[2].endswith(
        "— `zoomstream worker` and `zoomstream ingest` create them when they start"
    )
    assert lines[3].startswith("postgresql: ok")
    assert lines[4] == (
        f"migrations: {MIGRATIONS} of {MIGRATIONS} migrations not applied (0001_zoom_webhook_logs,"
        " 0002_recordings, 0003_attendance, …) — run `zoomstream migrate`"
    )
    assert lines[5].startswith("smtp: cannot reach the SMTP relay at 127.0.0.1:")
    assert len(lines) == 6
    # check wrote nothing: the database is as bare as before
    with psycopg.connect(unmigrated_database_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone() == (0,)


def failure_case(case: str, topic_prefix: str) -> dict[str, str]:
    """The setting that makes one item of a ready deployment fail."""
    if case == "topics":
        return {"KAFKA_PARTITIONS": "4"}  # the topics have 8
    if case == "smtp":
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(free_port())}
    return {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}


@pytest.mark.parametrize(
    ("case", "status", "line"),
    [
        ("topics", ExitStatus.TOPICS, "topics: "),
        ("smtp", ExitStatus.SMTP, "smtp: cannot reach the SMTP relay at 127.0.0.1:"),
        ("kafka", ExitStatus.KAFKA, "kafka: cannot reach Kafka at 127.0.0.1:"),
    ],
)
def test_check_exits_with_the_status_of_its_problem(
    tmp_path: Path, database_url: str, topic_prefix: str, case: str, status: int, line: str
) -> None:
    ensure_topics(settings_for(topic_prefix))
    env = check_env(database_url, topic_prefix, **failure_case(case, topic_prefix))
    done = zoomstream("check", env=env, cwd=tmp_path)
    assert done.returncode == status, done.stdout
    failing = [
        text
        for text in done.stdout.splitlines()
        if not text.split(": ", 1)[1].startswith(("ok", "not checked: SMTP_HOST"))
    ]
    assert failing[0].startswith(line), done.stdout
    if case == "topics":
        assert f"{topic_prefix}zoom.webhooks.raw has 8 partitions" in failing[0]
        assert "KAFKA_PARTITIONS is 4" in failing[0]


def test_check_with_a_malformed_setting_stops_there(tmp_path: Path) -> None:
    done = zoomstream("check", env={**PLANTED, "KAFKA_PARTITIONS": "eight"}, cwd=tmp_path)
    assert done.returncode == ExitStatus.SETTINGS
    assert done.stdout.splitlines() == [
        "settings: invalid setting: KAFKA_PARTITIONS: Input should be a valid integer, unable to"
        " parse string as an integer — correct it in the environment or .env (README, Configuration)"
    ]


def test_the_worker_waits_for_postgresql_too(tmp_path: Path) -> None:
    env = {
        **PLANTED,
        "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
        "DATABASE_URL": unreachable_database(),
        "SERVICE_WAIT_SECONDS": "2",
        "WORKER_METRICS_PORT": "0",
    }
    done = zoomstream("worker", env=env, cwd=tmp_path)
    assert done.returncode == ExitStatus.POSTGRESQL
    assert message(done).startswith("zoomstream: cannot reach PostgreSQL at 127.0.0.1:")
    assert "waiting for PostgreSQL (attempt 1 failed" in done.stderr


def test_a_worker_started_before_the_broker_waits_then_consumes(
    pipeline: Pipeline, private_broker: KafkaBroker
) -> None:
    broker = private_broker
    broker.down()
    pipeline.env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    pipeline.start_worker()
    poll(
        lambda: "waiting for Kafka (attempt 2 failed" in pipeline.log("worker"),
        what="the worker to wait for Kafka",
        timeout=60,
    )
    pipeline.assert_running("worker")
    assert "started on" in broker.up(), "our broker, not another on a reused port"
    pipeline.wait_worker_assigned(timeout=180)
    log = (pipeline.logs / "worker.log").read_text(errors="replace")  # all of it: Faust says a lot
    assert f"Kafka answers ({broker.bootstrap}, 1 broker(s)) after" in log
    assert "NodeNotReadyError" not in log
