"""The local stack without Docker: Apache Kafka from Maven Central and Debian's PostgreSQL."""

from zoomstream.stack.kafka import KafkaBroker
from zoomstream.stack.postgres import LocalPostgres

__all__ = ["KafkaBroker", "LocalPostgres"]
