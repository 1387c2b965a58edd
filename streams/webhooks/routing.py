"""Where each Zoom event type goes: the one routing table of the webhook path, made from the
event types each domain says it handles (`streams.attendance.EVENT_TYPES`, the recordings
handlers). An event type in neither is logged `skipped`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from streams.attendance import EVENT_TYPES as ATTENDANCE_EVENTS
from streams.recordings.handler import HANDLERS as RECORDING_HANDLERS

Route = Literal["attendance", "recording"]
"""attendance: a batch's events applied together; recording: each in a savepoint of its own."""

ROUTES: Mapping[str, Route] = {
    **dict.fromkeys(sorted(ATTENDANCE_EVENTS), "attendance"),
    **dict.fromkeys(sorted(RECORDING_HANDLERS), "recording"),
}
if len(ROUTES) != len(ATTENDANCE_EVENTS) + len(RECORDING_HANDLERS):
    raise RuntimeError("an event type is claimed by two domains")


def route(event_type: str) -> Route | None:
    return ROUTES.get(event_type)
