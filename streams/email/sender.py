"""Outbound email: one send request → one email_logs row → at most three SMTP attempts
(`streams.runtime.attempts`, the policy webhooks follow too), one per message.

The request's message makes the first attempt. After a transient failure the row says when the
next is due (`next_attempt_at`, the backoff) and the message is done: nothing waits in the
agent, so the emails behind it on its partition go on. The worker group's leader publishes due
attempts to `email.send-retry` (`streams.email.retries`), whose message makes the next one.

Each step commits before the next begins, so a crash anywhere resumes from the row: a request
seen again (redelivery, restart, replay) finds its row by `request_id` and is not sent again
once its first attempt is counted; an attempt is counted (compare-and-set on `send_attempts`)
before the relay is asked, so a retry message published or delivered twice makes it once.
A crash mid-attempt leaves the row due again after `STUCK_AFTER` (the attempt counts as made).
The one window left is a crash after the relay accepted the message and before `sent` was
committed; the message is then sent again with the same Message-ID (at-least-once, as SMTP
allows no better).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any, Literal, Protocol

import aiosmtplib
from psycopg import AsyncConnection

from schemas.email_retry import EmailSendRetry
from schemas.email_send import EmailSendRequest
from sinks import Database, in_transaction
from sinks import email as store
from streams.email.message import SendFailure, build_message, classify, message_id, relay_message_id
from streams.email.status import LIVE_STATUSES
from streams.email.tracking import refresh_log
from streams.runtime.attempts import MAX_ATTEMPTS, STUCK_AFTER, is_final, wait_after

log = logging.getLogger(__name__)

SendResult = Literal["sent", "retry-scheduled", "failed", "duplicate", "already-done"]
"""What one message (a request or a retry) came to. `retry-scheduled`: its attempt failed and
another is due later; `already-done`: the attempt it stands for was made before (a message seen
again), or the sender is done with the email."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> str:
        """Hand the message to the relay; return its final answer. Raises aiosmtplib errors."""


class SmtpMailer:
    """The configured SMTP relay, one connection per message."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._options: dict[str, Any] = {
            "hostname": host,
            "port": port,
            "username": username,
            "password": password,
            "start_tls": start_tls,
            "timeout": timeout,
        }

    async def send(self, message: EmailMessage) -> str:
        _errors, response = await aiosmtplib.send(message, **self._options)
        return response


def email_log_row(request: EmailSendRequest, provider: str, domain: str) -> dict[str, Any]:
    row = request.model_dump(exclude={"schema_version", "request_id"})
    row.update(
        uuid=request.request_id,
        recipient_email=str(request.recipient_email).lower(),
        from_email=str(request.from_email),
        reply_to=str(request.reply_to or ""),
        provider=provider,
        message_id=message_id(request, domain),
    )
    return row


def request_from_row(row: Mapping[str, Any]) -> EmailSendRequest:
    """The request an email_logs row was made from, as its row keeps it (the recipient
    lower-cased, as the spec's LowercaseEmailField does): every attempt sends this message."""
    fields = EmailSendRequest.model_fields.keys() - {"schema_version", "request_id"}
    values = {name: row[name] for name in fields}
    return EmailSendRequest.model_validate(
        {**values, "request_id": row["uuid"], "reply_to": row["reply_to"] or None}
    )


class EmailSender:
    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        *,
        provider: str,
        domain: str,
        duplicate_window: timedelta,
        backoff: Sequence[float],
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._mailer = mailer
        self._provider = provider
        self._domain = domain
        self._window = duplicate_window
        self._backoff = backoff
        self._now = clock

    async def handle(self, request: EmailSendRequest) -> SendResult:
        """A send request: its row (none for a duplicate), then the first attempt."""
        claimed = await in_transaction(self._db, lambda conn: self._claim(conn, request))
        if claimed is None:
            return "duplicate"
        return await self._attempt(claimed, 1)

    async def retry(self, retry: EmailSendRetry) -> SendResult:
        """A later attempt, from `email.send-retry`."""
        row = await in_transaction(self._db, partial(store.find_log, request_uuid=retry.request_id))
        if row is None or retry.attempt > MAX_ATTEMPTS:  # deleted since; never published
            return "already-done"
        return await self._attempt(row, retry.attempt)

    async def _attempt(self, row: dict[str, Any], attempt: int) -> SendResult:
        """One SMTP attempt, counted and committed before the relay is asked; never a wait."""
        at = self._now()
        taken = await in_transaction(
            self._db,
            partial(
                store.take_attempt,
                log_id=row["id"],
                attempt=attempt,
                at=at,
                stuck_at=at + STUCK_AFTER,
            ),
        )
        if not taken:
            return "already-done"
        try:
            response = await self._mailer.send(build_message(request_from_row(row), self._domain))
        except (aiosmtplib.SMTPException, OSError) as exc:
            failure = classify(exc)
        else:
            await self._sent(row, response)
            return "sent"
        retry_at = None
        if not is_final(attempt, failure.permanent):
            retry_at = self._now() + timedelta(seconds=wait_after(attempt, self._backoff))
        await in_transaction(
            self._db,
            partial(self._failed, log_id=row["id"], failure=failure, at=at, retry_at=retry_at),
        )
        log.warning(
            "email %s attempt %d failed (%s): %s",
            row["uuid"],
            attempt,
            f"next due at {retry_at.isoformat()}" if retry_at else "final",
            failure.error,
        )
        return "failed" if retry_at is None else "retry-scheduled"

    async def _claim(
        self, conn: AsyncConnection, request: EmailSendRequest
    ) -> dict[str, Any] | None:
        """The request's row, created now unless the request is a duplicate (then None)."""
        row = email_log_row(request, self._provider, self._domain)
        await store.lock_recipient(conn, row["recipient_email"])
        existing = await store.find_log(conn, request.request_id)
        if existing is not None:
            return existing
        earlier = await store.duplicate_of(conn, row, self._window, LIVE_STATUSES)
        if earlier is not None:
            log.info("email %s skipped: duplicate of %s", request.request_id, earlier)
            return None
        return await store.insert_log(conn, row)

    async def _sent(self, row: dict[str, Any], response: str) -> None:
        provider_id = relay_message_id(response) or row["message_id"]

        async def work(conn: AsyncConnection) -> None:
            await store.record_sent(conn, row["id"], self._now(), provider_id)
            if await store.attach_events(conn, row["id"], provider_id, row["message_id"]):
                await store.suppress_if_reported(conn, row["id"])
            await refresh_log(conn, row["id"])

        await in_transaction(self._db, work)

    async def _failed(
        self,
        conn: AsyncConnection,
        log_id: int,
        failure: SendFailure,
        at: datetime,
        retry_at: datetime | None,
    ) -> None:
        await store.record_failed(conn, log_id, at, failure.error, failure.code, retry_at)
        await refresh_log(conn, log_id)
