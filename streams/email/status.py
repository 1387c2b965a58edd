"""An email's delivery status, computed from what the sender knows and every provider event.

Pure. The status is the highest-ranked of all facts, so it only moves forward and does not depend
on the order events arrive in or on how often they are delivered (spec defect 16): a late
`delivered` never lowers an `opened`, and `opened` never overwrites `clicked`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas.email_event import EmailEvent

SendState = Literal["pending", "sent", "failed"]
DeliveryStatus = Literal[
    "pending", "sent", "delivered", "opened", "clicked", "bounced", "failed", "spam", "unsubscribed"
]

# Later facts outrank earlier ones. A soft bounce or a provider's drop is final only while
# nothing better is known (a deferred-then-delivered email is delivered); a hard bounce, an
# unsubscribe and a complaint outrank engagement, because they are what the next send must know.
RANK: dict[str, int] = {
    "pending": 0,
    "sent": 1,
    "failed": 2,
    "bounced:soft": 3,
    "delivered": 4,
    "opened": 5,
    "clicked": 6,
    "bounced:hard": 7,
    "unsubscribed": 8,
    "spam": 9,
}
# Statuses that mean the email is on its way or arrived: a request like it is then a duplicate.
LIVE_STATUSES: tuple[DeliveryStatus, ...] = ("pending", "sent", "delivered", "opened", "clicked")


@dataclass(frozen=True)
class Sending:
    """What the sender recorded: its own state, times and error."""

    state: SendState = "pending"
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    error: str = ""


@dataclass(frozen=True)
class DeliveryFields:
    """The email_logs columns that follow from the facts."""

    delivery_status: DeliveryStatus
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    bounced_at: datetime | None
    failed_at: datetime | None
    open_count: int
    click_count: int
    bounce_type: str
    error_message: str


def status_key(event: EmailEvent) -> str | None:
    """The RANK key an event stands for; None for events that set no status (deferred)."""
    match event.kind:
        case "sent" | "delivered" | "opened" | "clicked" | "unsubscribed":
            return event.kind
        case "bounced":
            return f"bounced:{event.bounce_type or 'hard'}"
        case "dropped" | "failed":
            return "failed"
        case "complained":
            return "spam"
        case _:
            return None


def suppresses(event: EmailEvent) -> bool:
    """Hard bounces and complaints stop further mail to the address; soft bounces do not."""
    return event.kind == "complained" or (event.kind == "bounced" and event.bounce_type != "soft")


def delivery_fields(sending: Sending, events: Iterable[EmailEvent]) -> DeliveryFields:
    # One event per content key (what the event is, not the provider's id of its delivery,
    # which changes on the provider's retries); of two under one key the same one is kept
    # whatever the order.
    chosen: dict[str, EmailEvent] = {}
    for event in sorted(events, key=lambda e: e.model_dump_json()):
        chosen.setdefault(event.content_key, event)
    unique = chosen.values()
    keys = [sending.state, *(k for e in unique if (k := status_key(e)) is not None)]
    best = max(keys, key=RANK.__getitem__)

    def first(*kinds: str) -> datetime | None:
        times = [e.occurred_at for e in unique if status_key(e) in kinds]
        return min(times) if times else None

    def reason(*kinds: str) -> str:
        found = sorted((e.occurred_at, e.reason) for e in unique if status_key(e) in kinds)
        return next((text for _, text in found if text), "")

    bounce_type = "hard" if first("bounced:hard") else "soft" if first("bounced:soft") else ""
    return DeliveryFields(
        delivery_status=best.split(":", 1)[0],  # type: ignore[arg-type]
        sent_at=sending.sent_at or first("sent"),
        delivered_at=first("delivered"),
        opened_at=first("opened"),
        clicked_at=first("clicked"),
        bounced_at=first(f"bounced:{bounce_type}") if bounce_type else None,
        failed_at=sending.failed_at or first("failed"),
        open_count=sum(1 for e in unique if e.kind == "opened"),
        click_count=sum(1 for e in unique if e.kind == "clicked"),
        bounce_type=bounce_type,
        error_message=(
            reason("bounced:hard")
            or reason("bounced:soft")
            or reason("failed")
            or (sending.error if sending.state == "failed" else "")
        ),
    )
