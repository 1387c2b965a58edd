"""Every batch agent reports its batches' size and time under its own name, once."""

from __future__ import annotations

import asyncio

import faust

from schemas.settings import Settings
from streams.runtime import metrics
from streams.runtime.delivery import Delivery
from streams.runtime.sources import batch_agent, byte_topic


def sample(name: str, agent: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, {"agent": agent}) or 0.0


def test_a_batch_is_measured_under_the_agents_name() -> None:
    settings = Settings(_env_file=None, topic_prefix="unit.")
    app = faust.App("unit-metrics", broker="kafka://127.0.0.1:1", web_enabled=False)
    handled: list[int] = []

    async def handle(deliveries: list[Delivery]) -> None:
        handled.append(len(deliveries))

    source = batch_agent(app, settings, byte_topic(app, settings, "t"), "unit-agent", handle)
    size = sample("zoomstream_worker_batch_size_sum", "unit-agent")
    batches = sample("zoomstream_worker_batch_seconds_count", "unit-agent")

    async def one_batch() -> None:
        await source._handle([Delivery("t", 0, n, b"") for n in range(3)])

    asyncio.run(one_batch())

    assert handled == [3]
    assert sample("zoomstream_worker_batch_size_sum", "unit-agent") == size + 3
    assert sample("zoomstream_worker_batch_seconds_count", "unit-agent") == batches + 1
