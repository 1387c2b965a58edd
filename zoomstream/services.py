"""The services a command needs, reached once (`require`, the one-shot commands) or waited for
(`wait_for`, ingest and the worker): capped exponential backoff, a log line per attempt, for at
most SERVICE_WAIT_SECONDS (0: as long as it takes); then the problem of the last attempt."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from enum import StrEnum

import psycopg
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    stop_when_event_set,
    wait_exponential,
)
from tenacity.stop import stop_base

from schemas.settings import Settings
from sinks import database_answers
from zoomstream import problems
from zoomstream.problems import Problem
from zoomstream.topics import cluster

log = logging.getLogger(__name__)

FIRST_WAIT_SECONDS = 1.0
MAX_WAIT_SECONDS = 30.0


class Service(StrEnum):
    KAFKA = "Kafka"
    POSTGRESQL = "PostgreSQL"


class Unreachable(Problem):
    """A service that did not answer this time (another attempt may find it up)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.status, problem.what, problem.todo)


def probe(settings: Settings, service: Service) -> str:
    """One attempt at `service`: where it answered, or `Unreachable`."""
    if service is Service.KAFKA:
        try:
            brokers = len(cluster(settings).brokers)
        except Problem as exc:
            raise Unreachable(exc) from exc
        return f"{settings.kafka_bootstrap_servers}, {brokers} broker(s)"
    try:
        database_answers(settings.database_url)
    except psycopg.OperationalError as exc:
        raise Unreachable(
            problems.postgresql_unreachable(settings.database_url, problems.postgresql_reason(exc))
        ) from exc
    return problems.database_location(settings.database_url)


def require(settings: Settings, *services: Service) -> None:
    """Each service answers now, or its problem is raised (no waiting)."""
    for service in services:
        probe(settings, service)


def wait_for(
    settings: Settings, services: Iterable[Service], stopping: threading.Event | None = None
) -> None:
    """Until each service answers; its problem once SERVICE_WAIT_SECONDS have passed (or as soon
    as `stopping` is set: the process is stopping)."""
    for service in services:
        _wait(settings, service, stopping)


def _sleeper(stopping: threading.Event | None) -> Callable[[float], None]:
    """time.sleep, or a sleep that ends early when `stopping` is set."""
    if stopping is None:
        return time.sleep

    def sleep(seconds: float) -> None:
        stopping.wait(seconds)

    return sleep


def _wait(settings: Settings, service: Service, stopping: threading.Event | None) -> None:
    started = time.monotonic()
    bound = settings.service_wait_seconds
    stop: stop_base = stop_after_delay(bound) if bound > 0 else stop_never
    if stopping is not None:
        stop = stop | stop_when_event_set(stopping)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "waiting for %s (attempt %d failed, %.0f s so far%s): %s; next attempt in %.0f s",
            service,
            state.attempt_number,
            time.monotonic() - started,
            f" of SERVICE_WAIT_SECONDS={bound:g}" if bound > 0 else "",
            problems.scrub(str(error), settings),
            state.upcoming_sleep,
        )

    retrying = Retrying(
        retry=retry_if_exception_type(Unreachable),
        wait=wait_exponential(multiplier=FIRST_WAIT_SECONDS, max=MAX_WAIT_SECONDS),
        stop=stop,
        sleep=_sleeper(stopping),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                where = probe(settings, service)
    except Unreachable as exc:
        raise Problem(
            exc.status,
            f"{exc.what}; gave up after {time.monotonic() - started:.0f} s (SERVICE_WAIT_SECONDS)",
            exc.todo,
        ) from exc
    if retrying.statistics.get("attempt_number", 1) > 1:
        log.warning("%s answers (%s) after %.0f s", service, where, time.monotonic() - started)
