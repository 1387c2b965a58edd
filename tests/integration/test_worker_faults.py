"""Faults of the worker itself in the middle of a stream: stopped (SIGSTOP) for longer than its
consumer-group session and resumed; a second worker joining and then leaving (two rebalances
under load); one of two workers killed -9. Every webhook answered 200 ends up in
zoom_webhook_logs exactly once, the derived tables equal those of a clean run (a replay of the
same topic into a fresh database), and the workers that should run still do. Then `zoomstream up`
starting again a worker that was killed. Short here; `bench` runs them longer (FAULT_SECONDS)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from schemas.topics import ZOOM_RAW
from tests.conftest import SECRET
from tests.integration.conftest import (
    BOOTSTRAP,
    ROOT,
    Pipeline,
    count_rows,
    free_port,
    wait_for_group,
    wait_for_rows,
)
from tests.integration.faults import (
    Sender,
    logged_once,
    platform_rows,
    same_as_clean_run,
    traffic,
)
from tests.polling import TimedOut, poll
from zoomstream.samples import sign

pytestmark = pytest.mark.integration
FAULT_SECONDS = float(os.environ.get("FAULT_SECONDS", "6"))
# Short, so that a stopped or killed worker loses its partitions within the test: the least a
# broker accepts by default (group.min.session.timeout.ms).
SESSION_SECONDS = 6.0
PARTITIONS = 8  # KAFKA_PARTITIONS' default, which the pipeline fixture keeps
# One meeting on each of the raw topic's partitions (ingest keys by meeting id), so that every
# partition carries traffic when it moves between workers.
MEETINGS = 8
EXIT_SECONDS = 3.0  # a crashed Faust worker takes about 2 s to stop and exit


@pytest.fixture
def workers(pipeline: Pipeline) -> Pipeline:
    """The pipeline with a consumer-group session short enough to expire within a test."""
    pipeline.env["WORKER_SESSION_TIMEOUT_SECONDS"] = str(SESSION_SECONDS)
    return pipeline


def raw_topic(pipeline: Pipeline) -> str:
    return f"{pipeline.env['TOPIC_PREFIX']}{ZOOM_RAW}"


def one_member_with_all(members: list[set[int]]) -> bool:
    return len(members) == 1 and len(members[0]) == PARTITIONS


def two_members_sharing(members: list[set[int]]) -> bool:
    return len(members) == 2 and all(members) and len(members[0] | members[1]) == PARTITIONS


def no_members(members: list[set[int]]) -> bool:
    return not members


def settle(
    pipeline: Pipeline,
    settled: Callable[[list[set[int]]], bool],
    *running: str,
    timeout: float = 60.0,
) -> None:
    """Wait until the workers' assignment of the raw topic is `settled`; fail at once, with its
    log, if one of the `running` workers exits meanwhile."""

    def still_running() -> None:
        for name in running:
            pipeline.assert_running(name)

    wait_for_group(
        pipeline.worker_group, raw_topic(pipeline), settled, timeout, meanwhile=still_running
    )


def after_session_expiry(
    pipeline: Pipeline, settled: Callable[[list[set[int]]], bool], *running: str
) -> None:
    """Wait until the group has dropped a worker that went silent: a session's time."""
    try:
        settle(pipeline, settled, *running, timeout=SESSION_SECONDS * 4)
    except TimedOut as exc:
        raise AssertionError(
            f"{exc}: the silent worker kept its partitions; does Faust get "
            "WORKER_SESSION_TIMEOUT_SECONDS (as broker_session_timeout)?"
        ) from exc


def rows_landed_while_running(
    pipeline: Pipeline, database_url: str, expected: int, running: str, timeout: float = 120.0
) -> None:
    """Every expected row lands, and the worker `running` stays up meanwhile (fails at once,
    with its log, when it exits)."""

    def rows_while_running() -> int:
        pipeline.assert_running(running)
        return count_rows(database_url)

    poll(
        rows_while_running,
        until=lambda count: count >= expected,
        what=f"{expected} rows in zoom_webhook_logs, {running} running",
        timeout=timeout,
        interval=0.5,
    )
    assert count_rows(database_url) == expected


