"""`zoomstream up`: the whole pipeline on this machine (webhook ingest, the recording API apart
from it, a worker), then the demo, until Ctrl-C; a process that exits is started again
(`zoomstream.supervise`)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from schemas.settings import Settings
from zoomstream.demo import run_demo
from zoomstream.migrate import migrate
from zoomstream.stack import KafkaBroker, LocalPostgres
from zoomstream.supervise import Supervisor
from zoomstream.topics import ensure_topics

DEV_SECRET = "zoomstream-local-dev-secret"


def run_pipeline(echo: Callable[[str], None], stack_home: Path = Path(".stack")) -> None:
    env = dict(os.environ)
    if not env.get("ZOOM_WEBHOOK_SECRET"):
        env["ZOOM_WEBHOOK_SECRET"] = DEV_SECRET
        echo(f"ZOOM_WEBHOOK_SECRET is not set: using the local development secret {DEV_SECRET!r}")
    if "KAFKA_BOOTSTRAP_SERVERS" in env:
        echo(f"Kafka: using KAFKA_BOOTSTRAP_SERVERS ({env['KAFKA_BOOTSTRAP_SERVERS']})")
    else:
        echo(KafkaBroker(home=stack_home / "kafka", cache=stack_home / "cache").up())
    if "DATABASE_URL" not in env:
        echo(LocalPostgres(home=stack_home / "postgres").up())
    settings = Settings(zoom_webhook_secret=env["ZOOM_WEBHOOK_SECRET"])
    applied = migrate(settings.database_url, platform=True)
    echo(f"migrations applied: {len(applied)}")
    ensure_topics(settings)
    logs = stack_home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(env, echo)
    signal.signal(signal.SIGTERM, _interrupt)  # stopped by a process manager: as for Ctrl-C
    try:
        # Webhooks and the API apart: no API request can hold the loop that answers Zoom.
        supervisor.start("ingest", ["ingest", "--only", "webhooks"], logs / "ingest.log")
        supervisor.start("api", ["ingest", "--only", "api"], logs / "api.log")
        supervisor.start("worker", ["worker", "--loglevel", "info"], logs / "worker.log")
        _wait_ready(f"http://127.0.0.1:{settings.ingest_port}/readyz", 60.0)
        echo(f"ingest (webhooks) ready on :{settings.ingest_port}")
        _wait_ready(f"http://127.0.0.1:{settings.api_port}/readyz", 60.0)
        echo(f"recording API and dashboard ready on :{settings.api_port}")
        run_demo(settings, f"http://127.0.0.1:{settings.ingest_port}", 20, echo)
        echo(
            "the pipeline keeps running, a process that exits is started again; Ctrl-C stops "
            "ingest, the API and the worker (`zoomstream stack down` stops Kafka and PostgreSQL)"
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        echo("stopping")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the children are being stopped already
        supervisor.stop()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


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
