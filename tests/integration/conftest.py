"""Integration fixtures: the real local Kafka and PostgreSQL, and zoomstream's own processes.

The fixtures start the local stack themselves (idempotent, seconds when it already runs), so an
integration test never skips for want of a service. Each test gets its own database and its own
topic prefix, hence its own topics and consumer groups.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from yoyo import get_backend, read_migrations

from schemas.settings import LOCAL_DATABASE_URL
from schemas.topics import EMAIL_RAW, ZOOM_RAW
from streams.runtime.ranges import Offsets
from tests.conftest import SECRET
from tests.polling import TimedOut, poll
from zoomstream.migrate import migrate, yoyo_url
from zoomstream.stack import KafkaBroker, LocalPostgres

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / ".stack"
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
BASE_DATABASE_URL = os.environ.get("DATABASE_URL", LOCAL_DATABASE_URL)


@pytest.fixture(scope="session", autouse=True)
def local_stack() -> None:
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        KafkaBroker(home=STACK / "kafka", cache=STACK / "cache").up()
    if "DATABASE_URL" not in os.environ:
        LocalPostgres(home=STACK / "postgres").up()


LISTEN_PORTS = range(20000, 32000)
"""Where the tests' servers listen: below Linux's ephemeral range (32768-60999 by default), from
which the kernel picks the source ports of outgoing connections. A port from that range (what
binding port 0 gives) can, while its server is down for a fault, become the source port of a
client's reconnect to it: a TCP self-connect, which looks like a listener, so the restarted
broker took it for someone else's and never started (seen once in CI)."""


