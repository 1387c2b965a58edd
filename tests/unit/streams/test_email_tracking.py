"""Provider events applied to the emails they are about, with sinks.email faked in dicts.

What the statements do on PostgreSQL is tests/integration/test_email.py's to prove."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.email_event import EmailEvent
from streams.email.tracking import Applied, apply_events, refresh_log
from tests.unit.streams.fakes import NO_CONNECTION, EmailStore

T0 = datetime(2026, 11, 30, 10, tzinfo=UTC)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> EmailStore:
    return EmailStore().install(monkeypatch)


def email_event(kind: str, minute: int = 1, **overrides: Any) -> EmailEvent:
    values: dict[str, Any] = {
        "provider": "sendgrid",
        "event_id": f"{kind}-{minute}",
        "kind": kind,
        "provider_message_id": "q1",
        "recipient": "jan@example.org",
        "occurred_at": T0 + timedelta(minutes=minute),
    }
    values.update(overrides)
    return EmailEvent(**values)


def sent_email(store: EmailStore, provider_message_id: str = "q1", **columns: Any) -> int:
    row = store.add_log(
        recipient_email="jan@example.org",
        provider_message_id=provider_message_id,
        send_state="sent",
        sent_at=T0,
        delivery_status="sent",
        **columns,
    )
    return int(row["id"])


async def test_an_event_is_stored_linked_to_its_email_and_the_email_refreshed(
    store: EmailStore,
) -> None:
    log_id = sent_email(store)
    applied = await apply_events(NO_CONNECTION, [email_event("delivered", 3)])
    assert applied == Applied(stored=1, logs={log_id})
    assert store.event("sendgrid", "delivered-3")["email_log_id"] == log_id
    log = store.logs[log_id]
    assert (log["delivery_status"], log["delivered_at"]) == ("delivered", T0 + timedelta(minutes=3))


async def test_an_event_is_matched_by_our_message_id_when_the_provider_id_is_unknown(
    store: EmailStore,
) -> None:
    log_id = sent_email(store, provider_message_id="", message_id="r1@mail.example")
    event = email_event("delivered", provider_message_id="", message_id="r1@mail.example")
    assert (await apply_events(NO_CONNECTION, [event])).logs == {log_id}


async def test_a_redelivered_event_is_a_duplicate_and_changes_nothing(store: EmailStore) -> None:
    log_id = sent_email(store)
    store.add_contact("jan@example.org")
    bounce = email_event("bounced", bounce_type="hard")
    first = await apply_events(NO_CONNECTION, [bounce])
    store.contacts[0]["email_bounced"] = False  # unsuppressed by hand since: must stay so
    before = dict(store.logs[log_id])

    again = await apply_events(NO_CONNECTION, [bounce])

    assert (first.stored, first.suppressed) == (1, 1)
    assert again == Applied(duplicates=1)
    assert store.logs[log_id] == before
    assert store.refreshed == [log_id], "refreshed by the first delivery only"
    assert store.bounced() == []


async def test_an_unmatched_event_is_stored_and_counted_unmatched(store: EmailStore) -> None:
    sent_email(store, provider_message_id="q-other")
    applied = await apply_events(NO_CONNECTION, [email_event("opened")])
    assert applied == Applied(stored=1, unmatched=1)
    assert store.event("sendgrid", "opened-1")["email_log_id"] is None, (
        "linked later, when its email's ids are recorded"
    )
    assert store.refreshed == []


@pytest.mark.parametrize(
    ("kind", "bounce_type", "suppressed"),
    [
        ("bounced", "hard", 1),
        ("bounced", None, 1),  # a bounce of no stated type counts as hard
        ("complained", None, 1),
        ("bounced", "soft", 0),
        ("dropped", None, 0),
        ("unsubscribed", None, 0),
    ],
)
async def test_hard_bounces_and_complaints_suppress_the_address(
    store: EmailStore, kind: str, bounce_type: str | None, suppressed: int
) -> None:
    sent_email(store)
    store.add_contact("Jan@Example.org")
    store.add_contact("someone.else@example.org")
    event = email_event(kind, bounce_type=bounce_type)
    applied = await apply_events(NO_CONNECTION, [event])
    assert applied.suppressed == suppressed
    assert store.bounced() == (["Jan@Example.org"] if suppressed else [])


async def test_an_unmatched_bounce_suppresses_the_address_the_event_names(
    store: EmailStore,
) -> None:
    store.add_contact("jan@example.org")
    applied = await apply_events(NO_CONNECTION, [email_event("bounced", bounce_type="hard")])
    assert (applied.unmatched, applied.suppressed) == (1, 1)
    assert store.bounced() == ["jan@example.org"]


async def test_a_matched_bounce_suppresses_the_emails_recipient(store: EmailStore) -> None:
    """Some providers leave the recipient out of an event; the email says who it went to."""
    sent_email(store)
    store.add_contact("jan@example.org")
    await apply_events(NO_CONNECTION, [email_event("complained", recipient=None)])
    assert store.bounced() == ["jan@example.org"]


async def test_an_unmatched_bounce_without_a_recipient_suppresses_nothing(
    store: EmailStore,
) -> None:
    applied = await apply_events(NO_CONNECTION, [email_event("complained", recipient=None)])
    assert (applied.unmatched, applied.suppressed) == (1, 0)
    assert store.suppressions == [], "no address to suppress"


async def test_each_email_touched_is_refreshed_once_after_all_its_events(
    store: EmailStore,
) -> None:
    first, second = sent_email(store, "q1"), sent_email(store, "q2")
    events = [
        email_event("opened", 5, provider_message_id="q2"),
        email_event("delivered", 2),
        email_event("opened", 3),
        email_event("clicked", 4),
    ]
    applied = await apply_events(NO_CONNECTION, events)
    assert applied == Applied(stored=4, logs={first, second})
    assert store.refreshed == [first, second]
    assert (store.logs[first]["delivery_status"], store.logs[first]["open_count"]) == ("clicked", 1)
    assert store.logs[second]["delivery_status"] == "opened"


async def test_refresh_log_takes_the_senders_state_and_only_the_emails_own_events(
    store: EmailStore,
) -> None:
    log_id, other = sent_email(store, "q1"), sent_email(store, "q2")
    await apply_events(
        NO_CONNECTION,
        [
            email_event("delivered", 2),
            email_event("opened", 3),
            email_event("opened", 4),
            email_event("clicked", 5, provider_message_id="q2"),
        ],
    )
    store.logs[log_id].update(delivery_status="pending", open_count=0)  # as if never computed

    await refresh_log(NO_CONNECTION, log_id)

    log = store.logs[log_id]
    assert (log["delivery_status"], log["sent_at"], log["open_count"]) == ("opened", T0, 2)
    assert (log["opened_at"], log["clicked_at"]) == (T0 + timedelta(minutes=3), None)
    assert store.logs[other]["click_count"] == 1


async def test_refresh_log_of_a_failed_send_keeps_the_senders_error(store: EmailStore) -> None:
    failed_at = T0 + timedelta(minutes=1)
    row = store.add_log(
        send_state="failed",
        failed_at=failed_at,
        send_error="SMTPResponseException: 550 no such user",
    )
    await refresh_log(NO_CONNECTION, row["id"])
    log = store.logs[row["id"]]
    assert (log["delivery_status"], log["failed_at"], log["sent_at"]) == ("failed", failed_at, None)
    assert log["error_message"] == "SMTPResponseException: 550 no such user"
