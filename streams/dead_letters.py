"""Sending one unreadable message to a dead-letter topic, with why, and counting it."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from schemas import DeadLetter
from streams import metrics
from streams.batch import utc_now
from streams.webhook_log import Delivery

log = logging.getLogger(__name__)


async def reject(topic: Any, delivery: Delivery, error: str) -> None:
    """Send and wait for the broker's ack, so the source offset can be committed after it."""
    letter = DeadLetter(
        source_topic=delivery.topic,
        partition=delivery.partition,
        offset=delivery.offset,
        value=delivery.value,
        error=error[:1000],
        traceback=traceback.format_exc()[-5000:],
        failed_at=utc_now(),
    )
    await (await topic.send(key=None, value=letter.model_dump_json().encode()))
    metrics.DEAD_LETTERS.inc()
    log.error(
        "dead-lettered %s[%d]@%d: %s", delivery.topic, delivery.partition, delivery.offset, error
    )
