"""Sending one unreadable message to a dead-letter topic, with why, and counting it."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from streams.runtime import metrics
from streams.runtime.delivery import Delivery
from streams.webhooks.batch import dead_letter, utc_now

log = logging.getLogger(__name__)


async def dead_letter_unreadable(topic: Any, delivery: Delivery, error: str) -> None:
    """Send and wait for the broker's ack, so the source offset can be committed after it."""
    letter = dead_letter(delivery, error, traceback.format_exc(), utc_now())
    await (await topic.send(key=None, value=letter.model_dump_json().encode()))
    metrics.DEAD_LETTERS.inc()
    log.error(
        "dead-lettered %s[%d]@%d: %s", delivery.topic, delivery.partition, delivery.offset, error
    )
