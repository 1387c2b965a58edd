"""The worker app is wired once: each agent and table by its name, nothing connected yet."""

from __future__ import annotations

from typing import Any

from schemas.settings import Settings
from streams import create_worker
from streams.runtime.seen_store import SeenStore


def test_worker_has_its_agents_and_tables() -> None:
    app = create_worker(Settings(_env_file=None, topic_prefix="unit."))
    assert sorted(app.agents) == [
        "email-events",
        "email-retry",
        "email-send",
        "recording-views",
        "retry",
        "webhook-log",
    ]
    assert sorted(app.tables) == ["delivery-seen", "recording-counters", "recording-viewers"]


def test_the_dedup_window_is_kept_in_the_compact_store() -> None:
    app = create_worker(Settings(_env_file=None, topic_prefix="unit."))
    tables: dict[str, Any] = dict(app.tables)
    assert isinstance(tables["delivery-seen"].data, SeenStore)
    assert not isinstance(tables["recording-counters"].data, SeenStore)
