"""PostgreSQL writers: pure row mapping, idempotent statements, one transaction per batch."""

from sinks import recordings, webhook_log
from sinks.postgres import (
    Database,
    database_answers,
    database_reachable,
    in_transaction,
    statement_timeout,
)

__all__ = [
    "Database",
    "database_answers",
    "database_reachable",
    "in_transaction",
    "recordings",
    "statement_timeout",
    "webhook_log",
]
