"""2. Pipeline: webhooks/s from zoom.webhooks.raw to committed PostgreSQL rows for a realistic
mix, against a Faust agent configured alike that does nothing (and a plain confluent-kafka
consumer) reading the same topic; and the p99 latency from ingest's 200 to the row at a fixed
moderate rate, once the worker has written its first row."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import psycopg

from bench.common import Figure, Process, Report, free_port, percentile
from bench.load import bodies
from bench.traffic import add_events, envelopes, meetings_for, produce, read_all
from zoomstream.samples import sign


def rows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM zoom_webhook_logs").fetchone()
    return int(row[0]) if row else 0


def wait_rows(database_url: str, count: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while rows(database_url) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {rows(database_url)} of {count} rows after {timeout} s")
        time.sleep(0.2)
    return time.perf_counter()


def throughput(
    report: Report, env: dict[str, str], logs: Path, database_url: str, count: int
) -> None:
    topic = f"{env['TOPIC_PREFIX']}zoom.webhooks.raw"
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    add_events(database_url, meetings_for(count) + 1)
    worker = Process(["-m", "zoomstream", "worker"], env, logs / "worker.log")
    try:
        worker.wait_http(f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/metrics")
        time.sleep(8)  # the group forms and the partitions are assigned
        started = time.perf_counter()
        produce(bootstrap, topic, envelopes(count))
        finished = wait_rows(database_url, count, timeout=max(600.0, count / 100))
    finally:
        worker.stop()
    rate = count / (finished - started)
    floor = count / read_all(bootstrap, topic, count)
    noop = noop_rate(env, logs, count)
    report.add(
        Figure(
            "pipeline webhooks/s, raw topic to committed rows (one worker)",
            f"{rate:,.0f}/s ({count:,} webhooks in {finished - started:.1f} s)",
            f"no-op Faust agent {noop:,.0f}/s; plain consumer {floor:,.0f}/s",
            rate / noop,
            ">= 20,000/s",
            "mix: per meeting 80 participant joins/leaves, start, end, recording; ratio to"
            " the no-op agent",
        )
    )


def noop_rate(env: dict[str, str], logs: Path, count: int) -> float:
    """Messages/s a Faust agent configured like the worker's takes from the same topic when it
    does nothing with them: the floor of any Faust pipeline on this machine."""
    count_file = logs / "noop-count"
    worker = Process(
        ["-m", "bench.noop_worker", "worker"],
        {**env, "NOOP_COUNT_FILE": str(count_file)},
        logs / "noop-worker.log",
    )

    def taken() -> int:
        text = count_file.read_text() if count_file.exists() else ""
        return int(text) if text else 0

    try:
        deadline = time.monotonic() + 120
        while taken() == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the no-op worker took nothing; see {logs}")
            time.sleep(0.01)
        first, started = taken(), time.perf_counter()
        while (done := taken()) < count:
            if time.monotonic() > deadline + 600:
                raise RuntimeError(f"the no-op worker took only {done} of {count}")
            time.sleep(0.01)
        return (count - first) / (time.perf_counter() - started)
    finally:
        worker.stop()


def latency(
    report: Report, env: dict[str, str], logs: Path, database_url: str, rate: float, seconds: float
) -> None:
    port = free_port()
    secret = env["ZOOM_WEBHOOK_SECRET"].encode()
    ingest = Process(
        ["-m", "zoomstream", "ingest", "--host", "127.0.0.1", "--port", str(port)],
        env,
        logs / "ingest-latency.log",
    )
    worker = Process(["-m", "zoomstream", "worker"], env, logs / "worker-latency.log")
    warm_up, *payloads = bodies(int(rate * seconds) + 1)
    try:
        ingest.wait_http(f"http://127.0.0.1:{port}/healthz")
        worker.wait_http(f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/metrics")

        def post(body: bytes) -> None:
            httpx.post(
                f"http://127.0.0.1:{port}/webhooks/zoom",
                content=body,
                headers=sign(secret, body, int(time.time())),
                timeout=10,
            )

        # Measured from the first webhook the worker has written: its group has formed and
        # its partitions are assigned, so start-up is not counted as latency.
        before = rows(database_url)
        post(warm_up)
        wait_rows(database_url, before + 1, timeout=120)
        before += 1
        gap = 1.0 / rate
        threads = []

        began = time.perf_counter()
        for n, body in enumerate(payloads):
            delay = began + n * gap - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            thread = threading.Thread(target=post, args=(body,))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        wait_rows(database_url, before + len(payloads), timeout=120)
    finally:
        worker.stop()
        ingest.stop()
    with psycopg.connect(database_url) as conn:
        delays = [
            float(r[0])
            for r in conn.execute(
                "SELECT extract(epoch FROM created_at - received_at) FROM zoom_webhook_logs"
                " ORDER BY id DESC LIMIT %s",
                (len(payloads),),
            )
        ]
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    report.add(
        Figure(
            "webhook-to-row latency (ingest 200 to committed row)",
            f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms",
            f"batch window {float(env.get('WORKER_BATCH_SECONDS', '0.5')) * 1000:.0f} ms",
            p99 / float(env.get("WORKER_BATCH_SECONDS", "0.5")),
            "p99 within a few batch windows",
            f"{rate:.0f} webhooks/s for {seconds:.0f} s",
        )
    )
