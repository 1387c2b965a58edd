"""`zoomstream up`: the whole pipeline on this machine, then the demo, until Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from zoomstream.demo import run_demo
from zoomstream.migrate import migrate
from zoomstream.settings import Settings
from zoomstream.stack import KafkaBroker, LocalPostgres
from zoomstream.topics import ensure_topics

DEV_SECRET = "zoomstream-local-dev-secret"


def run_pipeline(echo: Callable[[str], None], stack_home: Path = Path(".stack")) -> None:
    env = dict(os.environ)
    if not env.get("ZOOM_WEBHOOK_SECRET"):
        env["ZOOM_WEBHOOK_SECRET"] = DEV_SECRET
        echo(f"ZOOM_WEBHOOK_SECRET is not set: using the local development secret {DEV_SECRET!r}")
    echo(KafkaBroker(home=stack_home / "kafka", cache=stack_home / "cache").up())
    if "DATABASE_URL" not in env:
        echo(LocalPostgres(home=stack_home / "postgres").up())
    settings = Settings(zoom_webhook_secret=env["ZOOM_WEBHOOK_SECRET"])
    applied = migrate(settings.database_url, platform=True)
    echo(f"migrations applied: {len(applied)}")
    ensure_topics(settings)
    logs = stack_home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children = [
        _spawn(["ingest"], env, logs / "ingest.log"),
        _spawn(["worker", "--loglevel", "info"], env, logs / "worker.log"),
    ]
    echo(f"ingest on :{settings.ingest_port} and a worker started (logs in {logs})")
    try:
        _wait_ready(f"http://127.0.0.1:{settings.ingest_port}/readyz", 60.0)
        run_demo(settings, f"http://127.0.0.1:{settings.ingest_port}", 20, echo)
        echo(
            "the pipeline keeps running; Ctrl-C stops ingest and the worker "
            "(`zoomstream stack down` stops Kafka and PostgreSQL)"
        )
        while all(child.poll() is None for child in children):
            time.sleep(1.0)
        echo("a pipeline process exited; see the logs")
    except KeyboardInterrupt:
        echo("stopping")
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "zoomstream", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"ingest not ready within {timeout:.0f} s ({url})")
