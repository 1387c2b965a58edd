"""Delivery status from the sender's state and provider events: forward only, order-free."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.email_event import EmailEvent
from streams.email.status import RANK, Sending, delivery_fields, status_key, suppresses

T0 = datetime(2026, 11, 30, 10, tzinfo=UTC)
SENT = Sending("sent", sent_at=T0)


def email_event(kind: str, minute: int = 1, **overrides: Any) -> EmailEvent:
    values: dict[str, Any] = {
        "provider": "sendgrid",
        "event_id": f"{kind}-{minute}-{overrides.get('bounce_type')}",
        "kind": kind,
        "provider_message_id": "q1",
        "recipient": "a@x.org",
        "occurred_at": T0 + timedelta(minutes=minute),
    }
    values.update(overrides)
    return EmailEvent(**values)


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([], "sent"),
        ([email_event("delivered")], "delivered"),
        ([email_event("deferred")], "sent"),
        ([email_event("delivered", 1), email_event("opened", 2)], "opened"),
        # defect 16: a late delivered never regresses an opened email; opened never beats clicked
        ([email_event("opened", 2), email_event("delivered", 5)], "opened"),
        ([email_event("clicked", 3), email_event("opened", 4)], "clicked"),
        ([email_event("bounced", bounce_type="soft")], "bounced"),
        ([email_event("bounced", 1, bounce_type="soft"), email_event("delivered", 9)], "delivered"),
        ([email_event("delivered", 1), email_event("bounced", 2, bounce_type="hard")], "bounced"),
        ([email_event("dropped")], "failed"),
        ([email_event("opened"), email_event("complained", 5)], "spam"),
        ([email_event("opened"), email_event("unsubscribed", 5)], "unsubscribed"),
    ],
)
def test_status_from_events(events: list[EmailEvent], status: str) -> None:
    assert delivery_fields(SENT, events).delivery_status == status


def test_counts_and_first_times_are_kept() -> None:
    events = [
        email_event("opened", 5),
        email_event("opened", 2),
        email_event("opened", 2),  # the same event delivered twice
        email_event("clicked", 7, url="https://x.org/a"),
        email_event("delivered", 1),
    ]
    fields = delivery_fields(SENT, events)
    assert (fields.open_count, fields.click_count) == (2, 1)
    assert fields.opened_at == T0 + timedelta(minutes=2)
    assert fields.clicked_at == T0 + timedelta(minutes=7)
    assert fields.delivered_at == T0 + timedelta(minutes=1)
    assert fields.sent_at == T0


def test_hard_bounce_wins_type_and_reason() -> None:
    fields = delivery_fields(
        SENT,
        [
            email_event("bounced", 1, bounce_type="soft", reason="452 mailbox full"),
            email_event("bounced", 3, bounce_type="hard", reason="550 no such user"),
        ],
    )
    assert (fields.bounce_type, fields.error_message) == ("hard", "550 no such user")
    assert fields.bounced_at == T0 + timedelta(minutes=3)


def test_send_failure_is_the_error_when_nothing_else_is_known() -> None:
    failed = Sending("failed", failed_at=T0, error="451 try later")
    fields = delivery_fields(failed, [])
    assert (fields.delivery_status, fields.error_message, fields.failed_at) == (
        "failed",
        "451 try later",
        T0,
    )
    assert delivery_fields(Sending(), []).delivery_status == "pending"


def test_what_suppresses() -> None:
    assert suppresses(email_event("bounced", bounce_type="hard"))
    assert suppresses(email_event("complained"))
    assert not suppresses(email_event("bounced", bounce_type="soft"))
    assert not suppresses(email_event("unsubscribed"))


KINDS = [
    "sent",
    "delivered",
    "deferred",
    "opened",
    "clicked",
    "complained",
    "unsubscribed",
    "dropped",
]
events_strategy = st.lists(
    st.builds(
        email_event,
        st.sampled_from([*KINDS, "bounced"]),
        st.integers(0, 30),
        bounce_type=st.sampled_from(["hard", "soft"]),
    ),
    max_size=12,
)


def test_one_event_per_id_whatever_the_order() -> None:
    hard = email_event("bounced", 1, bounce_type="hard", event_id="same")
    soft = email_event("bounced", 1, bounce_type="soft", event_id="same")
    assert delivery_fields(SENT, [hard, soft]) == delivery_fields(SENT, [soft, hard])


@given(events_strategy, st.randoms(use_true_random=False), st.integers(0, 3))
def test_any_order_and_any_redelivery_give_the_same_fields(
    events: list[EmailEvent], rnd: Any, copies: int
) -> None:
    shuffled = events + events[:copies]
    rnd.shuffle(shuffled)
    assert delivery_fields(SENT, shuffled) == delivery_fields(SENT, events)


@given(events_strategy, events_strategy)
def test_more_events_never_lower_the_status(
    before: list[EmailEvent], later: list[EmailEvent]
) -> None:
    def rank(events: list[EmailEvent]) -> int:
        return max(RANK[k] for k in ["sent", *(status_key(e) for e in events)] if k is not None)

    assert rank(before + later) >= rank(before)
    status = delivery_fields(SENT, before + later).delivery_status
    assert (
        status
        == max(
            ["sent", *(k for e in before + later if (k := status_key(e)))], key=RANK.__getitem__
        ).split(":")[0]
    )