def events_applied(metrics_url: str) -> float:
    """Webhooks a worker handled, from its /metrics."""
    text = httpx.get(metrics_url, timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("zoomstream_worker_events_total{")
    )


def wait_until_applying(
    pipeline: Pipeline, name: str, metrics_url: str, timeout: float = 60.0
) -> None:
    """Wait until the worker `name` has handled a webhook (while it runs)."""

    def applied() -> float:
        pipeline.assert_running(name)
        try:
            return events_applied(metrics_url)
        except httpx.HTTPError:
            return 0.0  # not serving yet

    poll(
        applied, until=lambda events: events > 0, what=f"{name} to apply a webhook", timeout=timeout
    )


def test_worker_stopped_past_its_session_then_resumed(
    workers: Pipeline, database_url: str, clean_database_url: str
) -> None:
    platform_rows(database_url, MEETINGS)
    platform_rows(clean_database_url, MEETINGS)
    bodies = traffic(MEETINGS, 10)
    workers.start_ingest()
    workers.start_worker()
    settle(workers, one_member_with_all, "worker")
    pause = max(FAULT_SECONDS, SESSION_SECONDS * 1.25)  # at least until the group drops it
    with Sender(workers.url, bodies, seconds=pause * 1.5) as sender:
        assert wait_for_rows(database_url, 20, timeout=60) >= 20
        worker = workers.processes["worker"]
        worker.send_signal(signal.SIGSTOP)  # a long pause, a suspended VM: no heartbeats
        try:
            stopped = time.monotonic()
            after_session_expiry(workers, no_members, "worker")
            time.sleep(max(0.0, pause - (time.monotonic() - stopped)))
        finally:
            worker.send_signal(signal.SIGCONT)  # it finds itself out of the group, and rejoins
    sender.resend_refused()
    rows_landed_while_running(workers, database_url, len(bodies), running="worker")
    time.sleep(EXIT_SECONDS)
    settle(workers, one_member_with_all, "worker")
    logged_once(database_url, sender.accepted)
    same_as_clean_run(workers, database_url, clean_database_url)


def test_second_worker_joins_and_leaves_mid_stream(
    workers: Pipeline, database_url: str, clean_database_url: str
) -> None:
    platform_rows(database_url, MEETINGS)
    platform_rows(clean_database_url, MEETINGS)
    bodies = traffic(MEETINGS, 12)
    workers.start_ingest()
    workers.start_worker()
    settle(workers, one_member_with_all, "worker")
    with Sender(workers.url, bodies, seconds=FAULT_SECONDS * 2) as sender:
        assert wait_for_rows(database_url, 20, timeout=60) >= 20
        joined = time.monotonic()
        second_metrics = workers.start_another_worker("worker-2")
        settle(workers, two_members_sharing, "worker", "worker-2")  # half move over
        wait_until_applying(workers, "worker-2", second_metrics)
        time.sleep(max(0.0, FAULT_SECONDS - (time.monotonic() - joined)))
        second = workers.processes.pop("worker-2")
        second.send_signal(signal.SIGTERM)  # a scale-down: it leaves the group on its way out
        second.wait(timeout=60)
        settle(workers, one_member_with_all, "worker")  # all come back
    sender.resend_refused()
    rows_landed_while_running(workers, database_url, len(bodies), running="worker")
    time.sleep(EXIT_SECONDS)
    workers.assert_running("worker")
    assert second.returncode == 0, (
        f"worker-2 left with {second.returncode}:\n{workers.log('worker-2')}"
    )
    logged_once(database_url, sender.accepted)
    same_as_clean_run(workers, database_url, clean_database_url)


