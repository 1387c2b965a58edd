"""Each provider's events into one vocabulary; shapes follow the providers' docs and anymail's fixtures."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemas.email_event import InvalidEmailWebhook
from streams.email.events import mailgun, postmark, resend, sendgrid


def body(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("type_", "extra", "kind", "bounce"),
    [
        ("email.sent", {}, "sent", None),
        ("email.delivered", {}, "delivered", None),
        ("email.delivery_delayed", {}, "deferred", None),
        ("email.bounced", {"bounce": {"message": "550 mailbox unavailable"}}, "bounced", "hard"),
        (
            "email.bounced",
            {"bounce": {"type": "Transient", "subType": "MailboxFull"}},
            "bounced",
            "soft",
        ),
        ("email.complained", {}, "complained", None),
        ("email.opened", {}, "opened", None),
        ("email.clicked", {"click": {"link": "https://example.org/c"}}, "clicked", None),
        ("email.failed", {"failed": {"reason": "reached_daily_quota"}}, "failed", None),
        ("email.suppressed", {}, "dropped", None),
    ],
)
def test_resend(type_: str, extra: dict[str, object], kind: str, bounce: str | None) -> None:
    data = {
        "email_id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c",
        "to": ["Jan Šimonek <Jan@Example.org>"],
        **extra,
    }
    [event] = resend(
        body({"type": type_, "created_at": "2026-11-30T10:00:00.000Z", "data": data}), "msg_1"
    )
    assert (event.kind, event.bounce_type, event.event_id) == (kind, bounce, "msg_1")
    assert event.provider_message_id == "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"
    assert event.recipient == "jan@example.org"
    assert event.occurred_at == datetime(2026, 11, 30, 10, tzinfo=UTC)


def test_resend_scheduled_is_no_delivery_fact() -> None:
    assert (
        resend(
            body({"type": "email.scheduled", "created_at": "2026-11-30T10:00:00Z", "data": {}}), "m"
        )
        == []
    )


def test_sendgrid_array_with_prefix_matching_and_bounce_kinds() -> None:
    events = [
        {
            "email": "a@x.org",
            "event": "processed",
            "sg_event_id": "p1",
            "sg_message_id": "14c5d75ce93.filter0001.1",
            "timestamp": 1764496800,
        },
        {
            "email": "a@x.org",
            "event": "delivered",
            "sg_event_id": "d1",
            "sg_message_id": "14c5d75ce93.filter0001.1",
            "timestamp": 1764496801,
            "response": "250 OK",
        },
        {
            "email": "a@x.org",
            "event": "bounce",
            "type": "bounce",
            "sg_event_id": "b1",
            "sg_message_id": "14c5d75ce93.f",
            "timestamp": 1764496802,
            "reason": "550",
        },
        {
            "email": "a@x.org",
            "event": "bounce",
            "type": "blocked",
            "sg_event_id": "b2",
            "sg_message_id": "14c5d75ce93.f",
            "timestamp": 1764496803,
        },
        {
            "email": "a@x.org",
            "event": "click",
            "url": "https://example.org",
            "sg_event_id": "c1",
            "sg_message_id": "14c5d75ce93.f",
            "timestamp": 1764496804,
        },
        {
            "email": "a@x.org",
            "event": "spamreport",
            "sg_event_id": "s1",
            "sg_message_id": "14c5d75ce93.f",
            "timestamp": 1764496805,
        },
        {
            "email": "a@x.org",
            "event": "group_unsubscribe",
            "asm_group_id": 1,
            "sg_event_id": "u1",
            "sg_message_id": "14c5d75ce93.f",
            "timestamp": 1764496806,
        },
    ]
    found = sendgrid(json.dumps(events).encode() + b"\r\n")
    assert [(e.event_id, e.kind, e.bounce_type) for e in found] == [
        ("d1", "delivered", None),
        ("b1", "bounced", "hard"),
        ("b2", "bounced", "soft"),
        ("c1", "clicked", None),
        ("s1", "complained", None),
        ("u1", "unsubscribed", None),
    ]
    assert {e.provider_message_id for e in found} == {"14c5d75ce93"}
    assert found[3].url == "https://example.org"


@pytest.mark.parametrize(
    ("record", "kind", "bounce"),
    [
        (
            {"RecordType": "Delivery", "DeliveredAt": "2016-04-27T16:28:50.3963933-04:00"},
            "delivered",
            None,
        ),
        (
            {
                "RecordType": "Bounce",
                "Type": "HardBounce",
                "TypeCode": 1,
                "BouncedAt": "2026-11-30T10:00:00Z",
            },
            "bounced",
            "hard",
        ),
        (
            {
                "RecordType": "Bounce",
                "Type": "SoftBounce",
                "TypeCode": 4096,
                "BouncedAt": "2026-11-30T10:00:00Z",
            },
            "bounced",
            "soft",
        ),
        (
            {
                "RecordType": "Bounce",
                "Type": "Unsubscribe",
                "TypeCode": 16,
                "BouncedAt": "2026-11-30T10:00:00Z",
            },
            "unsubscribed",
            None,
        ),
        (
            {"RecordType": "SpamComplaint", "TypeCode": 512, "BouncedAt": "2026-11-30T10:00:00Z"},
            "complained",
            None,
        ),
        (
            {"RecordType": "Open", "FirstOpen": True, "ReceivedAt": "2026-11-30T10:00:00Z"},
            "opened",
            None,
        ),
        (
            {
                "RecordType": "Click",
                "OriginalLink": "https://example.org",
                "ReceivedAt": "2026-11-30T10:00:00Z",
            },
            "clicked",
            None,
        ),
        (
            {
                "RecordType": "SubscriptionChange",
                "SuppressSending": True,
                "SuppressionReason": "HardBounce",
                "ChangedAt": "2026-11-30T10:00:00Z",
            },
            "unsubscribed",
            None,
        ),
    ],
)
def test_postmark(record: dict[str, object], kind: str, bounce: str | None) -> None:
    [event] = postmark(
        body(
            {**record, "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Recipient": "A@X.org"}
        )
    )
    assert (event.kind, event.bounce_type, event.provider_message_id, event.recipient) == (
        kind,
        bounce,
        "883953f4-6105-42a2-a16a-77a8eac79483",
        "a@x.org",
    )
    assert len(event.event_id) == 64  # no id from Postmark: a digest of the record's identity


def test_postmark_seven_fractional_digits_and_offset() -> None:
    [event] = postmark(
        body(
            {
                "RecordType": "Delivery",
                "MessageID": "m",
                "Recipient": "a@x.org",
                "DeliveredAt": "2016-04-27T16:28:50.3963933-04:00",
            }
        )
    )
    assert event.occurred_at == datetime(2016, 4, 27, 20, 28, 50, 396393, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "kind", "bounce"),
    [
        ({"event": "delivered"}, "delivered", None),
        ({"event": "failed", "severity": "permanent", "reason": "bounce"}, "bounced", "hard"),
        ({"event": "failed", "severity": "temporary", "reason": "greylisted"}, "deferred", None),
        ({"event": "opened"}, "opened", None),
        ({"event": "clicked", "url": "https://example.org"}, "clicked", None),
        ({"event": "complained"}, "complained", None),
        ({"event": "unsubscribed"}, "unsubscribed", None),
    ],
)
def test_mailgun(data: dict[str, object], kind: str, bounce: str | None) -> None:
    document = {
        "signature": {"timestamp": "1764496800", "token": "tok-1", "signature": "ab"},
        "event-data": {
            **data,
            "id": "day-unique",
            "timestamp": 1764496800.123,
            "recipient": "A@X.org",
            "message": {"headers": {"message-id": "20261130100000.1.ABC@mg.example.org"}},
        },
    }
    [event] = mailgun(body(document))
    # the event's own id, for tracing; the signature's token is made anew for each delivery
    assert (event.kind, event.bounce_type, event.event_id) == (kind, bounce, "day-unique")
    assert event.provider_message_id == "20261130100000.1.ABC@mg.example.org"


def test_the_content_key_ignores_what_a_providers_retry_changes() -> None:
    """Issue 18: SendGrid's sg_event_id and Mailgun's signature change on a retry; the key
    does not. The event's time, kind, recipient, a click's link and a bounce's reason do."""
    sg = {
        "email": "a@x.org",
        "event": "open",
        "sg_event_id": "first",
        "sg_message_id": "Q1.filter0001.1",
        "timestamp": 1764496800,
    }
    [first] = sendgrid(body([sg]))
    [again] = sendgrid(body([{**sg, "sg_event_id": "second"}]))
    assert first.event_id != again.event_id and first.content_key == again.content_key
    for change in (
        {"timestamp": 1764496801},
        {"email": "b@x.org"},
        {"event": "click"},
        {"sg_message_id": "Q2.filter0001.1"},
    ):
        [other] = sendgrid(body([{**sg, **change}]))
        assert other.content_key != first.content_key, change

    def click(url: str, token: str, stamp: str) -> dict[str, object]:
        return {
            "signature": {"timestamp": stamp, "token": token, "signature": "ab"},
            "event-data": {
                "id": "day-unique",
                "event": "clicked",
                "url": url,
                "timestamp": 1764496800.123456,
                "recipient": "a@x.org",
                "message": {"headers": {"message-id": "m1@mg.example.org"}},
            },
        }

    [mg] = mailgun(body(click("https://l/1", "tok-1", "1764496800")))
    [resigned] = mailgun(body(click("https://l/1", "tok-2", "1764500400")))
    [elsewhere] = mailgun(body(click("https://l/2", "tok-3", "1764500400")))
    assert mg.content_key == resigned.content_key != elsewhere.content_key
    assert first.content_key != mg.content_key


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (resend, b"[]"),
        (sendgrid, b"{}"),
        (postmark, b"[]"),
        (mailgun, b'{"event-data": 1}'),
        (sendgrid, b"\xff"),
    ],
)
def test_malformed_bodies_raise_a_named_error(parse: object, raw: bytes) -> None:
    with pytest.raises(InvalidEmailWebhook):
        if parse is resend:
            resend(raw, "m")
        else:
            parse(raw)  # type: ignore[operator]


