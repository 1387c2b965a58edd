"""The view agent: view events → Faust tables → recording_views, counters, content_progress."""

from __future__ import annotations

import logging
import time
import traceback
from functools import partial
from typing import Any

import faust
from pydantic import ValidationError

from schemas import DeadLetter
from schemas.view_event import RecordingViewEvent
from sinks import Database, in_transaction
from sinks import views as sink
from streams import metrics
from streams.batch import utc_now
from streams.tables import ChangelogTable
from streams.views import (
    RecordingCounters,
    ViewerProgress,
    apply_to_counters,
    apply_to_viewer,
    viewer_key,
    viewer_row,
)
from zoomstream.settings import Settings
from zoomstream.topics import RECORDING_VIEW_DEAD_LETTERS, RECORDING_VIEWS

log = logging.getLogger(__name__)


def install_view_agents(app: faust.App, settings: Settings, db: Database) -> None:
    def byte_topic(name: str) -> Any:
        return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")

    dead_letters = byte_topic(RECORDING_VIEW_DEAD_LETTERS)
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

    @app.agent(byte_topic(RECORDING_VIEWS), name="recording-views")
    async def views_agent(stream: Any) -> None:
        """Batches: states computed, written to PostgreSQL in one transaction, then to the
        tables' changelogs, then the offsets: a crash in between recomputes the same states."""
        batches = stream.take_events(
            settings.worker_batch_size, within=settings.worker_batch_seconds
        )
        async for events in batches:
            started = time.perf_counter()
            changed_viewers: dict[str, tuple[ViewerProgress, int]] = {}
            changed_counters: dict[str, tuple[RecordingCounters, int]] = {}
            for event in events:
                message = event.message
                try:
                    view = RecordingViewEvent.model_validate_json(event.value)
                except ValidationError as exc:
                    await reject(event, f"not a recording view event: {exc.errors()[0]['msg']}")
                    continue
                state = None
                if view.registration_id is not None:
                    key = viewer_key(view.recording_id, view.registration_id)
                    before = viewer(key, changed_viewers)
                    state = apply_to_viewer(before, view, message.offset)
                    if state is not None and state is not before:
                        changed_viewers[key] = (state, message.partition)
                count_key = str(view.recording_id)
                before_count = counter(count_key, changed_counters)
                after = apply_to_counters(before_count, state, view, message.offset)
                if after is not before_count:
                    changed_counters[count_key] = (after, message.partition)
            if changed_viewers or changed_counters:
                rows = [viewer_row(state) for state, _ in changed_viewers.values()]
                totals = [c.model_dump() for c, _ in changed_counters.values()]
                await in_transaction(db, partial(sink.write, viewers=rows, counters=totals))
            for key, (state, partition) in changed_viewers.items():
                viewers.set(key, state.model_dump(mode="json"), partition)
            for key, (total, partition) in changed_counters.items():
                counters.set(key, total.model_dump(mode="json"), partition)
            metrics.VIEW_EVENTS.inc(len(events))
            metrics.BATCH_SIZE.labels("recording-views").observe(len(events))
            metrics.BATCH_SECONDS.labels("recording-views").observe(time.perf_counter() - started)

    async def reject(event: Any, error: str) -> None:
        message = event.message
        letter = DeadLetter(
            source_topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            value=event.value,
            error=error[:1000],
            traceback=traceback.format_exc()[-5000:],
            failed_at=utc_now(),
        )
        await (await dead_letters.send(key=message.key, value=letter.model_dump_json().encode()))
        metrics.DEAD_LETTERS.inc()
        log.error(
            "dead-lettered %s[%d]@%d: %s", message.topic, message.partition, message.offset, error
        )
