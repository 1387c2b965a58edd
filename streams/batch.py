"""One batch of raw deliveries through decode → dedup → rows → one transaction → mark seen.

The steps are pure; the effects come in as ports, so this runs the same under the Faust agent and
under a unit test with dicts and lists.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas import DeadLetter, InvalidZoomEvent, RawWebhookEnvelope
from sinks import WebhookLogRow
from streams.dedup import SeenLookup, first_deliveries
from streams.webhook_log import Delivery, decode, to_log_row

log = logging.getLogger(__name__)

WriteRows = Callable[[Sequence[WebhookLogRow]], Awaitable[Sequence[WebhookLogRow]]]
"""Writes rows in one transaction; returns the rows it could not write (poison), already retried."""
SendDeadLetter = Callable[[DeadLetter], Awaitable[None]]
MarkSeen = Callable[[str, float, int], None]


@dataclass
class BatchOutcome:
    written: int = 0
    duplicates: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


def dead_letter(delivery: Delivery, error: str, trace: str, now: datetime) -> DeadLetter:
    return DeadLetter(
        source_topic=delivery.topic,
        partition=delivery.partition,
        offset=delivery.offset,
        value=delivery.value,
        error=error[:1000],
        traceback=trace[-5000:],
        failed_at=now,
    )


async def process_batch(
    deliveries: Sequence[Delivery],
    *,
    seen: SeenLookup,
    window_seconds: float,
    now: datetime,
    write_rows: WriteRows,
    send_dead_letter: SendDeadLetter,
    mark_seen: MarkSeen,
) -> BatchOutcome:
    """Process one batch. Returns only when every delivery is either written or dead-lettered.

    Deliveries are marked seen only after their rows are committed: a crash before that makes
    them come again, and the unique key turns the second insert into a no-op.
    """
    outcome = BatchOutcome()
    decoded: list[tuple[Delivery, RawWebhookEnvelope]] = []
    for delivery in deliveries:
        try:
            decoded.append((delivery, decode(delivery)))
        except ValidationError as exc:
            error = f"not a raw webhook envelope: {exc.errors()[0]['msg']}"
            outcome.dead_letters.append(dead_letter(delivery, error, traceback.format_exc(), now))

    fresh = first_deliveries(
        decoded,
        lambda pair: (pair[1].webhook_id, pair[1].received_at.timestamp()),
        seen,
        window_seconds,
    )
    outcome.duplicates = len(decoded) - len(fresh)

    rows: list[WebhookLogRow] = []
    source: dict[str, Delivery] = {}
    for delivery, envelope in fresh:
        try:
            rows.append(to_log_row(envelope, processed_at=now))
            source[envelope.webhook_id] = delivery
        except (InvalidZoomEvent, UnicodeDecodeError, ValueError) as exc:
            trace = traceback.format_exc()
            outcome.dead_letters.append(
                dead_letter(delivery, f"{type(exc).__name__}: {exc}", trace, now)
            )

    rejected = await write_rows(rows)
    rejected_ids = {row.webhook_id for row in rejected}
    for row in rejected:
        error = "PostgreSQL refused the row (see worker log)"
        outcome.dead_letters.append(dead_letter(source[row.webhook_id], error, "", now))
    outcome.written = len(rows) - len(rejected)

    for letter in outcome.dead_letters:
        await send_dead_letter(letter)
    for row in rows:
        if row.webhook_id not in rejected_ids:
            delivery = source[row.webhook_id]
            mark_seen(row.webhook_id, row.received_at.timestamp(), delivery.partition)
    return outcome


def utc_now() -> datetime:
    return datetime.now(tz=UTC)
