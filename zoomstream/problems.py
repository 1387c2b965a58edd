"""The known problems an operator meets (a setting missing or malformed, Kafka, PostgreSQL or the
SMTP relay unreachable, topics or migrations not as expected), each with one message and its own
exit status (README, "Exit status"). A command raises `Problem`, or lets a library's error reach
`main`, which `classify` turns into one; anything else is a bug and keeps its traceback.

No secret reaches a message: the settings hide their input in errors, and `scrub` blanks the
password of any URL and every secret value of the settings in use.
"""

from __future__ import annotations

import re
from enum import IntEnum
from urllib.parse import urlsplit

from confluent_kafka import KafkaError, KafkaException
from pydantic import SecretStr, ValidationError

from schemas.settings import Settings


class ExitStatus(IntEnum):
    OK = 0
    BUG = 1  # an unexpected error: its traceback is shown
    USAGE = 2  # a wrong option (typer); replay and retry-failed: some items failed again
    SETTINGS = 3
    KAFKA = 4
    POSTGRESQL = 5
    SMTP = 6
    TOPICS = 7
    MIGRATIONS = 8
    STACK = 9  # `zoomstream stack up`/`up` could not start the local Kafka or PostgreSQL


class Problem(Exception):
    """A known problem: what is wrong (naming the setting or service) and what to do."""

    def __init__(self, status: ExitStatus, what: str, todo: str) -> None:
        super().__init__(f"{what} — {todo}")
        self.status = status
        self.what = what
        self.todo = todo


SETTINGS_TODO = "set it in the environment or .env (README, Configuration)"
INVALID_TODO = "correct it in the environment or .env (README, Configuration)"
KAFKA_TODO = "start it with `zoomstream stack up` or set KAFKA_BOOTSTRAP_SERVERS"
POSTGRESQL_TODO = "start it with `zoomstream stack up` or set DATABASE_URL"

# librdkafka's codes for a broker that does not answer (as opposed to a request it refused).
UNREACHABLE_CODES = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._RESOLVE,
    }
)


def invalid_settings(exc: ValidationError) -> Problem:
    """One line naming each setting at fault (by its variable) and why, without its value."""
    faults = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        name = ".".join(str(part) for part in error["loc"]).upper()
        faults.append(f"{name}: {message}" if name else message)
    return Problem(ExitStatus.SETTINGS, "invalid setting: " + "; ".join(faults), INVALID_TODO)


def missing_setting(name: str, why: str) -> Problem:
    return Problem(ExitStatus.SETTINGS, f"{name} is not set ({why})", SETTINGS_TODO)


def kafka_unreachable(servers: str, reason: str) -> Problem:
    return Problem(ExitStatus.KAFKA, f"cannot reach Kafka at {servers} ({reason})", KAFKA_TODO)


def postgresql_unreachable(url: str, reason: str) -> Problem:
    return Problem(
        ExitStatus.POSTGRESQL,
        f"cannot reach PostgreSQL at {database_location(url)} ({reason})",
        POSTGRESQL_TODO,
    )


def smtp_unreachable(host: str, port: int, reason: str) -> Problem:
    return Problem(
        ExitStatus.SMTP,
        f"cannot reach the SMTP relay at {host}:{port} ({reason})",
        "start it or set SMTP_HOST and SMTP_PORT",
    )


def database_location(url: str) -> str:
    """host:port/database of a libpq URL: where it points, without its user or password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    return f"{host}:{port}{parts.path or '/'}"


def postgresql_reason(exc: Exception) -> str:
    """psycopg's first line, without its "connection failed:" preamble."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removeprefix("connection failed: ").strip()


def kafka_reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return str(error.str())
    return str(exc)


def classify(exc: BaseException) -> Problem | None:
    """The known problem `exc` is, if it is one; None for a bug."""
    import psycopg

    from zoomstream.stack.processes import StackError
    from zoomstream.topics import TopicMismatch

    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        return invalid_settings(exc)
    if isinstance(exc, TopicMismatch):
        return Problem(
            ExitStatus.TOPICS,
            str(exc),
            "partitions cannot change on live topics: use a new TOPIC_PREFIX"
            " (docs/operations.md, Scaling out) or set KAFKA_PARTITIONS to the topics' count",
        )
    if isinstance(exc, StackError):
        return Problem(ExitStatus.STACK, str(exc), "see the log it names")
    if isinstance(exc, psycopg.OperationalError):
        return Problem(
            ExitStatus.POSTGRESQL,
            f"PostgreSQL failed: {postgresql_reason(exc)} (DATABASE_URL)",
            POSTGRESQL_TODO,
        )
    if isinstance(exc, KafkaException):
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and error.code() in UNREACHABLE_CODES:
            return Problem(
                ExitStatus.KAFKA, f"Kafka did not answer ({kafka_reason(exc)})", KAFKA_TODO
            )
    return None


URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)


def scrub(text: str, settings: Settings | None = None) -> str:
    """`text` without the password of any URL in it, nor any secret value of `settings`."""
    text = URL_PASSWORD.sub(r"\g<head>***@", text)
    for secret in secrets(settings) if settings is not None else ():
        text = text.replace(secret, "***")
    return text


MIN_SCRUBBED = 4
"""Shorter secret values are not blanked: they would blank pieces of every word."""


def secrets(settings: Settings) -> list[str]:
    """Every secret value of the settings (MIN_SCRUBBED characters at least), longest first
    (one may contain another)."""
    values = [
        value.get_secret_value()
        for value in (getattr(settings, name) for name in type(settings).model_fields)
        if isinstance(value, SecretStr)
    ]
    password = urlsplit(settings.database_url).password
    if password:
        values.append(password)
    return sorted((v for v in values if len(v) >= MIN_SCRUBBED), key=len, reverse=True)
