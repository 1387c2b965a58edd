"""Faust workers. Business rules are pure functions; agents only wire topics and tables to them."""

from streams.batch import BatchOutcome, process_batch
from streams.dedup import expired, first_deliveries
from streams.webhook_log import Delivery, skip_reason, to_log_row
from streams.worker import create_worker

__all__ = [
    "BatchOutcome",
    "Delivery",
    "create_worker",
    "expired",
    "first_deliveries",
    "process_batch",
    "skip_reason",
    "to_log_row",
]
