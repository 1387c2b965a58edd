"""The local broker's cluster id never reads as an option to Kafka's storage tool."""

from __future__ import annotations

import base64
import uuid
from unittest import mock

from zoomstream.stack.kafka import cluster_uuid


def test_a_cluster_id_is_22_url_safe_characters_and_never_begins_with_a_dash() -> None:
    dashed = uuid.UUID(bytes=base64.urlsafe_b64decode("-" + "A" * 21 + "=="))
    plain = uuid.UUID(int=1)
    with mock.patch("zoomstream.stack.kafka.uuid.uuid4", side_effect=[dashed, plain]):
        assert cluster_uuid() == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")
    for _ in range(2000):
        value = cluster_uuid()
        assert len(value) == 22 and not value.startswith("-")
        assert uuid.UUID(bytes=base64.urlsafe_b64decode(value + "==")).version == 4
