"""One Apache Kafka broker+controller in KRaft mode, from the pinned release's Maven jars."""

from __future__ import annotations

import base64
import re
import resource
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from confluent_kafka.admin import AdminClient

from zoomstream.stack.processes import (
    StackError,
    apt_install,
    pid_alive,
    port_open,
    stop_pid,
    wait_until,
)

HEAP = "-Xms256m -Xmx768m"


def kafka_version() -> str:
    pom = resources.files("zoomstream.stack").joinpath("kafka-pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    if match is None:
        raise StackError("kafka-pom.xml names no kafka.version")
    return match.group(1)


def ensure_java_and_maven() -> None:
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        apt_install("openjdk-17-jre-headless", "maven")


def fetch_jars(cache: Path) -> Path:
    """The broker's jars in `cache/kafka-<version>`, fetched with Maven on first use."""
    version = kafka_version()
    jars = cache.resolve() / f"kafka-{version}"
    marker = jars / ".complete"
    if marker.exists():
        return jars
    ensure_java_and_maven()
    jars.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("zoomstream.stack").joinpath("kafka-pom.xml")) as pom:
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={jars}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise StackError(f"Maven could not fetch Kafka {version}:\n{result.stdout}{result.stderr}")
    marker.write_text(version)
    return jars


@dataclass(frozen=True)
class KafkaBroker:
    """A single-node KRaft cluster living in `home` (data, log, pid), on 127.0.0.1."""

    home: Path
    cache: Path
    port: int = 9092
    controller_port: int = 9093

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    def running(self) -> bool:
        return pid_alive(self.pid_file) is not None

    def _properties(self) -> str:
        data = self.home / "data"
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={data.resolve()}",
                "num.partitions=8",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )

    def _java(self, jars: Path, *args: str) -> list[str]:
        log_config = resources.files("zoomstream.stack").joinpath("log4j2.properties")
        return [
            "java",
            *HEAP.split(),
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log_config}",
            "-cp",
            f"{jars}/*",
            *args,
        ]

    def up(self, timeout: float = 90.0) -> str:
        """Start the broker unless it runs; wait until it answers. Returns what was done."""
        if self.running():
            wait_until(lambda: port_open("127.0.0.1", self.port), timeout, "Kafka", self.log_file)
            return f"Kafka already running on {self.bootstrap} (log: {self.log_file})"
        if port_open("127.0.0.1", self.port):
            return f"Kafka: something else listens on {self.bootstrap}; using it"
        jars = fetch_jars(self.cache)
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "server.properties"
        config.write_text(self._properties())
        if not (self.home / "data" / "meta.properties").exists():
            cluster_id = cluster_uuid()
            result = subprocess.run(
                self._java(
                    jars, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)
                ),
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise StackError(
                    f"formatting KRaft storage failed:\n{result.stdout}{result.stderr}"
                )
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                self._java(jars, "kafka.Kafka", str(config)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_more_open_files,
            )
        self.pid_file.write_text(str(process.pid))
        wait_until(lambda: self._answers(), timeout, "Kafka", self.log_file)
        return f"Kafka {kafka_version()} started on {self.bootstrap} (log: {self.log_file})"

    def _answers(self) -> bool:
        if not port_open("127.0.0.1", self.port):
            return False
        try:
            metadata = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        except Exception:
            return False
        return bool(metadata.brokers)

    def down(self) -> str:
        if stop_pid(self.pid_file):
            return "Kafka stopped"
        return "Kafka was not started by this stack"

    def wipe(self) -> None:
        """Stop and delete the data (tests only)."""
        self.down()
        shutil.rmtree(self.home, ignore_errors=True)


def cluster_uuid() -> str:
    """A KRaft cluster id as Kafka's own `Uuid.randomUuid` makes them: url-safe base64 of 16
    random bytes, never one that begins with `-` (the storage tool's argument parser takes
    such a value for an option: "argument --cluster-id/-t: expected one argument", seen in CI)."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):
            return value


OPEN_FILES = 262_144


def _more_open_files() -> None:
    """A broker keeps three files open per partition; a test suite creates thousands of
    partitions, more than a default limit allows ("Too many open files" stops the broker).
    Raise the limit for the broker's process where the machine lets us; else keep it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in (OPEN_FILES, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), max(hard, wanted)))
            return
        except (ValueError, OSError):
            continue
