"""The sender's attempts, the leader's sweep of due retries, and refusals, with a fake relay
and sinks.email faked in dicts.

`in_transaction` runs each step at once on no connection; that each step commits on its own,
and what the statements do, is tests/integration/test_email.py's to prove."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, TypeVar, cast

import aiosmtplib
import pytest
from psycopg import AsyncConnection

from schemas.email_event import EmailEvent
from schemas.email_retry import EmailSendRetry
from schemas.email_send import EmailSendRequest
from sinks import Database
from streams.email import retries, sender
from streams.runtime.attempts import STUCK_AFTER
from tests.unit.streams.fakes import NO_CONNECTION, EmailStore, replace

T = TypeVar("T")

REQUESTED = datetime(2026, 11, 30, 10, tzinfo=UTC)
NOW = REQUESTED + timedelta(minutes=1)
DOMAIN = "mail.example"
BACKOFF = (5.0, 30.0)
RECIPIENT = "jan.simonek@example.org"


def send_request(**overrides: Any) -> EmailSendRequest:
    values: dict[str, Any] = {
        "request_id": uuid.UUID("0b6f3c1e-8d1f-4b8e-9a57-2f4f1d0c9e11"),
        "requested_at": REQUESTED,
        "email_type": "registration_confirmation",
        "recipient_email": "Jan.Simonek@Example.org",
        "subject": "You are registered: Ethics in Practice",
        "body_text": "See you there.",
        "from_email": "events@platform.example",
        "event_id": 7,
        "registration_id": 70,
    }
    values.update(overrides)
    return EmailSendRequest(**values)


def temporary() -> aiosmtplib.SMTPResponseException:
    return aiosmtplib.SMTPResponseException(451, "try later")


def permanent() -> aiosmtplib.SMTPResponseException:
    return aiosmtplib.SMTPResponseException(550, "no such user")


class Relay:
    """A Mailer that raises `failures`, one per message, then accepts with `answer`."""

    def __init__(
        self,
        *failures: Exception,
        answer: str = "250 Ok: queued as relay-1",
        observe: Callable[[], object] | None = None,
    ) -> None:
        self.failures = list(failures)
        self.answer = answer
        self.observe = observe
        self.sent: list[EmailMessage] = []
        self.observed: list[object] = []

    async def send(self, message: EmailMessage) -> str:
        self.sent.append(message)
        if self.observe is not None:
            self.observed.append(self.observe())
        if self.failures:
            raise self.failures.pop(0)
        return self.answer


class Transactions:
    """sinks.in_transaction without a database: each unit of work runs at once."""

    def __init__(self) -> None:
        self.open = False
        self.count = 0

    async def in_transaction(
        self, db: Database, work: Callable[[AsyncConnection], Awaitable[T]]
    ) -> T:
        assert not self.open, "one transaction at a time"
        self.open = True
        try:
            return await work(NO_CONNECTION)
        finally:
            self.open = False
            self.count += 1


@dataclass
class World:
    store: EmailStore
    transactions: Transactions
    waits: list[float]
    """The seconds anything asked to sleep, in order: the sender never should."""
    now: datetime = NOW
    published: list[tuple[bytes, EmailSendRetry]] = field(default_factory=list)

    def sender_with(self, relay: Relay) -> sender.EmailSender:
        return sender.EmailSender(
            cast(Database, object()),
            relay,
            provider="sendgrid",
            domain=DOMAIN,
            duplicate_window=timedelta(hours=1),
            backoff=BACKOFF,
            clock=lambda: self.now,
        )

    async def sweep(self, at: datetime) -> list[EmailSendRetry]:
        """The leader's sweep at `at`: the retries it published."""
        self.now = at
        published: list[tuple[bytes, EmailSendRetry]] = []

        async def publish(key: bytes, value: bytes) -> None:
            published.append((key, EmailSendRetry.model_validate_json(value)))

        swept = await retries.sweep(cast(Database, object()), publish, at)
        assert swept.published == len(published)
        self.published.extend(published)
        return [retry for _, retry in published]

    def existing(self, request: EmailSendRequest, **columns: Any) -> dict[str, Any]:
        """The row an earlier handling of `request` left."""
        return self.store.add_log(
            **{**sender.email_log_row(request, "sendgrid", DOMAIN), **columns}
        )

    def row(self) -> dict[str, Any]:
        [row] = self.store.logs.values()
        return row


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    transactions, waits = Transactions(), []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    replace(monkeypatch, sender, transactions, "in_transaction")
    replace(monkeypatch, retries, transactions, "in_transaction")
    monkeypatch.setattr(asyncio, "sleep", sleep)
    return World(EmailStore().install(monkeypatch), transactions, waits)


