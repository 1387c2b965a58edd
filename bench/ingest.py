"""1. Ingest: signed webhooks/s and latency of POST /webhooks/zoom with durable 200s, against a
no-op Starlette endpoint on the same server stack, under load from a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, Figure, Process, Report, free_port

SECRET = "bench-secret"


def load(url: str, seconds: float, concurrency: int) -> dict[str, float]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--url",
            url,
            "--seconds",
            str(seconds),
            "--concurrency",
            str(concurrency),
            "--secret",
            SECRET,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def run(report: Report, env: dict[str, str], logs: Path, seconds: float, concurrency: int) -> None:
    port = free_port()
    floor = Process(["-m", "bench.servers", "--port", str(port)], env, logs / "noop.log")
    try:
        floor.wait_http(f"http://127.0.0.1:{port}/healthz")
        load(f"http://127.0.0.1:{port}", 2, concurrency)  # warm-up
        base = load(f"http://127.0.0.1:{port}", seconds, concurrency)
    finally:
        floor.stop()

    port = free_port()
    ingest_env = {**env, "ZOOM_WEBHOOK_SECRET": SECRET}
    ingest = Process(
        ["-m", "zoomstream", "ingest", "--host", "127.0.0.1", "--port", str(port)],
        ingest_env,
        logs / "ingest.log",
    )
    try:
        ingest.wait_http(f"http://127.0.0.1:{port}/readyz")  # started: it takes webhooks
        load(f"http://127.0.0.1:{port}", 2, concurrency)
        real = load(f"http://127.0.0.1:{port}", seconds, concurrency)
    finally:
        ingest.stop()
    answers = real["answers"]
    report.add(
        Figure(
            "ingest webhooks/s (durable 200s)",
            f"{real['rps']:,.0f}/s, p50 {real['p50_ms']:.1f} ms, p99 {real['p99_ms']:.1f} ms",
            f"no-op {base['rps']:,.0f}/s, p50 {base['p50_ms']:.1f} ms, p99 {base['p99_ms']:.1f} ms",
            real["rps"] / base["rps"],
            ">= 0.7",
            f"{concurrency} connections, {seconds:.0f} s, answers {answers}",
        )
    )