def test_message_ids_without_brackets_where_the_provider_sends_them() -> None:
    [from_resend] = resend(
        body(
            {
                "type": "email.delivered",
                "created_at": "2026-11-30T10:00:00Z",
                "data": {
                    "email_id": "e1",
                    "message_id": "<r1@zoomstream.local>",
                    "to": ["a@x.org"],
                },
            }
        ),
        "msg_1",
    )
    [from_sendgrid] = sendgrid(
        body(
            [
                {
                    "email": "a@x.org",
                    "event": "delivered",
                    "sg_event_id": "d1",
                    "sg_message_id": "q1.filter0001",
                    "smtp-id": "<r1@zoomstream.local>",
                    "timestamp": 1764496801,
                }
            ]
        )
    )
    [from_mailgun] = mailgun(
        body(
            {
                "signature": {"token": "t1", "timestamp": "1764496800", "signature": "s"},
                "event-data": {
                    "event": "delivered",
                    "timestamp": 1764496801.5,
                    "recipient": "a@x.org",
                    "message": {"headers": {"message-id": "r1@zoomstream.local"}},
                },
            }
        )
    )
    assert {e.message_id for e in (from_resend, from_sendgrid, from_mailgun)} == {
        "r1@zoomstream.local"
    }
    assert from_sendgrid.provider_message_id == "q1"
