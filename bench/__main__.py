"""`python -m bench [--scale quick|full] [--only ingest isolation pipeline replay memory faults]`.

Uses the local stack (`scripts/bench` starts it), a database and topics of its own, and appends
the figures to bench/RESULTS.md."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench import faults, ingest, isolation, memory, pipeline, replay
from bench.common import ROOT, Report, free_port
from schemas.settings import LOCAL_DATABASE_URL, Settings
from zoomstream.migrate import migrate
from zoomstream.topics import ensure_topics

SCALES = {
    # figure → size: webhooks (pipeline, replay), ids (memory), seconds (ingest, isolation,
    # faults)
    "quick": {
        "ingest": 10,
        "isolation": 10,
        "pipeline": 20_000,
        "latency": 20,
        "replay": 50_000,
        "memory": 200_000,
        "faults": 10,
    },
    "full": {
        "ingest": 30,
        "isolation": 30,
        "pipeline": 100_000,
        "latency": 30,
        "replay": 1_000_000,
        "memory": 1_000_000,
        "faults": 30,
    },
}


def bench_database(base: str) -> str:
    name = f"zs_bench_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(base)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(parts._replace(path=f"/{name}"))
    migrate(url, platform=True)
    return url


def drop_database(url: str) -> None:
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=["ingest", "isolation", "pipeline", "replay", "memory", "faults"],
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    sizes = SCALES[args.scale]
    wanted = set(args.only or ["ingest", "isolation", "pipeline", "replay", "memory", "faults"])
    logs = Path(tempfile.mkdtemp(prefix="zoomstream-bench-"))
    prefix = f"bench{int(time.time())}."
    database_url = bench_database(os.environ.get("DATABASE_URL", LOCAL_DATABASE_URL))
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "DATABASE_URL": database_url,
        "TOPIC_PREFIX": prefix,
        "ZOOM_WEBHOOK_SECRET": "bench-secret",
        "WORKER_METRICS_PORT": str(free_port()),
        "WORKER_DATADIR": str(logs / "faust"),
    }
    ensure_topics(
        Settings(
            _env_file=None,
            kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
            topic_prefix=prefix,
        )
    )
    report = Report()
    print(f"logs in {logs}", flush=True)
    try:
        if "ingest" in wanted:
            ingest.run(report, env, logs, sizes["ingest"])
        if "isolation" in wanted:
            isolation.run(report, env, logs, database_url, sizes["isolation"])
        if "pipeline" in wanted:
            pipeline.throughput(
                report, env, logs, lambda: bench_database(database_url), sizes["pipeline"]
            )
            for rate in (100, 1_000):
                pipeline.latency(
                    report, env, logs, database_url, rate=rate, seconds=sizes["latency"]
                )
        if "replay" in wanted:
            replay.run(report, env, bench_database(database_url), sizes["replay"])
        if "memory" in wanted:
            memory.run(report, env, logs, sizes["memory"])
        if "faults" in wanted:
            faults.run(report, logs, sizes["faults"])
    finally:
        report.append_to_results(args.scale)
        if not args.keep:
            drop_database(database_url)
    print(f"appended to {ROOT / 'bench' / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
