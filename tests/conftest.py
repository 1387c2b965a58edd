"""Shared helpers: settings for tests and signed Zoom requests."""

from __future__ import annotations

import time

import pytest

from zoomstream.samples import dumps, sign
from zoomstream.settings import Settings

SECRET = "test-zoom-secret"


@pytest.fixture
def settings() -> Settings:
    return Settings(zoom_webhook_secret=SECRET, topic_prefix="unit.", _env_file=None)


def signed(
    body: bytes | dict[str, object], timestamp: int | None = None, secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else dumps(body)
    return raw, sign(secret.encode(), raw, int(time.time()) if timestamp is None else timestamp)
