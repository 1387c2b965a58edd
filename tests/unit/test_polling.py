"""The tests' one way to wait: poll a reading until it is what the test wants, or say what it saw."""

from __future__ import annotations

import time

import pytest

from tests.polling import TimedOut, poll


class Readings:
    """A reading that gives `values` one per call, then the last one again; keeps what it gave."""

    def __init__(self, *values: int) -> None:
        self.values = list(values)
        self.calls: list[int] = []

    def __call__(self) -> int:
        value = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        self.calls.append(value)
        return value


def test_the_first_truthy_value_is_returned_and_reading_stops() -> None:
    read = Readings(0, 0, 7, 9)
    assert poll(read, what="a count", timeout=5, interval=0) == 7
    assert read.calls == [0, 0, 7]


def test_until_says_when_the_value_is_the_one_wanted() -> None:
    read = Readings(1, 2, 3, 4)
    assert poll(read, until=lambda n: n >= 3, what="three", timeout=5, interval=0) == 3


def test_a_value_already_there_is_read_once_without_waiting() -> None:
    read = Readings(5)
    started = time.monotonic()
    assert poll(read, what="five", timeout=5, interval=1) == 5
    assert time.monotonic() - started < 0.5
    assert read.calls == [5]


def test_on_timeout_it_fails_naming_what_it_waited_for_and_the_last_value() -> None:
    read = Readings(1, 2, 3)
    started = time.monotonic()
    with pytest.raises(TimedOut) as failed:
        poll(read, until=lambda n: n > 10, what="more than ten rows", timeout=0.2, interval=0.01)
    assert time.monotonic() - started >= 0.2
    assert failed.value.last == 3
    assert str(failed.value) == (
        "timed out after 0.2 s waiting for more than ten rows; last seen: 3"
    )
    assert isinstance(failed.value, AssertionError)  # a failed test, not an error


def test_without_raising_it_returns_the_last_value_for_the_callers_assertion() -> None:
    read = Readings(1, 2)
    found = poll(
        read,
        until=lambda n: n > 10,
        what="more than ten",
        timeout=0.05,
        interval=0.01,
        raise_on_timeout=False,
    )
    assert found == 2


def test_it_reads_once_more_when_the_time_is_up_not_an_interval_later() -> None:
    moments: list[float] = []

    def read() -> bool:
        moments.append(time.monotonic())
        return False

    started = time.monotonic()
    poll(read, what="never", timeout=0.3, interval=10, raise_on_timeout=False)
    assert len(moments) == 2
    assert moments[0] - started < 0.1
    assert 0.3 <= moments[1] - started < 1.0  # the last sleep ends at the deadline


def test_what_the_reading_raises_fails_the_poll_at_once() -> None:
    def read() -> int:
        raise AssertionError("the worker exited")

    started = time.monotonic()
    with pytest.raises(AssertionError, match="the worker exited"):
        poll(read, what="rows", timeout=5)
    assert time.monotonic() - started < 0.5
