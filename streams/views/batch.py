"""One batch of view events: the states it changes, written in the batch's transaction.

The batch is written at once; if that fails (a recording deleted, a constraint), it is written
again event by event, each in a savepoint of its own: an event whose write fails is rolled back
alone, its effect left out of the states, and returned with the reason for the dead-letter
topic. The rest commit, and the partition goes on (invariant 4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import AsyncConnection

from schemas.view_event import RecordingViewEvent
from sinks import views as sink
from streams.runtime.delivery import Delivery
from streams.runtime.tables import ChangelogTable
from streams.views.rules import (
    RecordingCounters,
    ViewerProgress,
    apply_to_counters,
    apply_to_viewer,
    counter_key,
    counters_row,
    legacy_counter_key,
    legacy_viewer_key,
    viewer_key,
    viewer_row,
)

log = logging.getLogger(__name__)

View = tuple[Delivery, RecordingViewEvent]
Failed = tuple[Delivery, str]
"""An event left out, with why."""


@dataclass
class Changes:
    """New states by table key, each with the partition its changelog entry goes to."""

    viewers: dict[str, tuple[ViewerProgress, int]] = field(default_factory=dict)
    counters: dict[str, tuple[RecordingCounters, int]] = field(default_factory=dict)

    def rows(self) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        return (
            [viewer_row(state) for state, _ in self.viewers.values()],
            [counters_row(total) for total, _ in self.counters.values()],
        )


class Tally:
    """The states a batch changes, over the tables, which it only reads: they are written
    after the commit. A key without state falls back to its legacy key (by recording id)."""

    def __init__(self, viewers: ChangelogTable, counters: ChangelogTable) -> None:
        self._viewers = viewers
        self._counters = counters
        self.changes = Changes()

    def step(self, delivery: Delivery, view: RecordingViewEvent) -> Changes:
        """The states after one more event, not yet kept."""
        step = Changes()
        state = None
        if view.registration_id is not None:
            key = viewer_key(view.recording_uuid, view.registration_id)
            before = self._viewer(key, legacy_viewer_key(view, view.registration_id))
            state = apply_to_viewer(before, view, delivery.offset)
            if state is not None and state is not before:
                step.viewers[key] = (state, delivery.partition)
        key = counter_key(view.recording_uuid)
        before_count = self._counter(key, legacy_counter_key(view))
        after = apply_to_counters(before_count, state, view, delivery.offset)
        if after is not before_count:
            step.counters[key] = (after, delivery.partition)
        return step

    def keep(self, step: Changes) -> None:
        self.changes.viewers.update(step.viewers)
        self.changes.counters.update(step.counters)

    def _viewer(self, key: str, legacy: str) -> ViewerProgress | None:
        if key in self.changes.viewers:
            return self.changes.viewers[key][0]
        stored = self._viewers.get(key)
        if stored is None:
            stored = self._viewers.get(legacy)
        return None if stored is None else ViewerProgress.model_validate(stored)

    def _counter(self, key: str, legacy: str) -> RecordingCounters | None:
        if key in self.changes.counters:
            return self.changes.counters[key][0]
        stored = self._counters.get(key)
        if stored is None:
            stored = self._counters.get(legacy)
        return None if stored is None else RecordingCounters.model_validate(stored)


async def write_views(
    conn: AsyncConnection, views: Sequence[View], tally: Callable[[], Tally]
) -> tuple[Tally, list[Failed]]:
    """The batch's states, in the caller's transaction; what was kept and what failed.
    `tally` gives a fresh one (a retried transaction starts again from the tables)."""
    whole = tally()
    for delivery, view in views:
        whole.keep(whole.step(delivery, view))
    try:
        async with conn.transaction():
            await sink.write(conn, *whole.changes.rows())
        return whole, []
    except psycopg.OperationalError:
        raise
    except (psycopg.Error, sink.RecordingMissing) as exc:
        log.warning(
            "%d view events could not be written together (%s); one by one", len(views), exc
        )
    alone, failed = tally(), []
    for delivery, view in views:
        step = alone.step(delivery, view)
        try:
            async with conn.transaction():
                await sink.write(conn, *step.rows())
        except psycopg.OperationalError:
            raise
        except (psycopg.Error, sink.RecordingMissing) as exc:
            failed.append((delivery, f"{type(exc).__name__}: {exc}"))
            continue
        alone.keep(step)
    return alone, failed
