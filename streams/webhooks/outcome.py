"""What handling one webhook did: the status of its log row and what changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["completed", "skipped", "pending"]


@dataclass(frozen=True)
class Outcome:
    status: Status
    message: str = ""
    records_changed: int = 0
    publish: frozenset[int] = field(default_factory=frozenset)
    """Recordings whose state changed and goes to zoom.recordings after the commit."""
    parked: bool = False
    """Pending until something else arrives (a recording webhook waiting for its recording):
    the log row's `parked` column, which that arrival looks for."""


class PermanentError(ValueError):
    """A webhook that no later attempt can handle (its data is wrong): dead-lettered at once."""
