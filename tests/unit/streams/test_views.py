"""View counters and watch progress: exact under re-reads, retried beacons and forged claims."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.view_event import RecordingViewEvent
from streams.runtime.delivery import Delivery
from streams.runtime.tables import ChangelogTable
from streams.views.batch import Tally
from streams.views.rules import (
    RecordingCounters,
    ViewerProgress,
    apply_to_counters,
    apply_to_viewer,
    viewer_row,
)

T0 = datetime(2026, 11, 30, 10, tzinfo=UTC)
RECORDING = uuid.UUID("9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d")


def view_event(kind: str = "progress", second: float = 0, **overrides: Any) -> RecordingViewEvent:
    values: dict[str, Any] = {
        "view_id": uuid.uuid4(),
        "kind": kind,
        "recording_id": 1,
        "recording_uuid": RECORDING,
        "event_id": 7,
        "registration_id": 70,
        "duration_seconds": 100,
        "received_at": T0 + timedelta(seconds=second),
    }
    if kind == "progress":
        values.update(position_seconds=second, watch_seconds=10.0)
    values.update(overrides)
    return RecordingViewEvent(**values)


def run(
    events: list[RecordingViewEvent],
) -> tuple[dict[int | None, ViewerProgress | None], RecordingCounters | None]:
    viewers: dict[int | None, ViewerProgress | None] = {}
    counters: RecordingCounters | None = None
    for offset, event in enumerate(events):
        state = apply_to_viewer(viewers.get(event.registration_id), event, offset)
        if state is not None:
            viewers[event.registration_id] = state
        counters = apply_to_counters(counters, state, event, offset)
    return viewers, counters


def test_watching_honestly_completes_at_ninety_percent() -> None:
    events = [view_event("view", 0)] + [view_event(second=10 * i) for i in range(1, 10)]
    viewers, _ = run(events)
    state = viewers[70]
    assert state is not None
    assert (state.watch_seconds, state.completed, state.completed_at) == (
        90.0,
        True,
        T0 + timedelta(seconds=90),
    )
    assert viewer_row(state)["total_watch_seconds"] == 90


def test_seeking_to_the_end_does_not_complete() -> None:
    # Spec defect 15: position 100 of 100, and a claim of an hour watched, two seconds in.
    events = [
        view_event("view", 0),
        view_event(second=2, position_seconds=100, watch_seconds=3600),
    ]
    viewers, _ = run(events)
    state = viewers[70]
    assert state is not None
    assert (state.max_position_seconds, state.watch_seconds, state.completed) == (100, 2.0, False)


def test_a_beacon_without_an_earlier_request_earns_nothing() -> None:
    viewers, _ = run([view_event(second=5)])
    state = viewers[70]
    assert state is not None and state.watch_seconds == 0.0 and state.views == 0


def test_retried_beacon_counts_once() -> None:
    first = view_event(second=10, beacon_id="b1")
    retried = view_event(second=12, beacon_id="b1")
    viewers, _ = run([view_event("view", 0), first, retried])
    state = viewers[70]
    assert state is not None and state.watch_seconds == 10.0


def test_views_and_unique_viewers() -> None:
    events = [
        view_event("view", 0),
        view_event("view", 5),
        view_event("view", 6, registration_id=71),
        view_event("view", 7, registration_id=None),  # anonymous, public recording
    ]
    viewers, counters = run(events)
    assert counters is not None
    assert (counters.view_count, counters.unique_viewers) == (4, 2)
    assert viewers[70] is not None and viewers[70].views == 2


def test_unique_viewer_counted_when_only_the_viewer_table_was_restored() -> None:
    """A crash after the viewer's changelog was written but not the counters': the first view
    is read again; the viewer state skips it, the counters still count it once."""
    first_view = view_event("view", 0)
    viewer = apply_to_viewer(None, first_view, 0)
    again = apply_to_viewer(viewer, first_view, 0)
    assert again is viewer
    counters = apply_to_counters(None, again, first_view, 0)
    assert (counters.view_count, counters.unique_viewers) == (1, 1)


timeline = st.lists(
    st.tuples(
        st.sampled_from(["view", "progress"]),
        st.integers(70, 73),
        st.floats(0, 30, allow_nan=False),
        st.sampled_from([None, "a", "b", "c"]),
    ),
    min_size=1,
    max_size=40,
)


@given(timeline, st.data())
def test_reading_again_after_any_crash_gives_the_clean_result(
    steps: list[tuple[str, int, float, str | None]], data: st.DataObject
) -> None:
    events = []
    second = 0.0
    for kind, registration, gap, beacon in steps:
        second += gap
        extra = {"beacon_id": beacon} if kind == "progress" else {}
        events.append(view_event(kind, second, registration_id=registration, **extra))
    clean = run(events)

    # Crash after some offset: the tables were restored to what was written up to a point at
    # or before it (each key independently), then every offset after the last commit is read again.
    crash = data.draw(st.integers(0, len(events) - 1))
    committed = data.draw(st.integers(-1, crash))
    viewers: dict[int | None, ViewerProgress | None] = {}
    counters: RecordingCounters | None = None
    for offset, event in enumerate(events[: crash + 1]):
        state = apply_to_viewer(viewers.get(event.registration_id), event, offset)
        if state is not None:
            viewers[event.registration_id] = state
        counters = apply_to_counters(counters, state, event, offset)
    for offset in range(committed + 1, len(events)):
        event = events[offset]
        state = apply_to_viewer(viewers.get(event.registration_id), event, offset)
        if state is not None:
            viewers[event.registration_id] = state
        counters = apply_to_counters(counters, state, event, offset)
    assert (viewers, counters) == clean


def legacy_table(entries: dict[str, Any]) -> ChangelogTable:
    """A table as a worker before migration 0013 left it: keyed by the recording's id."""
    return ChangelogTable(SimpleNamespace(data=entries))


