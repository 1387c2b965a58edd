"""The one routing table of the webhook path: each handled Zoom event type goes to one domain."""

from __future__ import annotations

from streams.attendance import EVENT_TYPES
from streams.recordings.handler import HANDLERS
from streams.webhooks.routing import ROUTES, route


def test_each_event_type_a_domain_handles_is_routed_to_it_alone() -> None:
    assert {t for t, r in ROUTES.items() if r == "attendance"} == EVENT_TYPES
    assert {t for t, r in ROUTES.items() if r == "recording"} == set(HANDLERS)
    assert route("meeting.participant_joined") == "attendance"
    assert route("webinar.ended") == "attendance"
    assert route("recording.transcript_completed") == "recording"


def test_an_event_type_no_domain_handles_has_no_route() -> None:
    assert route("meeting.sharing_started") is None
    assert route("endpoint.url_validation") is None
