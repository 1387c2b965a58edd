"""2. Pipeline: webhooks/s from zoom.webhooks.raw to committed PostgreSQL rows for a realistic
mix at three meeting sizes, against a Faust agent configured alike that does nothing reading
the same topic; and the latency from ingest's receipt to the committed row at fixed rates,
once the worker has written its first row."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from bench.common import ROOT, CpuWatch, Figure, Process, Report, free_port, percentile
from bench.load import bodies, targets_file, vegeta, webhook_targets
from bench.traffic import add_events, envelopes, meetings_for, produce
from ingest import delivery_id
from schemas.settings import Settings
from zoomstream.samples import sign
from zoomstream.topics import ensure_topics


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


PARTICIPANTS = (40, 1_000, 10_000)
"""Meeting sizes of the pipeline figure: the same webhook count each, only the meetings grow."""


KAFKA_DATA = ROOT / ".stack" / "kafka" / "data"
"""The local broker's log directories (`zoomstream stack`)."""


def storage(database_url: str, topic: str, count: int) -> Figure:
    """Bytes per webhook: the raw topic's value, its share of the broker's log segments (lz4
    batches, the local stack's broker), and in PostgreSQL its log row and all the rows the run
    wrote (tables and their indexes)."""
    values = [len(value) for _key, value in envelopes(min(count, 10_000))]
    on_disk = sum(
        segment.stat().st_size
        for directory in KAFKA_DATA.glob(f"{topic}-*")
        for segment in directory.glob("*.log")
    )
    with psycopg.connect(database_url) as conn:
        log_bytes, all_bytes = conn.execute(
            "SELECT pg_total_relation_size('zoom_webhook_logs'),"
            " (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
            "  JOIN pg_namespace n ON n.oid = c.relnamespace"
            "  WHERE n.nspname = 'public' AND c.relkind = 'r')"
        ).fetchone() or (0, 0)
    mean = sum(values) / len(values)
    return Figure(
        "bytes per webhook (40 participants' mix)",
        f"raw value {mean:,.0f} B; on the broker's disk {on_disk / count:,.0f} B;"
        f" PostgreSQL log row {int(log_bytes) / count:,.0f} B, every table"
        f" {int(all_bytes) / count:,.0f} B",
        "-",
        0.0,
        "-",
        f"{count:,} webhooks; PostgreSQL sizes include the indexes (and the tables' seeds)",
    )


def throughput(
    report: Report,
    env: dict[str, str],
    logs: Path,
    database_urls: Callable[[], str],
    count: int,
) -> None:
    """The pipeline at each meeting size, on a topic and database of its own, against one
    no-op agent measured in the same run."""
    rates: dict[int, float] = {}
    noop = 0.0
    for participants in PARTICIPANTS:
        run_env = {**env, "TOPIC_PREFIX": f"{env['TOPIC_PREFIX']}p{participants}."}
        ensure_bench_topics(run_env)
        database_url = database_urls()
        run_env["DATABASE_URL"] = database_url
        topic = f"{run_env['TOPIC_PREFIX']}zoom.webhooks.raw"
        bootstrap = run_env["KAFKA_BOOTSTRAP_SERVERS"]
        add_events(database_url, meetings_for(count, participants) + 1)
        produce(bootstrap, topic, envelopes(count, participants))
        worker = Process(
            ["-m", "zoomstream", "worker"], run_env, logs / f"worker-p{participants}.log"
        )
        worker_cpu, postgres_cpu = CpuWatch([worker.popen.pid]), CpuWatch(postgres=True)
        try:
            # Timed from the first row: the group has formed, a backlog of `count` waits.
            started = wait_rows(database_url, 1, timeout=180)
            worker_cpu.start()
            postgres_cpu.start()
            first = rows(database_url)
            finished = wait_rows(database_url, count, timeout=max(600.0, count / 50))
            cpu = (worker_cpu.seconds(), postgres_cpu.seconds())
        finally:
            worker.stop()
        rates[participants] = (count - first) / (finished - started)
        applied = count - first
        cpu_note = (
            f"CPU per webhook: worker {cpu[0] / applied * 1e6:,.0f} µs, PostgreSQL"
            f" {cpu[1] / applied * 1e6:,.0f} µs"
        )
        if not noop:
            noop = noop_rate(run_env, logs, count)
            database = count / copy_seconds(database_url)
            report.add(
                Figure(
                    f"PostgreSQL's floor under the pipeline at {participants} participants",
                    f"{database:,.0f} webhooks/s",
                    "COPY of exactly the rows the run wrote (log rows, facts, identities,"
                    " sessions, summaries) into tables like theirs, every index included",
                    rates[participants] / database,
                    "-",
                    "no pipeline that writes these rows can pass this rate here",
                )
            )
        report.add(
            Figure(
                f"pipeline webhooks/s, {participants:,} participants per meeting (one worker)",
                f"{rates[participants]:,.0f}/s ({count:,} webhooks,"
                f" {finished - started:.1f} s from the first row)",
                f"no-op Faust agent {noop:,.0f}/s",
                rates[participants] / noop,
                ">= 0.5 of the no-op agent at 40",
                "mix: per meeting 2 webhooks per participant, start, end, recording; a backlog"
                f" of the whole count; {cpu_note}",
            )
        )
        if participants == PARTICIPANTS[0]:
            report.add(storage(database_url, topic, count))
    small, large = rates[PARTICIPANTS[0]], rates[PARTICIPANTS[-1]]
    report.add(
        Figure(
            f"pipeline at {PARTICIPANTS[-1]:,} participants per meeting against {PARTICIPANTS[0]}",
            f"{large:,.0f}/s",
            f"{small:,.0f}/s at {PARTICIPANTS[0]}",
            large / small,
            ">= 0.8",
            "the cost of a webhook must not grow with its meeting",
        )
    )


