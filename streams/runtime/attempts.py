"""The one attempt policy, for a webhook whose handling failed and an email whose send failed.

Each gets `MAX_ATTEMPTS` attempts unless its failure is permanent (the data itself is wrong, or
the relay refused the message for good). Before each later attempt it waits the configured time:
`backoff[0]` before the 2nd, `backoff[1]` before the 3rd, the last wait again if there are more
attempts than waits. Nothing waits on the topic it came from: a webhook waits on the retry topic
(the raw topic is never held); an email's next attempt is due on its row, which the leader's
sweep publishes to `email.send-retry` when the time comes (`streams.email.retries`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

MAX_ATTEMPTS = 3


def is_final(attempt: int, permanent: bool = False) -> bool:
    """True when no attempt follows a failed `attempt` (counted from 1)."""
    return permanent or attempt >= MAX_ATTEMPTS


def wait_after(attempt: int, backoff: Sequence[float]) -> float:
    """Seconds to wait after a failed `attempt` before the next one."""
    return backoff[min(attempt, len(backoff)) - 1]


STUCK_AFTER = timedelta(minutes=60)
"""A webhook's log row `pending` or `processing`, untouched this long, is stuck: its retry never
came (longer than any retry waits). `zoomstream retry-failed` drives such rows again. An email
attempt whose outcome is not recorded this long after it began (a crash) counts as made, and
its email's next attempt is then due."""
