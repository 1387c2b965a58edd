"""`zoomstream check`: is this deployment ready to run? One item per line, ok or its problem;
the exit status is the first failing item's (`zoomstream.problems`), 0 when all pass."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass

from schemas.settings import Settings
from schemas.topics import topic_specs
from zoomstream import problems
from zoomstream.migrate import pending
from zoomstream.problems import ExitStatus, Problem
from zoomstream.services import Service, probe
from zoomstream.topics import cluster, compare

SMTP_TIMEOUT_SECONDS = 5.0
SMTP_SETTINGS = frozenset({"smtp_host", "smtp_port", "smtp_username", "smtp_password"})


@dataclass(frozen=True)
class Item:
    name: str
    problem: Problem | None = None
    detail: str = ""
    skipped: str = ""  # passes without a check: why there is none

    def line(self) -> str:
        if self.problem is not None:
            return f"{self.name}: {self.problem}"
        if self.skipped:
            return f"{self.name}: {self.skipped}"
        return f"{self.name}: ok" + (f" ({self.detail})" if self.detail else "")


def exit_status(items: list[Item]) -> ExitStatus:
    failed = [item.problem.status for item in items if item.problem is not None]
    return failed[0] if failed else ExitStatus.OK


def run_checks(settings: Settings) -> list[Item]:
    """Each item in turn; what cannot be reached is not read (its item says so)."""
    items = [_secret(settings)]
    kafka = _item("kafka", lambda: probe(settings, Service.KAFKA))
    items.append(kafka)
    items.append(
        _item("topics", lambda: _topics(settings))
        if kafka.problem is None
        else _skip("topics", kafka)
    )
    postgresql = _item("postgresql", lambda: probe(settings, Service.POSTGRESQL))
    items.append(postgresql)
    items.append(
        _item("migrations", lambda: _migrations(settings))
        if postgresql.problem is None
        else _skip("migrations", postgresql)
    )
    items.append(_smtp(settings))
    return items


def _item(name: str, check: Callable[[], str]) -> Item:
    try:
        return Item(name, detail=check())
    except Problem as exc:
        return Item(name, problem=exc)


def _skip(name: str, cause: Item) -> Item:
    assert cause.problem is not None
    return Item(
        name,
        Problem(cause.problem.status, f"not checked: {cause.name} failed", cause.problem.todo),
    )


def _secret(settings: Settings) -> Item:
    if settings.zoom_webhook_secret is None:
        return Item(
            "settings",
            problems.missing_setting("ZOOM_WEBHOOK_SECRET", "ingest refuses to start without it"),
        )
    return Item("settings")


def _topics(settings: Settings) -> str:
    report = compare(settings, cluster(settings).topics)
    wanted = len(topic_specs(settings))
    if report.mismatched:
        raise Problem(
            ExitStatus.TOPICS,
            f"{', '.join(report.mismatched)}; KAFKA_PARTITIONS is {settings.kafka_partitions}",
            "partitions cannot change on live topics: use a new TOPIC_PREFIX"
            " (docs/operations.md, Scaling out) or set KAFKA_PARTITIONS to the topics' count",
        )
    if report.missing:
        raise Problem(
            ExitStatus.TOPICS,
            f"{len(report.missing)} of {wanted} topics missing ({_some(report.missing)})",
            "`zoomstream worker` and `zoomstream ingest` create them when they start",
        )
    return f"{wanted} topics, {settings.kafka_partitions} partitions each"


def _migrations(settings: Settings) -> str:
    missing, total = pending(settings.database_url)
    if missing:
        raise Problem(
            ExitStatus.MIGRATIONS,
            f"{len(missing)} of {total} migrations not applied ({_some(missing)})",
            "run `zoomstream migrate`",
        )
    return f"{total} applied"


def _some(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (", …" if len(names) > shown else "")


def _smtp(settings: Settings) -> Item:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if not SMTP_SETTINGS & settings.model_fields_set:
        return Item("smtp", skipped=f"not checked: SMTP_HOST is not set (the default is {where})")
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
        ) as relay:
            code, _ = relay.ehlo()
            tls = relay.has_extn("starttls")
    except (OSError, smtplib.SMTPException) as exc:
        reason = str(exc) or type(exc).__name__
        return Item(
            "smtp", problems.smtp_unreachable(settings.smtp_host, settings.smtp_port, reason)
        )
    if code != 250:
        return Item(
            "smtp",
            problems.smtp_unreachable(
                settings.smtp_host, settings.smtp_port, f"EHLO answered {code}"
            ),
        )
    return Item("smtp", detail=f"{where}, STARTTLS {'offered' if tls else 'not offered'}")
