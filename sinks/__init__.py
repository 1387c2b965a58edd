"""PostgreSQL writers: pure row mapping, one idempotent statement, one transaction per batch."""

from sinks import webhook_log
from sinks.postgres import Database, database_reachable, write_batch
from sinks.webhook_log import WebhookLogRow

__all__ = ["Database", "WebhookLogRow", "database_reachable", "webhook_log", "write_batch"]
