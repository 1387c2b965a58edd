from datetime import UTC, datetime

import pytest

from schemas import InvalidZoomEvent, parse_zoom_event
from streams.webhooks.routing import ROUTES
from zoomstream.samples import dumps, meeting_object, participant, recording_object, zoom_event

JOINED = datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC)

MEETING_LIKE = [
    "meeting.started",
    "meeting.ended",
    "webinar.started",
    "webinar.ended",
]
PARTICIPANT_EVENTS = [
    "meeting.participant_joined",
    "meeting.participant_left",
    "webinar.participant_joined",
    "webinar.participant_left",
]


@pytest.mark.parametrize("name", MEETING_LIKE)
def test_meeting_events_parse(name: str) -> None:
    event = parse_zoom_event(
        dumps(
            zoom_event(
                name, meeting_object("86431910364", end_time="2026-11-30T10:01:00Z"), 1739923528123
            )
        )
    )
    assert event.event == name
    assert event.meeting_id == "86431910364"
    assert event.event_ts == datetime(2025, 2, 19, 0, 5, 28, 123000, tzinfo=UTC)
    meeting = event.meeting
    assert meeting.end_time == datetime(2026, 11, 30, 10, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", PARTICIPANT_EVENTS)
def test_participant_events_parse_with_guest_blanks_as_none(name: str) -> None:
    obj = meeting_object(participant=participant(3, JOINED, guest=True, left=JOINED))
    meeting = parse_zoom_event(dumps(zoom_event(name, obj, 1))).meeting
    assert meeting.participant is not None
    assert meeting.participant.email is None
    assert meeting.participant.id is None
    assert meeting.participant.registrant_id is None
    assert meeting.participant.join_time == JOINED
    assert meeting.participant.user_name == "Participant 3 Šimonek"


def test_waiting_room_event_carries_date_time() -> None:
    person = {
        "user_id": 16778240,
        "user_name": "Guest",
        "id": "",
        "date_time": "2026-11-30T08:59:00Z",
    }
    event = parse_zoom_event(
        dumps(
            zoom_event(
                "meeting.participant_joined_waiting_room", meeting_object(participant=person)
            )
        )
    )
    meeting = event.meeting
    assert meeting.participant is not None
    assert meeting.participant.user_id == "16778240"
    assert meeting.participant.date_time == datetime(2026, 11, 30, 8, 59, tzinfo=UTC)


@pytest.mark.parametrize("registrant_id", [None, "", "absent"])
def test_registrant_id_null_empty_or_missing_is_none(registrant_id: str | None) -> None:
    person = participant(1, JOINED)
    if registrant_id == "absent":
        del person["registrant_id"]
    else:
        person["registrant_id"] = registrant_id
    meeting = parse_zoom_event(
        dumps(zoom_event("meeting.participant_left", meeting_object(participant=person)))
    ).meeting
    assert meeting.participant is not None and meeting.participant.registrant_id is None


@pytest.mark.parametrize("name", sorted(t for t, r in ROUTES.items() if r == "recording"))
def test_recording_events_parse_with_numeric_meeting_id(name: str) -> None:
    body = zoom_event(name, recording_object(85392858403), 1739923528000, download_token="tok")
    event = parse_zoom_event(dumps(body))
    assert event.meeting_id == "85392858403"
    recording = event.recording
    assert recording.id == "85392858403"
    timeline = [f for f in recording.recording_files if f.file_type == "TIMELINE"]
    assert timeline and timeline[0].play_url is None
    assert event.download_token == "tok"


@pytest.mark.parametrize(
    ("raw_id", "expected"),
    [
        ("86431910364", "86431910364"),
        (86431910364, "86431910364"),
        (85123456789.0, "85123456789"),
        ("", None),
        (None, None),
    ],
)
def test_meeting_id_is_normalised_to_text(raw_id: object, expected: str | None) -> None:
    event = parse_zoom_event(
        dumps({"event": "meeting.started", "payload": {"object": {"id": raw_id}}})
    )
    assert event.meeting_id == expected


def test_event_ts_may_be_absent_and_key_order_may_vary() -> None:
    event = parse_zoom_event(
        b'{"payload":{"account_id":"a","object":{"id":"1","uuid":"u"}},"event":"meeting.ended"}'
    )
    assert event.event_ts is None
    assert event.meeting_uuid == "u"


def test_unknown_fields_and_unknown_events_are_accepted() -> None:
    event = parse_zoom_event(
        b'{"event":"meeting.sharing_started","brand_new":1,"payload":{"object":{"id":"9"}}}'
    )
    assert event.event == "meeting.sharing_started"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"payload":{}}',
        b'{"event":""}',
        b'{"event":5}',
        b'{"event":"x","event_ts":true}',
        b'{"event":"x","payload":[]}',
    ],
)
def test_non_webhooks_raise_a_named_error(body: bytes) -> None:
    with pytest.raises(InvalidZoomEvent):
        parse_zoom_event(body)
