"""4. Memory: worker RSS with 1,000,000 delivery ids in the dedup window, against the same
worker with an empty window. The ids are written to the dedup table's changelog, which the
worker restores on start, as after a restart at full load."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

from confluent_kafka import Producer

from bench.common import Figure, Process, Report
from schemas.settings import Settings
from streams.runtime.seen_store import entry_key, entry_value

GOAL_MB = 400


def fill_changelog(bootstrap: str, topic: str, ids: int, partitions: int, batch: int) -> None:
    """`ids` delivery ids as the worker writes them: an entry per batch and partition."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4"}
    )
    now = time.time()
    per_entry = max(1, batch // partitions)
    for first in range(0, ids, per_entry):
        partition = (first // per_entry) % partitions
        chunk = [
            hashlib.sha256(str(n).encode()).hexdigest()
            for n in range(first, min(ids, first + per_entry))
        ]
        while True:
            try:
                producer.produce(
                    topic,
                    key=json.dumps(entry_key(partition, first)).encode(),
                    value=json.dumps(entry_value(chunk, now)).encode(),
                    partition=partition,
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(120)


def settled_rss(worker: Process, log: Path, seconds: float) -> int:
    """RSS once the worker says it is ready (its tables restored) and a little after."""
    deadline = time.monotonic() + seconds
    while "Ready" not in log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(5)
    return worker.rss_bytes()


def run(report: Report, env: dict[str, str], logs: Path, ids: int) -> None:
    empty_env = {**env, "TOPIC_PREFIX": env["TOPIC_PREFIX"] + "mem0."}
    log = logs / "worker-empty.log"
    worker = Process(["-m", "zoomstream", "worker", "--loglevel", "info"], empty_env, log)
    try:
        floor = settled_rss(worker, log, 120)
    finally:
        worker.stop()

    full_env = {**env, "TOPIC_PREFIX": env["TOPIC_PREFIX"] + "mem1."}
    # The app creates the changelog topic; a first short start makes it exist.
    log = logs / "worker-full.log"
    worker = Process(["-m", "zoomstream", "worker", "--loglevel", "info"], full_env, log)
    try:
        settled_rss(worker, log, 120)
    finally:
        worker.stop()
    topic = f"{full_env['TOPIC_PREFIX']}zoomstream-delivery-seen-changelog"
    fill_changelog(
        env["KAFKA_BOOTSTRAP_SERVERS"],
        topic,
        ids,
        int(env.get("KAFKA_PARTITIONS", "8")),
        int(env.get("WORKER_BATCH_SIZE", Settings.model_fields["worker_batch_size"].default)),
    )
    log = logs / "worker-full-2.log"
    worker = Process(["-m", "zoomstream", "worker", "--loglevel", "info"], full_env, log)
    try:
        started = time.perf_counter()
        full = settled_rss(worker, log, 900)
        restored = time.perf_counter() - started
    finally:
        worker.stop()
    restored_ids = re.findall(r"dedup window restored: (\d+) delivery ids", log.read_text())
    report.add(
        Figure(
            f"worker RSS with {ids:,} delivery ids in the dedup window",
            f"{full / 2**20:,.0f} MB (restored in {restored:.0f} s)",
            f"empty window {floor / 2**20:,.0f} MB",
            full / floor,
            f"< {GOAL_MB} MB",
            f"{(full - floor) / ids:,.0f} bytes per id; the worker restored"
            f" {int(restored_ids[-1]) if restored_ids else 0:,} ids",
        )
    )
