"""faust-streaming 0.15.3 skips records after a restart with a backlog and a changelog-backed table
(docs/design.md, "Skipped offsets"); with streams/runtime/faust_internals.py installed it does not.

A minimal Faust app like the worker (a changelog-backed table written per batch, `take_events`
batches, at-least-once) runs once to commit offsets and fill its changelog, then restarts over a
backlog. Every offset after the committed one must reach its agent, and its commits must reach
the end. The restart's offset fetch is slowed down, as a loaded broker would: without that, the
race of upstream issue #596 showed in 5 of 8 restarts here and lost records to the agent in 1;
with it, in every restart. The fix does not depend on that timing.

`FAUST_SKIP_UNPATCHED=1` runs the same test without the fix: it must fail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from tests.integration.conftest import BOOTSTRAP, ROOT
from tests.polling import poll

pytestmark = pytest.mark.integration

PARTITIONS = 4
FIRST_RUN = 2_000
BACKLOG = 20_000
SEEK_DELAY_SECONDS = 2.0
BATCH_SECONDS = 0.05  # each batch takes this long in the agent, as a database write would

Seen = dict[int, set[int]]


def test_every_offset_after_the_committed_one_reaches_the_agent(
    topic_prefix: str, tmp_path: Path
) -> None:
    fixed = os.environ.get("FAUST_SKIP_UNPATCHED") != "1"
    topic, group = f"{topic_prefix}source", f"{topic_prefix}skipapp"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result()

    produce(topic, FIRST_RUN)
    first_end = end_offsets(topic)
    run_app(tmp_path, "first", topic_prefix, fixed, until=lambda s: reached(s, first_end))
    committed = committed_offsets(topic, group)
    assert committed == first_end, "the first run commits everything it read"

    produce(topic, BACKLOG)
    end = end_offsets(topic)
    seen = run_app(
        tmp_path,
        "restart",
        topic_prefix,
        fixed,
        until=lambda s: reached(s, end),
        env={"SEEK_DELAY_SECONDS": str(SEEK_DELAY_SECONDS)},
    )

    never_handed = {}
    for p in range(PARTITIONS):
        missing = sorted(set(range(committed[p], end[p])) - seen.get(p, set()))
        if missing:
            never_handed[p] = f"{len(missing)} of {committed[p]}..{end[p] - 1}, from {missing[0]}"
    assert never_handed == {}, "offsets after the committed one never handed to the agent"
    assert committed_offsets(topic, group) == end, "commits reach the end of every partition"


def reached(seen: Seen, end: Mapping[int, int]) -> bool:
    return all(max(seen.get(p, {-1})) >= end[p] - 1 for p in range(PARTITIONS))


def produce(topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    for n in range(count):
        producer.produce(topic, key=uuid.uuid4().hex.encode(), value=b"%d" % n)
        if n % 1000 == 0:
            producer.poll(0)
    producer.flush(30)


def _lookups(group: str) -> Consumer:
    return Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group})


def end_offsets(topic: str) -> dict[int, int]:
    consumer = _lookups(f"lookup-{uuid.uuid4().hex}")
    try:
        return {
            p: int(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
            for p in range(PARTITIONS)
        }
    finally:
        consumer.close()


def committed_offsets(topic: str, group: str) -> dict[int, int]:
    consumer = _lookups(group)
    try:
        found = consumer.committed(
            [TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10
        )
        return {tp.partition: int(tp.offset) for tp in found}
    finally:
        consumer.close()


def read_seen(path: Path) -> Seen:
    seen: Seen = {}
    if path.exists():
        for line in path.read_text().split("\n")[:-1]:  # the last one may be half written
            partition, offset = line.split()
            seen.setdefault(int(partition), set()).add(int(offset))
    return seen


def run_app(
    tmp_path: Path,
    name: str,
    prefix: str,
    fixed: bool,
    until: Callable[[Seen], bool],
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Seen:
    """Run the app below until `until(offsets its agent was handed)`, then a commit interval
    more, then stop it (SIGTERM: Faust commits what was acked); what its agent was handed."""
    out = tmp_path / f"{name}.offsets"
    log = (tmp_path / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.test_faust_skip"],
        env={
            **os.environ,
            **(env or {}),
            "SKIP_APP_PREFIX": prefix,
            "SKIP_APP_OUT": str(out),
            "SKIP_APP_DATADIR": str(tmp_path / f"faust-{name}"),
            "SKIP_APP_FIXED": "1" if fixed else "0",
            "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
        },
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )

    def handed() -> Seen:
        seen = read_seen(out)
        assert until(seen) or process.poll() is None, (tmp_path / f"{name}.log").read_text()[-4000:]
        return seen

    try:
        poll(
            handed,
            until=until,
            what=f"the {name} run's agent to be handed its offsets",
            timeout=timeout,
            interval=0.3,
            raise_on_timeout=False,
        )
        time.sleep(4.0)  # Faust commits every 2.8 s
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return read_seen(out)


def main() -> None:
    """The app: one topic read in batches, each batch's offsets written to a file and, as the
    worker's dedup window does, to a changelog-backed table (one entry per batch and partition)."""
    import faust
    from faust.transport.consumer import ThreadDelegateConsumer

    from streams.runtime import faust_internals

    prefix, out_path = os.environ["SKIP_APP_PREFIX"], os.environ["SKIP_APP_OUT"]
    topic_name = f"{prefix}source"
    if os.environ["SKIP_APP_FIXED"] == "1":
        faust_internals.install()
        faust_internals.guard(topic_name)
    delay = float(os.environ.get("SEEK_DELAY_SECONDS", "0"))
    if delay:
        seek_to_committed = ThreadDelegateConsumer.seek_to_committed

        async def slow_seek_to_committed(self: Any) -> Any:
            await asyncio.sleep(delay)
            return await seek_to_committed(self)

        ThreadDelegateConsumer.seek_to_committed = slow_seek_to_committed  # type: ignore[method-assign]

    app = faust.App(
        f"{prefix}skipapp",
        broker=f"kafka://{os.environ['KAFKA_BOOTSTRAP_SERVERS']}",
        store="memory://",
        datadir=os.environ["SKIP_APP_DATADIR"],
        processing_guarantee="at_least_once",
        topic_partitions=PARTITIONS,
        key_serializer="json",
        value_serializer="json",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
    )
    source = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    table = app.Table("batches", partitions=PARTITIONS)

    async def read(stream: Any) -> None:
        async for events in stream.take_events(500, within=0.5):
            first: dict[int, int] = {}
            with Path(out_path).open("a") as out:
                for event in events:
                    message = event.message
                    out.write(f"{message.partition} {message.offset}\n")
                    first.setdefault(message.partition, message.offset)
            for partition, offset in first.items():
                key = f"{partition}:{offset}"
                table.send_changelog(partition, key, len(events))
                table.data[key] = len(events)
            await asyncio.sleep(BATCH_SECONDS)

    app.agent(source, name="read")(read)
    faust.Worker(app, loglevel="info", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