WRITTEN = (
    "zoom_webhook_logs",
    "zoom_participant_facts",
    "attendance_identities",
    "attendance_sessions",
    "attendance_summaries",
)


def copy_seconds(database_url: str) -> float:
    """How long PostgreSQL takes to COPY in the rows a pipeline run wrote, table by table, into
    empty tables like theirs (columns, defaults, indexes and constraints): the database's own
    cost of those rows, without a statement, a conflict check or a round trip of ours."""
    elapsed = 0.0
    with psycopg.connect(database_url) as conn:
        for table in WRITTEN:
            data = bytearray()
            with conn.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as out:
                for chunk in out:
                    data += chunk
            conn.execute(f"CREATE TABLE bench_floor_{table} (LIKE {table} INCLUDING ALL)")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor().copy(f"COPY bench_floor_{table} FROM STDIN (FORMAT binary)") as into:
                into.write(bytes(data))
            conn.commit()
            elapsed += time.perf_counter() - started
            conn.execute(f"DROP TABLE bench_floor_{table}")
            conn.commit()
    return elapsed


def ensure_bench_topics(env: dict[str, str]) -> None:
    ensure_topics(
        Settings(
            _env_file=None,
            kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
            topic_prefix=env["TOPIC_PREFIX"],
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


class Visibility:
    """Polls the log table every 10 ms from its own thread and notes when each row became
    visible: that is after its commit, not at its transaction's start (`created_at`)."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self.seen: dict[str, float] = {}
        self.received: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Visibility:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last = 0
        with psycopg.connect(self._url, autocommit=True) as conn:
            while not self._stop.is_set():
                found = conn.execute(
                    "SELECT id, webhook_id, extract(epoch FROM received_at)"
                    " FROM zoom_webhook_logs WHERE id > %s ORDER BY id",
                    (last,),
                ).fetchall()
                now = time.time()
                for row_id, webhook_id, received in found:
                    self.seen.setdefault(str(webhook_id), now)
                    self.received[str(webhook_id)] = float(received)
                    last = max(last, int(row_id))
                time.sleep(0.01)

    def delays(self) -> list[float]:
        return [self.seen[k] - self.received[k] for k in self.seen]


def send_at_rate(
    url: str, secret: bytes, payloads: list[bytes], rate: float, logs: Path
) -> tuple[float, int]:
    """POST the payloads in order, signed, at a fixed rate with vegeta (compiled, open-loop: it
    keeps the schedule however the server answers). Returns the rate vegeta reports it held and
    how many payloads it sent: at the end of its duration it may stop a few short (the first
    ones went out; past the last, it would start again from the first)."""
    targets = targets_file(
        logs / f"targets-{rate:.0f}.json", webhook_targets(url, secret, payloads)
    )
    result = vegeta(targets, len(payloads) / rate, logs / f"latency-{rate:.0f}", rate=rate)
    if not result.all_ok():
        raise RuntimeError(f"vegeta got answers other than 200: {result.answers}")
    return result.offered, min(result.requests, len(payloads))


def latency(
    report: Report, env: dict[str, str], logs: Path, database_url: str, rate: float, seconds: float
) -> None:
    port = free_port()
    secret = env["ZOOM_WEBHOOK_SECRET"].encode()
    ingest = Process(
        ["-m", "zoomstream", "ingest", "--host", "127.0.0.1", "--port", str(port)],
        env,
        logs / f"ingest-latency-{rate:.0f}.log",
    )
    worker = Process(["-m", "zoomstream", "worker"], env, logs / f"worker-latency-{rate:.0f}.log")
    warm_up, *payloads = bodies(int(rate * seconds) + 1)
    url = f"http://127.0.0.1:{port}/webhooks/zoom"
    try:
        ingest.wait_http(f"http://127.0.0.1:{port}/readyz")  # started: it takes webhooks
        worker.wait_http(f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/metrics")
        # Measured from the first webhook the worker has written: its group has formed and
        # its partitions are assigned, so start-up is not counted as latency.
        before = rows(database_url)
        httpx.post(url, content=warm_up, headers=sign(secret, warm_up, int(time.time())))
        wait_rows(database_url, before + 1, timeout=120)
        with Visibility(database_url) as visible:
            achieved, sent = send_at_rate(url, secret, payloads, rate, logs)
            wait_rows(database_url, before + 1 + sent, timeout=180)
            time.sleep(0.1)
    finally:
        worker.stop()
        ingest.stop()
    wanted = {delivery_id(body) for body in payloads[:sent]}
    delays = [d for k, d in zip(visible.seen, visible.delays(), strict=True) if k in wanted]
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    report.add(
        Figure(
            f"webhook-to-row latency at {rate:,.0f} webhooks/s (ingest's receive time to the"
            " row visible after its commit)",
            f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms",
            f"batch window {float(env.get('WORKER_BATCH_SECONDS', '0.5')) * 1000:.0f} ms",
            p99 / float(env.get("WORKER_BATCH_SECONDS", "0.5")),
            "p99 < 1 s at 100/s",
            f"{len(delays):,} webhooks over {seconds:.0f} s; sender held {achieved:,.0f}/s"
            f" of {rate:,.0f}/s",
        )
    )
