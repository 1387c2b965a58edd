"""Which of the platform's registrations count.

One rule for every use: a registration counts only while its status is `confirmed`. Anything
else (pending, cancelled, waitlisted, whatever the platform adds) is as if there were none: it
is never matched to an attendee, never flagged attended, and opens no recording that is not
public (docs/design.md, "Registrations that count").
"""

from __future__ import annotations

LIVE_STATUS = "confirmed"
"""The one status of a registration that counts."""


def is_live(status: str) -> bool:
    return status == LIVE_STATUS
