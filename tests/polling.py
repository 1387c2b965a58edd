"""The one way a test waits for something: `poll` a reading until it is what the test wants.

Every wait of the integration tests goes through here (tests/unit/test_layers.py keeps it so),
so each says what it waits for, how long, and, when it fails, what it saw last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimedOut(AssertionError):
    """What a poll waited for did not come within its time; `last` is the last value read."""

    def __init__(self, what: str, timeout: float, last: object) -> None:
        super().__init__(f"timed out after {timeout:g} s waiting for {what}; last seen: {last}")
        self.last = last


def poll(
    read: Callable[[], T],
    *,
    until: Callable[[T], object] = bool,
    what: str,
    timeout: float,
    interval: float = 0.25,
    raise_on_timeout: bool = True,
) -> T:
    """Call `read` every `interval` seconds until `until(value)` holds (by default: until the
    value is truthy), and return that value. `read` runs at least once, and once more when the
    time is up; whatever it raises goes straight to the caller (a process check, say).

    When `timeout` seconds pass first, raise `TimedOut` naming `what` and the last value read;
    or, with `raise_on_timeout=False`, return the last value, for the caller's own assertion.
    `interval=0` suits a `read` that blocks by itself (a consumer's `poll(0.5)`).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value):
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            if raise_on_timeout:
                raise TimedOut(what, timeout, value)
            return value
        time.sleep(min(interval, left))
