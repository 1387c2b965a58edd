"""Faust workers. Business rules are pure functions; agents only wire topics and tables to them."""

from streams.recordings.rules import recording_status, to_recording, transcript_files
from streams.runtime.attempts import MAX_ATTEMPTS
from streams.runtime.delivery import Delivery
from streams.webhooks.apply import Item, ItemResult, apply_items, log_row
from streams.webhooks.batch import BatchOutcome, Ports, process_batch, process_retry
from streams.webhooks.dedup import first_deliveries
from streams.worker import create_worker

__all__ = [
    "MAX_ATTEMPTS",
    "BatchOutcome",
    "Delivery",
    "Item",
    "ItemResult",
    "Ports",
    "apply_items",
    "create_worker",
    "first_deliveries",
    "log_row",
    "process_batch",
    "process_retry",
    "recording_status",
    "to_recording",
    "transcript_files",
]