async def test_a_new_request_is_recorded_then_sent_once(world: World) -> None:
    relay = Relay()
    assert await world.sender_with(relay).handle(send_request()) == "sent"
    assert [m["Message-ID"] for m in relay.sent] == [f"<{send_request().request_id}@{DOMAIN}>"]
    assert world.store.locked == [RECIPIENT]
    row = world.row()
    assert (row["uuid"], row["recipient_email"], row["send_attempts"]) == (
        send_request().request_id,
        RECIPIENT,
        1,
    )
    assert (row["send_state"], row["sent_at"], row["provider_message_id"]) == (
        "sent",
        NOW,
        "relay-1",
    )
    assert (row["delivery_status"], row["next_attempt_at"]) == ("sent", None)
    assert world.waits == []


async def test_a_temporary_failure_schedules_the_next_attempt_and_does_not_wait(
    world: World,
) -> None:
    relay = Relay(aiosmtplib.SMTPConnectError("connection refused"), temporary())
    email = world.sender_with(relay)
    assert await email.handle(send_request()) == "retry-scheduled"
    assert world.waits == [], "the agent goes on with the next message at once"
    row = world.row()
    assert (row["send_state"], row["delivery_status"], row["send_attempts"]) == (
        "pending",
        "pending",
        1,
    )
    assert row["next_attempt_at"] == NOW + timedelta(seconds=5)
    assert row["send_error"] == "SMTPConnectError: connection refused"

    assert await world.sweep(NOW + timedelta(seconds=4)) == [], "not due yet"
    [second] = await world.sweep(NOW + timedelta(seconds=5))
    assert (second.request_id, second.attempt) == (send_request().request_id, 2)
    assert second.due_at == NOW + timedelta(seconds=5)
    assert world.published[0][0] == RECIPIENT.encode()
    assert world.row()["next_attempt_at"] == NOW + timedelta(seconds=5) + STUCK_AFTER
    assert await world.sweep(NOW + timedelta(seconds=5)) == [], "published once"

    assert await email.retry(second) == "retry-scheduled"
    assert world.row()["next_attempt_at"] == NOW + timedelta(seconds=35)
    [third] = await world.sweep(NOW + timedelta(seconds=35))
    assert third.attempt == 3
    assert await email.retry(third) == "sent"
    row = world.row()
    assert (row["send_state"], row["send_attempts"], row["send_error"]) == ("sent", 3, "")
    assert row["next_attempt_at"] is None
    assert {m["Message-ID"] for m in relay.sent} == {f"<{send_request().request_id}@{DOMAIN}>"}
    assert {m["Subject"] for m in relay.sent} == {send_request().subject}
    assert world.waits == []


async def test_three_temporary_failures_fail_the_email_without_a_fourth_attempt(
    world: World,
) -> None:
    relay = Relay(temporary(), temporary(), temporary(), temporary())
    email = world.sender_with(relay)
    assert await email.handle(send_request()) == "retry-scheduled"
    [second] = await world.sweep(NOW + timedelta(seconds=5))
    assert await email.retry(second) == "retry-scheduled"
    [third] = await world.sweep(NOW + timedelta(seconds=35))
    assert await email.retry(third) == "failed"
    assert len(relay.sent) == 3
    row = world.row()
    assert (row["send_state"], row["failed_at"], row["error_code"]) == (
        "failed",
        NOW + timedelta(seconds=35),
        "451",
    )
    assert (row["send_attempts"], row["delivery_status"], row["next_attempt_at"]) == (
        3,
        "failed",
        None,
    )
    assert await world.sweep(NOW + timedelta(days=1)) == []
    assert await email.retry(third.model_copy(update={"attempt": 4})) == "already-done"
    assert (len(relay.sent), world.row()["send_attempts"]) == (3, 3)


async def test_a_permanent_failure_stops_at_once(world: World) -> None:
    relay = Relay(permanent())
    assert await world.sender_with(relay).handle(send_request()) == "failed"
    assert (len(relay.sent), world.waits) == (1, [])
    row = world.row()
    assert (row["send_state"], row["send_attempts"], row["error_code"]) == ("failed", 1, "550")
    assert row["error_message"] == "SMTPResponseException: 550 no such user"
    assert row["next_attempt_at"] is None
    assert await world.sweep(NOW + timedelta(days=1)) == [], "never retried"


async def test_each_attempt_is_recorded_and_committed_before_the_relay_is_asked(
    world: World,
) -> None:
    def state() -> object:
        row = world.row()
        return (row["send_attempts"], row["send_state"], row["send_error"], world.transactions.open)

    relay = Relay(temporary(), observe=state)
    email = world.sender_with(relay)
    await email.handle(send_request())
    [second] = await world.sweep(NOW + timedelta(seconds=5))
    await email.retry(second)
    assert relay.observed == [
        (1, "pending", "", False),
        (2, "pending", "SMTPResponseException: 451 try later", False),
    ]


