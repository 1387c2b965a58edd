"""Later attempts at a send: the worker group's leader sweeps email_logs for the attempts due
and publishes each to `email.send-retry`, whose agent makes it (`EmailSender.retry`).

A sweep, not a message that waits for its due time: a retry topic read in order would hold
every retry behind the one at its head, and a due time lives best on the row, where a crash
cannot lose it (the row is due again whether the crash came before the retry was published,
during the attempt, or before its outcome was recorded).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from schemas.email_retry import EmailSendRetry
from sinks import Database, in_transaction
from sinks import email as store
from streams.email.tracking import refresh_log
from streams.runtime.attempts import MAX_ATTEMPTS, STUCK_AFTER

SWEEP_EVERY_SECONDS = 1.0
"""How often the leader looks for due attempts: an attempt goes out at most this late."""
SWEEP_LIMIT = 100
"""Attempts published per sweep at most (the spec's batch); the rest wait for the next."""
NO_ATTEMPT_LEFT = "no attempt left after a restart"

Publish = Callable[[bytes, bytes], Awaitable[None]]
"""Send (key, value) to `email.send-retry` and wait for the broker's ack."""


@dataclass(frozen=True)
class Retry:
    log_id: int
    key: bytes
    """The recipient, as its request's key."""
    message: EmailSendRetry


@dataclass(frozen=True)
class RetryPlan:
    retries: list[Retry] = field(default_factory=list)
    """Each due email's next attempt."""
    exhausted: list[int] = field(default_factory=list)
    """Emails due after their last attempt, whose outcome a crash lost: they failed."""


def plan_retries(due: Sequence[Mapping[str, Any]]) -> RetryPlan:
    """What to do with the emails whose next attempt is due. Pure."""
    plan = RetryPlan()
    for row in due:
        attempt = row["send_attempts"] + 1
        if attempt > MAX_ATTEMPTS:
            plan.exhausted.append(row["id"])
            continue
        retry = EmailSendRetry(
            request_id=row["uuid"], attempt=attempt, due_at=row["next_attempt_at"]
        )
        plan.retries.append(Retry(row["id"], row["recipient_email"].encode(), retry))
    return plan


@dataclass(frozen=True)
class Swept:
    published: int
    exhausted: int


async def sweep(db: Database, publish: Publish, now: datetime, limit: int = SWEEP_LIMIT) -> Swept:
    """Publish the due attempts (acked) and postpone their emails by the stuck bound, in one
    transaction: a crash before the commit publishes them again (the second message for an
    attempt changes nothing), one after it leaves them due again once the bound has passed."""

    async def work(conn: AsyncConnection) -> Swept:
        plan = plan_retries(await store.due_for_retry(conn, now, limit))
        for log_id in plan.exhausted:
            await store.record_failed(conn, log_id, now, NO_ATTEMPT_LEFT, "", None)
            await refresh_log(conn, log_id)
        if plan.retries:
            ids = [retry.log_id for retry in plan.retries]
            await store.postpone_attempts(conn, ids, now + STUCK_AFTER)
        await asyncio.gather(
            *(publish(r.key, r.message.model_dump_json().encode()) for r in plan.retries)
        )
        return Swept(len(plan.retries), len(plan.exhausted))

    return await in_transaction(db, work)
