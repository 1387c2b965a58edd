"""The raw topic's value as ingest writes it per request: the same bytes as the documented
model, headers kept in one pass, and the head of the body read as ZoomEvent would read it."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.envelope import build_envelope, envelope_value, kept_headers
from schemas import (
    InvalidZoomEvent,
    RawWebhookEnvelope,
    parse_zoom_event,
    parse_zoom_head,
)
from zoomstream.samples import dumps, meeting_object, zoom_event

RECEIVED = datetime(2026, 12, 2, 9, 30, 1, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "headers", "received_at"),
    [
        (b'{"event":"meeting.started"}', {}, RECEIVED),
        (
            dumps(zoom_event("meeting.ended", meeting_object(topic='Šimon\'s "EKG" \\ \t 100%'))),
            {"x-zm-signature": "v0=ab", "user-agent": "Zoom Marketplace/1.0a é"},
            RECEIVED.replace(microsecond=0),
        ),
        (b"\x00\xff not even JSON", {"content-type": "text/plain"}, RECEIVED),
        (b"{}", {}, datetime(2026, 12, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))),
    ],
)
def test_the_value_is_byte_for_byte_the_models_json(
    body: bytes, headers: dict[str, str], received_at: datetime
) -> None:
    webhook_id, value = envelope_value(body, headers, received_at)
    model = RawWebhookEnvelope(
        webhook_id=webhook_id, received_at=received_at, headers=headers, body=body
    )
    assert value == model.model_dump_json().encode()
    assert build_envelope(body, headers, received_at) == model


def test_secret_headers_stay_out_and_a_repeated_one_is_the_first() -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"authorization", b"verification-token"),
        (b"x-zm-signature", b"v0=first"),
        (b"cookie", b"a=b"),
        (b"x-zm-signature", b"v0=second"),
        (b"x-forwarded-for", b"10.0.0.1"),
    ]
    assert kept_headers(raw) == {
        "content-type": "application/json",
        "x-zm-signature": "v0=first",
        "x-forwarded-for": "10.0.0.1",
    }
    _id, value = envelope_value(b"{}", {"Authorization": "x", "X-Zm-Signature": "v0=a"}, RECEIVED)
    assert json.loads(value)["headers"] == {"x-zm-signature": "v0=a"}


BODIES = [
    b'{"event":"meeting.started","payload":{"object":{"id":86431910364}}}',
    b'{"event":"meeting.started","payload":{"object":{"id":"86431910364","uuid":"a=="}}}',
    b'{"event":"recording.completed","payload":{"object":{"id":"not a number"}}}',
    b'{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}',
    b'{"event":"endpoint.url_validation","payload":{"plainToken":""}}',
    b'{"event":"meeting.started"}',
    b'{"event":"meeting.started","payload":{}}',
    b'{"event":"x","payload":{"object":{"id":null,"participant":{"join_time":"nope"}}}}',
    b'{"event":"x","payload":{"object":{"id":1.5}}}',
    b'{"event":"x","payload":{"object":{"id":true}}}',
    b'{"event":""}',
    b'{"event":7}',
    b'{"payload":{}}',
    b'{"event":"x","payload":[]}',
    b'{"event":"x","payload":{"object":[]}}',
    b'{"event":"x","payload":{"object":null}}',
    b'{"event":"x","payload":{"plainToken":5}}',
    b"[]",
    b'"meeting.started"',
    b"{not json",
    b"\xff\xfe",
    b"",
]


@pytest.mark.parametrize("body", BODIES)
def test_the_head_reads_a_body_as_the_whole_event_does(body: bytes) -> None:
    try:
        full = parse_zoom_event(body)
    except InvalidZoomEvent:
        with pytest.raises(InvalidZoomEvent):
            parse_zoom_head(body)
        return
    head = parse_zoom_head(body)
    assert (head.event, head.meeting_id, head.payload.plainToken) == (
        full.event,
        full.meeting_id,
        full.payload.plainToken,
    )


def test_what_only_the_worker_checks_passes_the_head() -> None:
    body = b'{"event":"meeting.started","event_ts":"soon","payload":{"account_id":[]}}'
    with pytest.raises(InvalidZoomEvent):
        parse_zoom_event(body)
    assert parse_zoom_head(body).event == "meeting.started"
