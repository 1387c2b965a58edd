import inspect

from streams.runtime.attempts import STUCK_AFTER
from zoomstream.cli import retry_failed


def test_retry_failed_by_hand_calls_stuck_what_the_schedule_does() -> None:
    default = inspect.signature(retry_failed).parameters["stuck_after_minutes"].default
    assert default * 60 == STUCK_AFTER.total_seconds()
