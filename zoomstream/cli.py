"""The `zoomstream` command line."""

from __future__ import annotations

import logging
import os
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from schemas.settings import Settings
from zoomstream import problems
from zoomstream.services import Service, require, wait_for
from zoomstream.stack import KafkaBroker, LocalPostgres

app = typer.Typer(
    help="Zoom and email webhooks into trustworthy records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stack_app = typer.Typer(
    help="The local Kafka and PostgreSQL (no Docker needed).", no_args_is_help=True
)
app.add_typer(stack_app, name="stack")

STACK_HOME = Path(".stack")


@dataclass
class _Run:
    """This invocation: --debug, and the settings read (whose secrets no message may show)."""

    debug: bool = False
    settings: Settings | None = None


_run = _Run()


@app.callback()
def options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the traceback of a known problem (a setting, Kafka, PostgreSQL, SMTP) too.",
        ),
    ] = False,
) -> None:
    """Zoom and email webhooks into trustworthy records."""
    _run.debug = debug


def _settings() -> Settings:
    _run.settings = Settings()
    return _run.settings


class Only(StrEnum):
    webhooks = "webhooks"
    api = "api"


@app.command()
def ingest(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port (default INGEST_PORT, 8000; with --only api, API_PORT, 8001)."),
    ] = None,
    only: Annotated[
        Only | None,
        typer.Option(
            help="Serve only the webhooks (Zoom's and the email providers') or only the API (the"
            " recording API and the dashboard); both when not given."
        ),
    ] = None,
) -> None:
    """Run the HTTP ingest endpoint. Started before Kafka (or, but for --only webhooks,
    PostgreSQL) answers, it waits for them (SERVICE_WAIT_SECONDS), serving /healthz at once and
    503 with Retry-After to everything else meanwhile."""
    import asyncio
    import threading

    import uvicorn

    from ingest import KafkaPublisher, create_app
    from ingest.serve import SERVER_OPTIONS, settle_collector
    from sinks import database_reachable
    from zoomstream.topics import ensure_topics

    settings = _settings()
    if settings.zoom_webhook_secret is None:
        raise problems.missing_setting(
            "ZOOM_WEBHOOK_SECRET",
            "ingest verifies Zoom's signatures with the Zoom app's secret token",
        )
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, settings.publish_timeout_seconds)
    # The webhooks never read PostgreSQL: an outage of it must not make them look unready.
    needs = [Service.KAFKA] if only is Only.webhooks else [Service.KAFKA, Service.POSTGRESQL]
    stopping = threading.Event()
    failed: list[Exception] = []

    async def prepare() -> None:
        try:
            await asyncio.to_thread(wait_for, settings, needs, stopping)
            await asyncio.to_thread(ensure_topics, settings)
        except asyncio.CancelledError:
            stopping.set()  # the waiting thread ends at its next attempt
            raise
        except Exception as exc:
            failed.append(exc)
            server.should_exit = True
            raise

    async def database() -> bool:
        return await database_reachable(settings.database_url)

    readiness = {} if only is Only.webhooks else {"postgresql": database}
    application = create_app(
        settings,
        publisher,
        readiness=readiness,
        serve=only.value if only else "all",
        prepare=prepare,
    )
    default_port = settings.api_port if only is Only.api else settings.ingest_port
    if only is Only.api and settings.api_nice:
        os.nice(settings.api_nice)  # Zoom's answers first where both share a host's CPU
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host=host or settings.ingest_host,
            port=port or default_port,
            **SERVER_OPTIONS,
        )
    )
    settle_collector()
    server.run()
    if failed:
        raise failed[0]


@app.command()
def worker(
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "warn",
) -> None:
    """Run the stream worker (Faust): dedup, transform, write to PostgreSQL. Started before
    Kafka or PostgreSQL answers, it waits for them (SERVICE_WAIT_SECONDS)."""
    from prometheus_client import start_http_server

    from streams import create_worker
    from streams.runtime import faust_internals, metrics
    from zoomstream.topics import ensure_topics

    settings = _settings()
    wait_for(settings, [Service.KAFKA, Service.POSTGRESQL])
    ensure_topics(settings)
    if settings.worker_metrics_port:
        start_http_server(
            settings.worker_metrics_port,
            addr=settings.worker_metrics_host,
            registry=metrics.REGISTRY,
        )
    faust_app = create_worker(settings)
    faust_internals.worker(faust_app, loglevel).execute_from_commandline()