def test_state_counted_under_the_recording_id_goes_on_under_its_uuid() -> None:
    first = view_event("view", 0)
    viewer = apply_to_viewer(None, first, 0)
    counters = apply_to_counters(None, viewer, first, 0)
    assert viewer is not None
    legacy = {"recording_id": 1, **viewer.model_dump(mode="json", exclude={"recording_uuid"})}
    tally = Tally(
        legacy_table({"1|70": legacy}),
        legacy_table({"1": {"recording_id": 1, "view_count": 1, "unique_viewers": 1}}),
    )
    tally.keep(tally.step(Delivery("views", 0, 1, b""), view_event(second=5)))
    tally.keep(tally.step(Delivery("views", 0, 2, b""), view_event("view", 6)))
    state, partition = tally.changes.viewers[f"{RECORDING}|70"]
    total, _ = tally.changes.counters[str(RECORDING)]
    assert (state.views, state.watch_seconds, state.recording_uuid, partition) == (
        2,
        5.0,
        RECORDING,
        0,
    )
    assert (total.view_count, total.unique_viewers, total.recording_uuid) == (2, 1, RECORDING)
    assert viewer_row(state)["recording_uuid"] == RECORDING
    assert counters.recording_uuid == RECORDING


def test_the_uuid_key_wins_over_a_legacy_one() -> None:
    event = view_event("view", 0)
    viewer = apply_to_viewer(None, event, 0)
    assert viewer is not None
    stale = {
        "recording_id": 1,
        "registration_id": 70,
        "event_id": 7,
        "views": 9,
        "first_seen_at": T0.isoformat(),
        "last_seen_at": T0.isoformat(),
    }
    tally = Tally(
        legacy_table({"1|70": stale, f"{RECORDING}|70": viewer.model_dump(mode="json")}),
        legacy_table({}),
    )
    step = tally.step(Delivery("views", 0, 1, b""), view_event("view", 1))
    assert step.viewers[f"{RECORDING}|70"][0].views == 2
