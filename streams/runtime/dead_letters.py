"""Sending one unreadable message to a dead-letter topic, with why, and counting it."""

from __future__ import annotations

import logging
import traceback
from datetime import datetime
from typing import Any

from schemas import DeadLetter
from streams.runtime import metrics
from streams.runtime.clock import utc_now
from streams.runtime.delivery import Delivery

log = logging.getLogger(__name__)


def dead_letter(
    delivery: Delivery, error: str, trace: str, now: datetime, attempts: int = 1
) -> DeadLetter:
    return DeadLetter(
        source_topic=delivery.topic,
        partition=delivery.partition,
        offset=delivery.offset,
        value=delivery.value,
        error=error,
        traceback=trace,
        attempts=attempts,
        failed_at=now,
    )


async def dead_letter_unreadable(topic: Any, delivery: Delivery, error: str) -> None:
    """Send and wait for the broker's ack, so the source offset can be committed after it."""
    letter = dead_letter(delivery, error, traceback.format_exc(), utc_now())
    await (await topic.send(key=None, value=letter.model_dump_json().encode()))
    metrics.DEAD_LETTERS.inc()
    log.error(
        "dead-lettered %s[%d]@%d: %s", delivery.topic, delivery.partition, delivery.offset, error
    )