@app.command()
def migrate(
    platform: Annotated[
        bool, typer.Option(help="Also create the platform's tables (local use and tests).")
    ] = False,
) -> None:
    """Apply database migrations."""
    from zoomstream.migrate import migrate as run_migrations

    settings = _settings()
    require(settings, Service.POSTGRESQL)
    applied = run_migrations(settings.database_url, platform=platform)
    typer.echo(
        f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else "")
    )


def _stack() -> tuple[KafkaBroker, LocalPostgres, bool]:
    broker = KafkaBroker(home=STACK_HOME / "kafka", cache=STACK_HOME / "cache")
    postgres = LocalPostgres(home=STACK_HOME / "postgres")
    own_database = "DATABASE_URL" not in os.environ
    return broker, postgres, own_database


@stack_app.command("up")
def stack_up() -> None:
    """Start the local Kafka broker and PostgreSQL (unless DATABASE_URL names one); wait for both."""
    broker, postgres, own_database = _stack()
    typer.echo(broker.up())
    if own_database:
        typer.echo(postgres.up())
    else:
        typer.echo("PostgreSQL: using DATABASE_URL")


@stack_app.command("down")
def stack_down() -> None:
    """Stop what `stack up` started, and nothing else."""
    broker, postgres, _ = _stack()
    typer.echo(broker.down())
    typer.echo(postgres.down())


@stack_app.command("status")
def stack_status() -> None:
    """Say what runs."""
    broker, postgres, own_database = _stack()
    typer.echo(
        f"kafka: {'running' if broker.running() else 'stopped'} on {broker.bootstrap} "
        f"(log: {broker.log_file})"
    )
    if own_database:
        typer.echo(
            f"postgresql: {'running' if postgres.running() else 'stopped'} at {postgres.url} "
            f"(log: {postgres.log_file})"
        )
    else:
        typer.echo("postgresql: external, from DATABASE_URL")


@app.command()
def demo(
    url: Annotated[str, typer.Option(help="Ingest base URL.")] = "http://127.0.0.1:8000",
    count: Annotated[int, typer.Option(help="Webhooks to send.")] = 20,
) -> None:
    """Send a burst of signed sample Zoom webhooks and show what landed in PostgreSQL."""
    from zoomstream.demo import run_demo

    settings = _settings()
    if settings.zoom_webhook_secret is None:
        raise problems.missing_setting(
            "ZOOM_WEBHOOK_SECRET", "the demo signs its webhooks with it, as Zoom does"
        )
    run_demo(settings, url, count, echo=typer.echo)


@app.command()
def cleanup(
    webhook_days: Annotated[int, typer.Option(help="Keep zoom_webhook_logs this many days.")] = 90,
    email_days: Annotated[
        int, typer.Option(help="Keep email_logs and email_events this many days.")
    ] = 365,
    api_call_days: Annotated[
        int,
        typer.Option(help="Keep external_api_calls (the external API call log) this many days."),
    ] = 90,
    batch_size: Annotated[int, typer.Option(help="Rows deleted per transaction.")] = 5000,
) -> None:
    """Delete logs past their retention in bounded batches (the worker also runs this daily)."""
    import asyncio
    from datetime import UTC, datetime

    from sinks import Database
    from sinks.retention import cleanup as run_cleanup

    settings = _settings()
    require(settings, Service.POSTGRESQL)

    async def go() -> dict[str, int]:
        db = Database(settings.database_url)
        try:
            days = {
                "zoom_webhook_logs": webhook_days,
                "email_logs": email_days,
                "email_events": email_days,
                "external_api_calls": api_call_days,
            }
            return await run_cleanup(db, datetime.now(tz=UTC), days, batch_size)
        finally:
            await db.close()

    for table, count in asyncio.run(go()).items():
        typer.echo(f"{table}: {count} rows deleted")


TIME_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