def free_port() -> int:
    """A port nothing listens on, outside the ephemeral range (`LISTEN_PORTS`)."""
    for port in random.sample(LISTEN_PORTS, 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {LISTEN_PORTS}")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def empty_database(server: str = BASE_DATABASE_URL) -> str:
    """A fresh database on `server` (a libpq URL), without any migration."""
    name = f"zs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server, name)


def create_database(server: str = BASE_DATABASE_URL) -> str:
    """A fresh database on `server` (a libpq URL) with every migration applied."""
    url = empty_database(server)
    migrate(url, platform=True)
    return url


def database_before(migration_id: str) -> str:
    """A fresh database with every migration but `migration_id` applied: one that a release
    before it filled, for the test of that migration (which then applies it with `migrate`)."""
    url = empty_database()
    root = Path(str(resources.files("zoomstream").joinpath("migrations")))
    backend = get_backend(yoyo_url(url))
    every = read_migrations(str(root / "platform"), str(root / "pipeline"))
    with backend.lock():
        backend.apply_migrations(backend.to_apply(every.filter(lambda m: m.id != migration_id)))
    return url


def drop_database(url: str) -> None:
    if os.environ.get("KEEP_DB"):
        return
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_database(BASE_DATABASE_URL, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A Kafka broker of the test's own, which it may stop and start; wiped afterwards."""
    broker = KafkaBroker(
        home=tmp_path / "kafka",
        cache=STACK / "cache",
        port=free_port(),
        controller_port=free_port(),
    )
    broker.up()
    yield broker
    broker.wipe()


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh database with every migration applied, dropped afterwards."""
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture
def clean_database_url() -> Iterator[str]:
    """A second fresh database: where a clean run is rebuilt to compare with."""
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture
def topic_prefix() -> Iterator[str]:
    """A prefix of the test's own; its topics are deleted afterwards (a broker keeps files open
    per partition, and a whole suite's worth of topics would exhaust them)."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    yield prefix
    delete_topics(prefix)


def delete_topics(prefix: str, bootstrap: str = BOOTSTRAP) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        names = [name for name in admin.list_topics(timeout=10).topics if name.startswith(prefix)]
        if not names:
            return
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result()
    except KafkaException:
        pass  # the test may have stopped a broker; the prefix keeps the topics apart anyway


@dataclass
class Pipeline:
    """zoomstream's processes for one test, with the environment they share."""

    env: dict[str, str] = field(repr=False)  # secrets: never in a failing test's output
    logs: Path
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def worker_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['WORKER_METRICS_PORT']}/metrics"

    @property
    def worker_group(self) -> str:
        """The workers' consumer group (the Faust app id)."""
        return f"{self.env['TOPIC_PREFIX']}zoomstream"

    def start(
        self, name: str, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `zoomstream <args>` as `name`, with this pipeline's environment and `env` on top."""
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "zoomstream", *args],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.processes[name] = process
        return process

    def command(self, *args: str) -> str:
        """Run `zoomstream <args>` as an operator would, with this pipeline's environment;
        its output, once it has succeeded."""
        done = subprocess.run(
            [sys.executable, "-m", "zoomstream", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start_ingest(
        self, name: str = "ingest", only: str | None = None, started: bool = True
    ) -> str:
        """Start `zoomstream ingest` (`--only webhooks|api` when given) and wait until it answers
        and, unless `started` is False, until it has started (its services answered, its topics
        exist: it takes requests); its URL. The one named `ingest` listens on `self.port`, any
        other on a port of its own."""
        port = self.port if name == "ingest" else free_port()
        url = f"http://127.0.0.1:{port}"
        self.start(
            name,
            "ingest",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *(["--only", only] if only else []),
        )

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False  # not listening yet

        def taking_requests() -> bool:
            self.assert_running(name)
            checks = httpx.get(f"{url}/readyz", timeout=5).json()["checks"]
            return bool(checks["started"])

        try:
            poll(healthy, what=f"{name} to answer /healthz", timeout=60, interval=0.2)
            if started:
                poll(taking_requests, what=f"{name} to start", timeout=60, interval=0.2)
        except TimedOut as exc:
            raise AssertionError(f"{name} did not start; log:\n{self.log(name)}") from exc
        return url

    def start_worker(self) -> None:
        self.start("worker", "worker", "--loglevel", "info")

    def wait_worker_assigned(self, timeout: float = 120.0) -> None:
        """Until the worker holds every partition of the raw topic (it is consuming), failing
        at once if it exits: a fault test's faults come after the start-up, not during it."""
        topic = f"{self.env['TOPIC_PREFIX']}{ZOOM_RAW}"
        partitions = int(self.env.get("KAFKA_PARTITIONS", "8"))
        wait_for_group(
            self.worker_group,
            topic,
            lambda members: len(members) == 1 and len(members[0]) == partitions,
            timeout,
            bootstrap=self.env["KAFKA_BOOTSTRAP_SERVERS"],
            meanwhile=lambda: self.assert_running("worker"),
        )

    def wait_workers_caught_up(self, timeout: float = 60.0) -> None:
        """Until the workers' group has committed every offset of the raw topics: each batch's
        effects are committed before its offsets, so everything sent so far is in PostgreSQL."""
        offsets = Offsets(self.env["KAFKA_BOOTSTRAP_SERVERS"], self.worker_group)
        topics = [f"{self.env['TOPIC_PREFIX']}{name}" for name in (ZOOM_RAW, EMAIL_RAW)]
        try:
            poll(
                lambda: offsets.unread(topics),
                until=lambda unread: not unread,
                what=f"group {self.worker_group} to commit every offset of {topics}",
                timeout=timeout,
            )
        finally:
            offsets.close()

    def start_another_worker(self, name: str) -> str:
        """One more worker in the same group, with a Faust data folder and a metrics port of its
        own (two workers cannot share either); the URL of its /metrics."""
        port = free_port()
        self.start(
            name,
            "worker",
            "--loglevel",
            "info",
            env={
                "WORKER_DATADIR": str(self.logs / f"faust-{name}"),
                "WORKER_METRICS_PORT": str(port),
            },
        )
        return f"http://127.0.0.1:{port}/metrics"

    def assert_running(self, name: str) -> None:
        """The process `name` started has not exited."""
        returncode = self.processes[name].poll()
        if returncode is not None:
            log = (self.logs / f"{name}.log").read_text(errors="replace")
            crash = log[log.rfind("Traceback") :] if "Traceback" in log else log
            raise AssertionError(f"{name} exited with {returncode}; its log:\n{crash[:6000]}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=60)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-6000:]

    def stop_all(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def pipeline(database_url: str, topic_prefix: str, tmp_path: Path) -> Iterator[Pipeline]:
    env = {
        **os.environ,
        "ZOOM_WEBHOOK_SECRET": SECRET,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
        "TOPIC_PREFIX": topic_prefix,
        "WORKER_DATADIR": str(tmp_path / "faust"),
        "WORKER_BATCH_SECONDS": "0.2",
        "WORKER_METRICS_PORT": str(free_port()),
    }
    running = Pipeline(env=env, logs=tmp_path)
    yield running
    running.stop_all()


def count_rows(database_url: str, sql: str = "SELECT count(*) FROM zoom_webhook_logs") -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def wait_for_rows(
    database_url: str, expected: int, timeout: float = 120.0, interval: float = 0.5
) -> int:
    """Poll until `expected` webhook-log rows exist (or time runs out); then return the count,
    for the caller to assert on."""
    return poll(
        lambda: count_rows(database_url),
        until=lambda count: count >= expected,
        what=f"{expected} rows in zoom_webhook_logs",
        timeout=timeout,
        interval=interval,
        raise_on_timeout=False,
    )


def messages_in_topic(topic: str, bootstrap: str = BOOTSTRAP) -> int:
    """How many messages a topic holds (0 when it does not exist)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})

    def described() -> Any:
        found = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if found is not None and found.error is not None:
            if found.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                return None  # no such topic: no messages
            return found.error  # a leader election under way: asked again (seen in CI: 0 read)
        return found

    try:
        metadata = poll(
            described,
            until=lambda found: not isinstance(found, KafkaError),
            what=f"the partitions of {topic}",
            timeout=15,
            interval=0.2,
        )
        partitions = metadata.partitions if metadata is not None else {}
        total = 0
        for partition in partitions:
            low, high = watermarks(consumer, TopicPartition(topic, partition))
            total += high - low
        return total
    finally:
        consumer.close()


def watermarks(consumer: Consumer, partition: TopicPartition) -> tuple[int, int]:
    """The partition's offsets, waiting out a leader election (a topic created a moment ago)."""

    def offsets() -> tuple[int, int] | KafkaException:
        try:
            low, high = consumer.get_watermark_offsets(partition, timeout=10)
        except KafkaException as exc:
            return exc  # no leader yet; the last one shows if it never comes
        return int(low), int(high)

    found = poll(
        offsets,
        until=lambda result: not isinstance(result, KafkaException),
        what=f"the offsets of {partition.topic} [{partition.partition}]",
        timeout=15,
        interval=0.2,
    )
    assert not isinstance(found, KafkaException)
    return found


def group_assignment(group: str, topic: str, bootstrap: str = BOOTSTRAP) -> list[set[int]]:
    """The partitions of `topic` each member of the consumer group holds (empty: no members)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group], request_timeout=10)[group].result()
    return [
        {tp.partition for tp in member.assignment.topic_partitions if tp.topic == topic}
        for member in description.members
    ]


def wait_for_group(
    group: str,
    topic: str,
    settled: Callable[[list[set[int]]], bool],
    timeout: float = 60.0,
    bootstrap: str = BOOTSTRAP,
    meanwhile: Callable[[], None] | None = None,
) -> list[set[int]]:
    """Poll the group's assignment of `topic` until `settled` says yes; fail after `timeout`
    (`TimedOut`), or as soon as `meanwhile` (called on every poll, e.g. a process's check) fails."""

    def assignment() -> list[set[int]] | None:
        if meanwhile is not None:
            meanwhile()
        try:
            return group_assignment(group, topic, bootstrap)
        except KafkaException:
            return None  # the group is being created or moved; ask again

    members = poll(
        assignment,
        until=lambda assigned: assigned is not None and settled(assigned),
        what=f"group {group} to settle on {topic}",
        timeout=timeout,
    )
    assert members is not None
    return members


def wait_for(
    database_url: str,
    sql: str,
    params: tuple[Any, ...],
    ok: Callable[[list[tuple[Any, ...]]], bool],
    timeout: float = 60,
) -> list[tuple[Any, ...]]:
    """Poll `sql` until `ok(rows)`; those rows. Fails after `timeout` with the last rows."""

    def fetch() -> list[tuple[Any, ...]]:
        with psycopg.connect(database_url) as conn:
            return conn.execute(sql, params).fetchall()

    return poll(
        fetch, until=ok, what=f"rows of {sql!r} to pass the check", timeout=timeout, interval=0.3
    )


@pytest.fixture
def running(pipeline: Pipeline, database_url: str) -> Pipeline:
    """A pipeline running ingest and a worker, with the platform event of the sample meeting
    (`zoom_webhooks.MEETING`) and a deleted one of the same meeting id."""
    from tests.integration.zoom_webhooks import MEETING  # it imports this module

    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO events (title, zoom_meeting_id, auto_publish_recordings) VALUES ('Cardiology', %s, true)",
            (MEETING,),
        )
        # a deleted event with the same meeting id never matches
        conn.execute(
            "INSERT INTO events (title, zoom_meeting_id, deleted_at) VALUES ('Old', %s, now())",
            (MEETING,),
        )
    pipeline.env["RETRY_BACKOFF_SECONDS"] = "[1, 1]"
    pipeline.start_ingest()
    pipeline.start_worker()
    return pipeline
