"""Outbound email: one send request → one email_logs row → at most three SMTP attempts
(`streams.runtime.attempts`, the policy webhooks follow too).

Each step commits before the next begins, so a crash anywhere resumes from the row: a request
seen again (redelivery, restart, replay) finds its row by `request_id` and is not sent again
once the sender is done with it. The one window left is a crash after the relay accepted the
message and before `sent` was committed; the message is then sent again with the same
Message-ID (at-least-once, as SMTP allows no better).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any, Literal, Protocol

import aiosmtplib
from psycopg import AsyncConnection

from schemas.email_send import EmailSendRequest
from sinks import Database, in_transaction
from sinks import email as store
from streams.email.message import SendFailure, build_message, classify, message_id, relay_message_id
from streams.email.status import LIVE_STATUSES
from streams.email.tracking import refresh_log
from streams.runtime.attempts import MAX_ATTEMPTS, is_final, wait_after

log = logging.getLogger(__name__)

SendResult = Literal["sent", "failed", "duplicate", "already-done"]


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
        claimed = await in_transaction(self._db, lambda conn: self._claim(conn, request))
        if claimed is None:
            return "duplicate"
        row = claimed
        if row["send_state"] != "pending":
            return "already-done"
        message = build_message(request, self._domain)
        failure: SendFailure | None = None
        for attempt in range(row["send_attempts"] + 1, MAX_ATTEMPTS + 1):
            at = self._now()
            await in_transaction(
                self._db, partial(store.record_attempt, log_id=row["id"], attempt=attempt, at=at)
            )
            try:
                response = await self._mailer.send(message)
            except (aiosmtplib.SMTPException, OSError) as exc:
                failure = classify(exc)
            else:
                await self._sent(row, response)
                return "sent"
            final = is_final(attempt, failure.permanent)
            await in_transaction(
                self._db,
                partial(self._failed, log_id=row["id"], failure=failure, at=at, final=final),
            )
            log.warning(
                "email %s attempt %d failed: %s", request.request_id, attempt, failure.error
            )
            if final:
                return "failed"
            await asyncio.sleep(wait_after(attempt, self._backoff))
        # Every attempt was made before a crash, and none is known to have succeeded.
        failure = failure or SendFailure("no attempt left after a restart", "", True)
        await in_transaction(
            self._db, lambda conn: self._failed(conn, row["id"], failure, self._now(), True)
        )
        return "failed"

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
        self, conn: AsyncConnection, log_id: int, failure: SendFailure, at: datetime, final: bool
    ) -> None:
        await store.record_failed(conn, log_id, at, failure.error, failure.code, final)
        await refresh_log(conn, log_id)