async def test_a_retry_delivered_twice_makes_its_attempt_once(world: World) -> None:
    relay = Relay(temporary())
    email = world.sender_with(relay)
    await email.handle(send_request())
    [second] = await world.sweep(NOW + timedelta(seconds=5))
    assert await email.retry(second) == "sent"
    assert await email.retry(second) == "already-done"
    assert (len(relay.sent), world.row()["send_attempts"]) == (2, 2)


@pytest.mark.parametrize(
    ("earlier_status", "minutes_before", "result"),
    [
        ("sent", 50, "duplicate"),
        ("pending", 50, "duplicate"),  # its next attempt is due later: still on its way
        ("opened", 50, "duplicate"),
        ("sent", 61, "sent"),  # outside the hour's window
        ("bounced", 50, "sent"),
        ("failed", 50, "sent"),
    ],
)
async def test_a_request_like_a_live_email_of_the_last_hour_is_a_duplicate(
    world: World, earlier_status: str, minutes_before: int, result: str
) -> None:
    earlier = send_request(
        request_id=uuid.UUID("7d1e9f6a-3c2b-4a5d-8e7f-0a1b2c3d4e5f"),
        requested_at=REQUESTED - timedelta(minutes=minutes_before),
    )
    world.existing(earlier, delivery_status=earlier_status, send_state="sent")
    relay = Relay()
    assert await world.sender_with(relay).handle(send_request()) == result
    sent = 0 if result == "duplicate" else 1
    assert (len(relay.sent), len(world.store.logs)) == (sent, 1 + sent)


@pytest.mark.parametrize(
    ("send_state", "attempts"), [("sent", 1), ("failed", 1), ("pending", 1), ("pending", 2)]
)
async def test_a_request_seen_again_once_its_first_attempt_is_counted_is_already_done(
    world: World, send_state: str, attempts: int
) -> None:
    """Sent, failed, or owed a later attempt, which the sweep publishes: not this message's."""
    world.existing(send_request(), send_state=send_state, send_attempts=attempts)
    relay = Relay()
    assert await world.sender_with(relay).handle(send_request()) == "already-done"
    assert relay.sent == []
    assert world.row()["send_attempts"] == attempts


async def test_a_request_seen_again_before_its_first_attempt_makes_it(world: World) -> None:
    world.existing(send_request())
    relay = Relay()
    assert await world.sender_with(relay).handle(send_request()) == "sent"
    assert (len(relay.sent), world.row()["send_attempts"]) == (1, 1)


async def test_an_attempt_a_crash_interrupted_counts_and_the_next_is_due_after_the_bound(
    world: World,
) -> None:
    world.existing(send_request(), send_attempts=1, next_attempt_at=NOW + STUCK_AFTER)
    assert await world.sweep(NOW + STUCK_AFTER - timedelta(seconds=1)) == []
    [second] = await world.sweep(NOW + STUCK_AFTER)
    assert second.attempt == 2
    relay = Relay()
    assert await world.sender_with(relay).retry(second) == "sent"
    assert world.row()["send_attempts"] == 2


async def test_a_restart_with_every_attempt_used_marks_the_email_failed(world: World) -> None:
    world.existing(send_request(), send_attempts=3, next_attempt_at=NOW)
    assert await world.sweep(NOW) == []
    row = world.row()
    assert (row["send_state"], row["failed_at"], row["delivery_status"]) == (
        "failed",
        NOW,
        "failed",
    )
    assert (row["send_error"], row["next_attempt_at"], row["send_attempts"]) == (
        "no attempt left after a restart",
        None,
        3,
    )


async def test_events_that_came_before_the_send_are_attached_and_a_hard_bounce_suppresses(
    world: World,
) -> None:
    bounce = EmailEvent(
        provider="sendgrid",
        event_id="sg-bounce-1",
        kind="bounced",
        bounce_type="hard",
        provider_message_id="relay-1",
        recipient=None,
        occurred_at=NOW,
    )
    await world.store.insert_event(NO_CONNECTION, bounce.model_dump())
    world.store.add_contact("Jan.Simonek@example.org")

    assert await world.sender_with(Relay()).handle(send_request()) == "sent"

    row = world.row()
    assert world.store.event("sendgrid", "sg-bounce-1")["email_log_id"] == row["id"]
    assert world.store.bounced() == ["Jan.Simonek@example.org"]
    assert (row["delivery_status"], row["bounce_type"]) == ("bounced", "hard")
