"""The view agent: view events → Faust tables → recording_views, counters, content_progress."""

from __future__ import annotations

import asyncio
from functools import partial

import faust
from pydantic import ValidationError

from schemas.settings import Settings
from schemas.topics import RECORDING_VIEW_DEAD_LETTERS, RECORDING_VIEWS
from schemas.view_event import RecordingViewEvent
from sinks import Database, in_transaction
from streams.runtime import metrics
from streams.runtime.dead_letters import dead_letter_unreadable
from streams.runtime.delivery import Delivery
from streams.runtime.sources import RepairedSource, batch_agent, byte_topic
from streams.runtime.tables import ChangelogTable
from streams.views.batch import Tally, View, write_views


def install_view_agents(app: faust.App, settings: Settings, db: Database) -> list[RepairedSource]:
    """Install the view agent; returns the batch source whose idle sweep the worker runs."""
    dead_letters = byte_topic(app, settings, RECORDING_VIEW_DEAD_LETTERS)
    viewers = ChangelogTable(app.Table("recording-viewers", partitions=settings.kafka_partitions))
    counters = ChangelogTable(app.Table("recording-counters", partitions=settings.kafka_partitions))

    async def count(deliveries: list[Delivery]) -> None:
        """States computed, written to PostgreSQL in one transaction, then to the tables'
        changelogs (awaited), and the events that could not be written to the dead-letter
        topic (acked); only then may the offsets commit: a crash in between recomputes the
        same states."""
        views: list[View] = []
        for delivery in deliveries:
            try:
                views.append((delivery, RecordingViewEvent.model_validate_json(delivery.value)))
            except ValidationError as exc:
                error = f"not a recording view event: {exc.errors()[0]['msg']}"
                await dead_letter_unreadable(dead_letters, delivery, error)
        if not views:
            return
        tally, failed = await in_transaction(
            db, partial(write_views, views=views, tally=lambda: Tally(viewers, counters))
        )
        changes = tally.changes
        await asyncio.gather(
            *[
                viewers.set(key, state.model_dump(mode="json"), partition)
                for key, (state, partition) in changes.viewers.items()
            ],
            *[
                counters.set(key, total.model_dump(mode="json"), partition)
                for key, (total, partition) in changes.counters.items()
            ],
        )
        for delivery, reason in failed:
            await dead_letter_unreadable(dead_letters, delivery, f"not written: {reason}")
        metrics.VIEW_EVENTS.inc(len(deliveries))

    views = byte_topic(app, settings, RECORDING_VIEWS)
    return [batch_agent(app, settings, views, "recording-views", count)]
