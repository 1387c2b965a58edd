"""The email agents: send requests out through SMTP, provider events in to email_logs."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Any

import faust
import psycopg
from psycopg import AsyncConnection
from pydantic import ValidationError

from schemas.email_envelope import EmailWebhookEnvelope
from schemas.email_event import EmailEvent, InvalidEmailWebhook
from schemas.email_send import EmailSendRequest
from schemas.settings import Settings
from schemas.topics import EMAIL_DEAD_LETTERS, EMAIL_RAW, EMAIL_SEND
from sinks import Database, in_transaction
from streams.email.sender import EmailSender, Mailer, SmtpMailer
from streams.email.tracking import Applied, apply_events, normalise
from streams.runtime import metrics
from streams.runtime.clock import utc_now
from streams.runtime.dead_letters import dead_letter_unreadable
from streams.runtime.delivery import Delivery
from streams.runtime.sources import RepairedSource, batch_agent, byte_topic

log = logging.getLogger(__name__)


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

    @app.agent(byte_topic(app, settings, EMAIL_SEND), name="email-send")
    async def send_agent(stream: Any) -> None:
        """One request at a time, in order per recipient (the topic's key)."""
        async for event in stream.events():
            message = event.message
            delivery = Delivery(message.topic, message.partition, message.offset, event.value)
            try:
                request = EmailSendRequest.model_validate_json(event.value)
            except ValidationError as exc:
                error = f"not an email send request: {exc.errors()[0]['msg']}"
                await dead_letter_unreadable(dead_letters, delivery, error)
                continue
            try:
                outcome = await sender.handle(request)
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:  # a value no column can hold: never blocks the partition
                await dead_letter_unreadable(dead_letters, delivery, f"{type(exc).__name__}: {exc}")
                continue
            metrics.EMAILS_SENT.labels(outcome).inc()

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