def test_one_of_two_workers_killed_mid_stream(
    workers: Pipeline, database_url: str, clean_database_url: str
) -> None:
    platform_rows(database_url, MEETINGS)
    platform_rows(clean_database_url, MEETINGS)
    bodies = traffic(MEETINGS, 12)
    workers.start_ingest()
    workers.start_worker()
    second_metrics = workers.start_another_worker("worker-2")
    settle(workers, two_members_sharing, "worker", "worker-2")
    with Sender(workers.url, bodies, seconds=FAULT_SECONDS * 2) as sender:
        wait_until_applying(workers, "worker", workers.worker_metrics_url)
        wait_until_applying(workers, "worker-2", second_metrics)
        time.sleep(FAULT_SECONDS * 0.5)
        workers.kill("worker")  # kill -9 with batches in flight: no goodbye to the group
        # The survivor gets every partition once the dead member's session has expired.
        after_session_expiry(workers, one_member_with_all, "worker-2")
    sender.resend_refused()
    rows_landed_while_running(workers, database_url, len(bodies), running="worker-2")
    time.sleep(EXIT_SECONDS)
    workers.assert_running("worker-2")
    logged_once(database_url, sender.accepted)
    same_as_clean_run(workers, database_url, clean_database_url)


def wait_for_output(
    path: Path, pattern: str, process: subprocess.Popen[bytes], timeout: float
) -> re.Match[str]:
    """The first match of `pattern` in what `process` wrote to `path`, waiting for it."""

    def output() -> str:
        text = path.read_text(errors="replace")
        assert re.search(pattern, text) or process.poll() is None, (
            f"`zoomstream up` exited with {process.returncode}:\n{text}"
        )
        return text

    text = poll(
        output,
        until=lambda written: re.search(pattern, written),
        what=f"{pattern!r} in the output of `zoomstream up`",
        timeout=timeout,
    )
    found = re.search(pattern, text)
    assert found
    return found


def test_up_starts_again_a_worker_that_was_killed(
    database_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ZOOM_WEBHOOK_SECRET": SECRET,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
        "TOPIC_PREFIX": topic_prefix,
        "INGEST_PORT": str(port),
        "WORKER_DATADIR": str(tmp_path / "faust"),
        "WORKER_BATCH_SECONDS": "0.2",
        "WORKER_METRICS_PORT": str(free_port()),
        "WORKER_SESSION_TIMEOUT_SECONDS": str(SESSION_SECONDS),
        "PYTHONPATH": str(ROOT),  # this checkout's code, run from another folder
    }
    output = tmp_path / "up.out"
    # Run from a folder of its own: `up` keeps its logs under ./.stack there.
    with output.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "zoomstream", "up"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_output(output, "the pipeline keeps running", up, timeout=180)
        first = int(wait_for_output(output, r"worker started \(pid (\d+)", up, 1).group(1))
        os.kill(first, signal.SIGKILL)
        again = wait_for_output(output, r"worker started again \(pid (\d+)\)", up, timeout=30)
        second = int(again.group(1))
        assert second != first
        assert re.search(rf"worker \(pid {first}\) was killed by SIGKILL", output.read_text())
        assert "was killed by SIGKILL" in (tmp_path / ".stack" / "logs" / "worker.log").read_text()

        before = count_rows(database_url)
        bodies = traffic(1, 3)
        for body in bodies:
            response = httpx.post(
                f"http://127.0.0.1:{port}/webhooks/zoom",
                content=body,
                headers=sign(SECRET.encode(), body, int(time.time())),
                timeout=10,
            )
            assert response.status_code == 200
        expected = before + len(bodies)
        assert wait_for_rows(database_url, expected, timeout=120) == expected, (
            "the restarted worker did not apply new webhooks"
        )
        assert up.poll() is None
        assert Path(f"/proc/{second}").exists()
    finally:
        up.send_signal(signal.SIGINT)  # Ctrl-C
        up.wait(timeout=60)
    assert "stopping" in output.read_text()
    assert not Path(f"/proc/{second}").exists(), "the worker outlived `zoomstream up`"
