"""One batch of raw deliveries: decode → dedup → parse → apply in one transaction → settle.

The steps are pure; the effects come in as ports, so this runs the same under the Faust agents
and under a unit test with dicts and lists.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError

from schemas import DeadLetter, InvalidZoomEvent, RawWebhookEnvelope, parse_zoom_event
from schemas.retry import RetryRequest
from streams.runtime.attempts import wait_after
from streams.runtime.dead_letters import dead_letter
from streams.runtime.delivery import Delivery
from streams.webhooks.apply import Failure, Item, ItemResult
from streams.webhooks.dedup import SeenLookup, first_deliveries
from streams.webhooks.envelope import decode

Apply = Callable[[Sequence[Item]], Awaitable[list[ItemResult]]]
"""Applies items in one transaction (retrying while PostgreSQL is unreachable), publishes what
changed after the commit, and returns each item's result."""
SendDeadLetter = Callable[[DeadLetter], Awaitable[None]]
ScheduleRetry = Callable[[RetryRequest], Awaitable[None]]
MarkSeen = Callable[[Sequence[tuple[str, float, int, int]]], None]
"""Remembers a batch's deliveries: (delivery id, receive time, partition, offset) each."""


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    retries: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


def retry_request(
    item: Item, failure: Failure, now: datetime, backoff: Sequence[float]
) -> RetryRequest:
    delay = wait_after(item.attempt, backoff)
    return RetryRequest(
        attempt=item.attempt + 1,
        not_before=now + timedelta(seconds=delay),
        source_topic=item.delivery.topic,
        partition=item.delivery.partition,
        offset=item.delivery.offset,
        envelope=item.delivery.value,
        last_error=failure.error,
    )


@dataclass(frozen=True)
class Ports:
    apply: Apply
    send_dead_letter: SendDeadLetter
    schedule_retry: ScheduleRetry
    backoff: Sequence[float] = (5.0, 30.0)


async def reject(letter: DeadLetter, ports: Ports, outcome: BatchOutcome) -> None:
    """Dead-letter one message and count it."""
    outcome.dead_letters.append(letter)
    await ports.send_dead_letter(letter)


async def settle(
    results: Sequence[ItemResult], now: datetime, ports: Ports, outcome: BatchOutcome
) -> None:
    """Failed items are retried later, or dead-lettered after the last attempt."""
    for result in results:
        if result.failure is None:
            outcome.applied += 1
        elif not result.failure.is_final(result.item.attempt) and result.logged:
            await ports.schedule_retry(
                retry_request(result.item, result.failure, now, ports.backoff)
            )
            outcome.retries += 1
        else:
            failure, item = result.failure, result.item
            letter = dead_letter(item.delivery, failure.error, failure.traceback, now, item.attempt)
            await reject(letter, ports, outcome)


async def process_batch(
    deliveries: Sequence[Delivery],
    *,
    seen: SeenLookup,
    window_seconds: float,
    now: datetime,
    ports: Ports,
    mark_seen: MarkSeen,
) -> BatchOutcome:
    """Process one batch. Returns only when every delivery is applied, scheduled for another
    attempt or dead-lettered; only then are they marked seen (and, by the caller, acked)."""
    outcome = BatchOutcome()
    decoded: list[tuple[Delivery, RawWebhookEnvelope]] = []
    for delivery in deliveries:
        try:
            decoded.append((delivery, decode(delivery)))
        except ValidationError as exc:
            error = f"not a raw webhook envelope: {exc.errors()[0]['msg']}"
            await reject(dead_letter(delivery, error, traceback.format_exc(), now), ports, outcome)

    fresh = first_deliveries(
        decoded,
        lambda pair: (pair[1].webhook_id, pair[1].received_at.timestamp()),
        seen,
        window_seconds,
    )
    outcome.duplicates = len(decoded) - len(fresh)
    items: list[Item] = []
    for delivery, envelope in fresh:
        try:
            items.append(Item(delivery, envelope, parse_zoom_event(envelope.body)))
        except InvalidZoomEvent as exc:
            error = f"InvalidZoomEvent: {exc}"
            await reject(dead_letter(delivery, error, traceback.format_exc(), now), ports, outcome)

    await settle(await ports.apply(items), now, ports, outcome)
    mark_seen(
        [
            (
                item.envelope.webhook_id,
                item.envelope.received_at.timestamp(),
                item.delivery.partition,
                item.delivery.offset,
            )
            for item in items
        ]
    )
    return outcome


async def process_retry(
    request: RetryRequest, delivery: Delivery, now: datetime, ports: Ports
) -> BatchOutcome:
    """Another attempt at one webhook. The dedup window is not consulted: the delivery was seen."""
    outcome = BatchOutcome()
    envelope = RawWebhookEnvelope.model_validate_json(request.envelope)
    item = Item(delivery, envelope, parse_zoom_event(envelope.body), attempt=request.attempt)
    await settle(await ports.apply([item]), now, ports, outcome)
    return outcome
