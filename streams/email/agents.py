"""The email agents: send requests out through SMTP, provider events in to email_logs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import faust
import psycopg
from psycopg import AsyncConnection
from pydantic import ValidationError

from schemas.email_envelope import EmailWebhookEnvelope
from schemas.email_event import EmailEvent, InvalidEmailWebhook
from schemas.email_retry import EmailSendRetry
from schemas.email_send import EmailSendRequest
from schemas.settings import Settings
from schemas.topics import EMAIL_DEAD_LETTERS, EMAIL_RAW, EMAIL_SEND, EMAIL_SEND_RETRY
from sinks import Database, in_transaction
from streams.email.retries import SWEEP_EVERY_SECONDS, sweep
from streams.email.sender import EmailSender, Mailer, SendResult, SmtpMailer
from streams.email.tracking import Applied, apply_events, normalise
from streams.runtime import metrics
from streams.runtime.clock import utc_now
from streams.runtime.dead_letters import dead_letter_unreadable
from streams.runtime.delivery import Delivery
from streams.runtime.sources import RepairedSource, batch_agent, byte_topic

log = logging.getLogger(__name__)

M = TypeVar("M", EmailSendRequest, EmailSendRetry)


def smtp_mailer(settings: Settings) -> SmtpMailer:
    password = settings.smtp_password
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_username,
        password.get_secret_value() if password else None,
        settings.smtp_start_tls,
        settings.smtp_timeout_seconds,
    )


def install_email_agents(
    app: faust.App,
    settings: Settings,
    db: Database,
    mailer: Mailer | None = None,
) -> list[RepairedSource]:
    """Install the email agents; returns the batch sources whose idle sweep the worker runs."""
    dead_letters = byte_topic(app, settings, EMAIL_DEAD_LETTERS)
    sender = EmailSender(
        db,
        mailer or smtp_mailer(settings),
        provider=settings.email_provider,
        domain=settings.email_message_id_domain,
        duplicate_window=timedelta(minutes=settings.email_duplicate_window_minutes),
        backoff=settings.email_send_backoff_seconds,
        clock=utc_now,
    )

    retry_topic = byte_topic(app, settings, EMAIL_SEND_RETRY)

    async def each(
        stream: Any, model: type[M], what: str, handle: Callable[[M], Awaitable[SendResult]]
    ) -> None:
        """One message at a time, each one attempt at most: nothing waits here."""
        async for event in stream.events():
            message = event.message
            delivery = Delivery(message.topic, message.partition, message.offset, event.value)
            try:
                parsed = model.model_validate_json(event.value)
            except ValidationError as exc:
                error = f"not {what}: {exc.errors()[0]['msg']}"
                await dead_letter_unreadable(dead_letters, delivery, error)
                continue
            try:
                outcome = await handle(parsed)
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:  # a value no column can hold: never blocks the partition
                await dead_letter_unreadable(dead_letters, delivery, f"{type(exc).__name__}: {exc}")
                continue
            metrics.EMAILS_SENT.labels(outcome).inc()

    @app.agent(byte_topic(app, settings, EMAIL_SEND), name="email-send")
    async def send_agent(stream: Any) -> None:
        """Requests in order per recipient (the topic's key); each makes the first attempt."""
        await each(stream, EmailSendRequest, "an email send request", sender.handle)

    @app.agent(retry_topic, name="email-retry")
    async def retry_agent(stream: Any) -> None:
        """Later attempts, as the leader's sweep publishes them when due."""
        await each(stream, EmailSendRetry, "an email send retry", sender.retry)

    async def publish_retry(key: bytes, value: bytes) -> None:
        await (await retry_topic.send(key=key, value=value))

    @app.timer(interval=SWEEP_EVERY_SECONDS, on_leader=True)  # type: ignore[untyped-decorator]
    async def sweep_email_retries() -> None:
        """The spec's retry_failed_emails, every second, by one worker of the group: emails
        whose next attempt is due are published to email.send-retry."""
        swept = await sweep(db, publish_retry, utc_now())
        metrics.EMAILS_SENT.labels("failed").inc(swept.exhausted)
        if swept.published or swept.exhausted:
            log.info(
                "email retries: %d published, %d out of attempts",
                swept.published,
                swept.exhausted,
            )

    async def track(deliveries: list[Delivery]) -> None:
        """Provider deliveries applied in one transaction; offsets only after the commit."""
        parsed: list[tuple[Delivery, list[EmailEvent]]] = []
        for delivery in deliveries:
            try:
                envelope = EmailWebhookEnvelope.model_validate_json(delivery.value)
                parsed.append((delivery, normalise(envelope)))
            except (ValidationError, InvalidEmailWebhook) as exc:
                await dead_letter_unreadable(
                    dead_letters, delivery, f"not an email-provider delivery: {exc}"
                )
        results = await in_transaction(db, partial(apply_deliveries, parsed=parsed))
        for (delivery, _), result in zip(parsed, results, strict=True):
            if isinstance(result, Exception):
                await dead_letter_unreadable(
                    dead_letters, delivery, f"{type(result).__name__}: {result}"
                )
                continue
            metrics.EMAIL_EVENTS.labels("stored").inc(result.stored)
            metrics.EMAIL_EVENTS.labels("duplicate").inc(result.duplicates)
            metrics.EMAIL_EVENTS.labels("unmatched").inc(result.unmatched)

    return [batch_agent(app, settings, byte_topic(app, settings, EMAIL_RAW), "email-events", track)]


async def apply_deliveries(
    conn: AsyncConnection, parsed: list[tuple[Delivery, list[EmailEvent]]]
) -> list[Applied | Exception]:
    """Each delivery in a savepoint of the batch's transaction: one that fails (a value no
    column can hold) is returned as its error, for the dead-letter topic, and the rest commit."""
    results: list[Applied | Exception] = []
    for _event, found in parsed:
        try:
            async with conn.transaction():
                results.append(await apply_events(conn, found))
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            results.append(exc)
    return results