@app.command()
def replay(
    start: Annotated[
        datetime,
        typer.Option("--from", formats=TIME_FORMATS, help="Start (UTC unless an offset is given)."),
    ],
    end: Annotated[
        datetime | None,
        typer.Option("--to", formats=TIME_FORMATS, help="End, exclusive (default: now)."),
    ] = None,
    event_type: Annotated[
        list[str] | None,
        typer.Option("--event-type", help="Only these Zoom event types (repeatable)."),
    ] = None,
    email: Annotated[bool, typer.Option(help="Also replay email.events.raw.")] = True,
) -> None:
    """Reprocess a period of the raw topics into the same tables; duplicates nothing."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from streams.webhooks.replay import replay as run_replay

    def utc(moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    settings = _settings()
    require(settings, Service.KAFKA, Service.POSTGRESQL)
    until = utc(end) if end else datetime.now(tz=UTC)
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task("replaying", total=None)
        summary = asyncio.run(
            run_replay(
                settings,
                utc(start),
                until,
                event_type or (),
                include_email=email,
                advance=lambda n: progress.advance(task, n),
                announce_total=lambda n: progress.update(task, total=n),
            )
        )
    for line in summary.lines():
        typer.echo(line)
    if summary.failed or summary.unreadable:
        raise typer.Exit(code=2)


@app.command("retry-failed")
def retry_failed(
    stuck_after_minutes: Annotated[
        int, typer.Option(help="Re-drive pending/processing log rows untouched this long.")
    ] = 60,  # streams.runtime.attempts.STUCK_AFTER (not imported here: the CLI starts fast)
    dead_letters: Annotated[
        bool, typer.Option(help="Also re-drive the dead-letter topics.")
    ] = True,
    force: Annotated[
        bool,
        typer.Option(help="Also re-drive webhooks that have had their three attempts."),
    ] = False,
) -> None:
    """Re-drive failed webhooks (each by its event type), stuck ones, and dead letters; never a
    parked one (it waits for its recording), nor one past its three attempts unless --force."""
    import asyncio
    from datetime import timedelta

    from streams.webhooks.retry_failed import retry_failed as run_retry

    settings = _settings()
    require(settings, Service.KAFKA, Service.POSTGRESQL)
    summary = asyncio.run(
        run_retry(settings, timedelta(minutes=stuck_after_minutes), dead_letters, force)
    )
    for line in summary.lines():
        typer.echo(line)
    if summary.failed_again:
        raise typer.Exit(code=2)


@app.command()
def schemas(
    out: Annotated[Path, typer.Option(help="Folder for the JSON Schemas.")] = Path("docs/schemas"),
) -> None:
    """Write the JSON Schema of every topic value, generated from schemas/."""
    from zoomstream.schema_docs import write

    for path in write(out):
        typer.echo(f"wrote {path}")


@app.command()
def check() -> None:
    """Is this deployment ready? The settings, Kafka (the topics and their partitions),
    PostgreSQL (the migrations), and the SMTP relay when configured: one line each, ok or the
    problem; exit status 0 only when all pass (else the first failure's, README "Exit status")."""
    from pydantic import ValidationError

    from zoomstream.check import exit_status, run_checks

    try:
        settings = _settings()
    except ValidationError as exc:
        typer.echo(f"settings: {problems.invalid_settings(exc)}")
        raise typer.Exit(code=problems.ExitStatus.SETTINGS) from None
    items = run_checks(settings)
    for item in items:
        typer.echo(problems.scrub(item.line(), settings))
    raise typer.Exit(code=exit_status(items))


@app.command()
def up() -> None:
    """Everything at once: stack, migrations, ingest and a worker (each started again when it
    exits), then the demo; Ctrl-C stops."""
    from zoomstream.run import run_pipeline

    run_pipeline(echo=typer.echo)


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        app()
    except Exception as exc:
        problem = problems.classify(exc)
        if problem is None:
            raise  # a bug: its traceback
        if _run.debug:
            traceback.print_exception(exc)
        typer.echo(f"zoomstream: {problems.scrub(str(problem), _run.settings)}", err=True)
        raise SystemExit(problem.status) from None
