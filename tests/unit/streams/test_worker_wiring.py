"""The worker app is wired once: each agent and table by its name, nothing connected yet."""

from __future__ import annotations

from streams import create_worker
from zoomstream.settings import Settings


def test_worker_has_its_agents_and_tables() -> None:
    app = create_worker(Settings(_env_file=None, topic_prefix="unit."))
    assert sorted(app.agents) == [
        "email-events",
        "email-send",
        "recording-views",
        "retry",
        "webhook-log",
    ]
    assert sorted(app.tables) == ["delivery-seen", "recording-counters", "recording-viewers"]
