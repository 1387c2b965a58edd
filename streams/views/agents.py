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
from sinks import views as sink
from streams.runtime import metrics
from streams.runtime.dead_letters import dead_letter_unreadable
from streams.runtime.delivery import Delivery
from streams.runtime.sources import RepairedSource, batch_agent, byte_topic
from streams.runtime.tables import ChangelogTable
from streams.views.rules import (
    RecordingCounters,
    ViewerProgress,
    apply_to_counters,
    apply_to_viewer,
    viewer_key,
    viewer_row,
)


def install_view_agents(app: faust.App, settings: Settings, db: Database) -> list[RepairedSource]:
    """Install the view agent; returns the batch source whose idle sweep the worker runs."""
    dead_letters = byte_topic(app, settings, RECORDING_VIEW_DEAD_LETTERS)
    viewers = ChangelogTable(app.Table("recording-viewers", partitions=settings.kafka_partitions))
    counters = ChangelogTable(app.Table("recording-counters", partitions=settings.kafka_partitions))

    def viewer(key: str, changed: dict[str, tuple[ViewerProgress, int]]) -> ViewerProgress | None:
        if key in changed:
            return changed[key][0]
        stored = viewers.get(key)
        return None if stored is None else ViewerProgress.model_validate(stored)

    def counter(
        key: str, changed: dict[str, tuple[RecordingCounters, int]]
    ) -> RecordingCounters | None:
        if key in changed:
            return changed[key][0]
        stored = counters.get(key)
        return None if stored is None else RecordingCounters.model_validate(stored)

    async def count(deliveries: list[Delivery]) -> None:
        """States computed, written to PostgreSQL in one transaction, then to the tables'
        changelogs (awaited), and only then may the offsets commit: a crash in between
        recomputes the same states."""
        changed_viewers: dict[str, tuple[ViewerProgress, int]] = {}
        changed_counters: dict[str, tuple[RecordingCounters, int]] = {}
        for delivery in deliveries:
            try:
                view = RecordingViewEvent.model_validate_json(delivery.value)
            except ValidationError as exc:
                error = f"not a recording view event: {exc.errors()[0]['msg']}"
                await dead_letter_unreadable(dead_letters, delivery, error)
                continue
            state = None
            if view.registration_id is not None:
                key = viewer_key(view.recording_id, view.registration_id)
                before = viewer(key, changed_viewers)
                state = apply_to_viewer(before, view, delivery.offset)
                if state is not None and state is not before:
                    changed_viewers[key] = (state, delivery.partition)
            count_key = str(view.recording_id)
            before_count = counter(count_key, changed_counters)
            after = apply_to_counters(before_count, state, view, delivery.offset)
            if after is not before_count:
                changed_counters[count_key] = (after, delivery.partition)
        if changed_viewers or changed_counters:
            rows = [viewer_row(state) for state, _ in changed_viewers.values()]
            totals = [c.model_dump() for c, _ in changed_counters.values()]
            await in_transaction(db, partial(sink.write, viewers=rows, counters=totals))
        sent = [
            viewers.set(key, state.model_dump(mode="json"), partition)
            for key, (state, partition) in changed_viewers.items()
        ] + [
            counters.set(key, total.model_dump(mode="json"), partition)
            for key, (total, partition) in changed_counters.items()
        ]
        await asyncio.gather(*sent)
        metrics.VIEW_EVENTS.inc(len(deliveries))

    views = byte_topic(app, settings, RECORDING_VIEWS)
    return [batch_agent(app, settings, views, "recording-views", count)]
