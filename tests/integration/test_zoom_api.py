"""The Zoom API client against a fake Zoom that is a real HTTP server (tests/integration/zoom_server.py):
token caching and refresh, Zoom's UUID encoding rule, retries, timeouts, and no secret anywhere."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ingest.zoom_api import (
    ApiCall,
    BadAnswer,
    NotFound,
    RateLimited,
    Subject,
    Unauthorized,
    Unavailable,
    ZoomApiError,
    ZoomClient,
)
from schemas.settings import Settings
from tests.integration.zoom_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    RECORDINGS,
    TOKEN,
    FakeZoom,
    Fault,
    running_fake_zoom,
)

pytestmark = pytest.mark.integration

UUID = "4444AAAiAAAAAiAiAiiAii=="
ATTEMPTS = 3
READ_TIMEOUT = 0.5


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with running_fake_zoom() as server:
        server.add_recording(UUID)
        yield server


def client_settings(zoom: FakeZoom, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        **zoom.client_settings(),
        "zoom_api_read_timeout_seconds": READ_TIMEOUT,
        "zoom_api_connect_timeout_seconds": 1.0,
        "zoom_api_attempts": ATTEMPTS,
        "zoom_api_backoff_seconds": 0.01,
        **overrides,
    }
    return Settings(_env_file=None, **values)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[ApiCall] = []

    def __call__(self, call: ApiCall) -> None:
        self.calls.append(call)

    def of(self, operation: str) -> list[ApiCall]:
        return [call for call in self.calls if call.operation == operation]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_one_token_serves_many_calls(zoom: FakeZoom) -> None:
    async with ZoomClient(client_settings(zoom)) as client:
        for _ in range(5):
            answer = await client.meeting_recordings(UUID)
    assert answer.uuid == UUID
    assert [f.file_type for f in answer.recording_files] == ["MP4", "TRANSCRIPT"]
    assert (zoom.calls(TOKEN), zoom.calls(RECORDINGS)) == (1, 5)


async def test_concurrent_callers_share_one_token_fetch(zoom: FakeZoom) -> None:
    zoom.fail_next(TOKEN, Fault(delay_seconds=0.2))  # all 20 arrive while the fetch is out
    async with ZoomClient(client_settings(zoom)) as client:
        answers = await asyncio.gather(*(client.meeting_recordings(UUID) for _ in range(20)))
    assert {a.uuid for a in answers} == {UUID}
    assert (zoom.calls(TOKEN), zoom.calls(RECORDINGS)) == (1, 20)


async def test_a_token_is_fetched_again_shortly_before_it_expires(zoom: FakeZoom) -> None:
    clock = Clock()
    async with ZoomClient(client_settings(zoom), clock=clock) as client:
        await client.meeting_recordings(UUID)
        clock.now += 3600 - 61  # Zoom's hour, less the margin, not yet past
        await client.meeting_recordings(UUID)
        assert zoom.calls(TOKEN) == 1
        clock.now += 2
        await client.meeting_recordings(UUID)
    assert zoom.calls(TOKEN) == 2


async def test_a_revoked_token_is_replaced_once_and_the_call_goes_through(zoom: FakeZoom) -> None:
    async with ZoomClient(client_settings(zoom)) as client:
        await client.meeting_recordings(UUID)
        zoom.revoke_tokens()
        answer = await client.meeting_recordings(UUID)
    assert answer.uuid == UUID
    assert (zoom.calls(TOKEN), zoom.calls(RECORDINGS)) == (2, 3)


async def test_a_401_to_a_fresh_token_is_unauthorized(zoom: FakeZoom) -> None:
    zoom.fail_next(RECORDINGS, Fault(status=401), times=5)
    async with ZoomClient(client_settings(zoom)) as client:
        with pytest.raises(Unauthorized):
            await client.meeting_recordings(UUID)
    assert (zoom.calls(TOKEN), zoom.calls(RECORDINGS)) == (2, 2)


async def test_wrong_client_credentials_are_unauthorized_without_retries(zoom: FakeZoom) -> None:
    settings = client_settings(zoom, zoom_client_secret="not-the-secret")
    async with ZoomClient(settings) as client:
        with pytest.raises(Unauthorized):
            await client.meeting_recordings(UUID)
    assert (zoom.calls(TOKEN), zoom.calls(RECORDINGS)) == (1, 0)


async def test_a_deleted_recording_is_not_found_without_retries(zoom: FakeZoom) -> None:
    async with ZoomClient(client_settings(zoom)) as client:
        with pytest.raises(NotFound):
            await client.meeting_recordings("never-recorded==")
    assert zoom.calls(RECORDINGS) == 1


async def test_429_waits_for_its_retry_after_then_succeeds(zoom: FakeZoom) -> None:
    zoom.fail_next(RECORDINGS, Fault(status=429, headers={"Retry-After": "1"}))
    observed = Recorder()
    async with ZoomClient(client_settings(zoom), observed) as client:
        started = time.perf_counter()
        answer = await client.meeting_recordings(UUID)
        waited = time.perf_counter() - started
    assert answer.uuid == UUID
    assert zoom.calls(RECORDINGS) == 2
    assert [c.status_code for c in observed.of("get_meeting_recordings")] == [429, 200]
    assert waited >= 0.9  # the backoff alone is 0.01 s: Retry-After was honoured


async def test_429_on_every_attempt_is_rate_limited_with_its_retry_after(zoom: FakeZoom) -> None:
    zoom.fail_next(RECORDINGS, Fault(status=429, headers={"Retry-After": "0"}), times=ATTEMPTS)
    async with ZoomClient(client_settings(zoom)) as client:
        with pytest.raises(RateLimited) as caught:
            await client.meeting_recordings(UUID)
    assert caught.value.retry_after == 0
    assert zoom.calls(RECORDINGS) == ATTEMPTS


async def test_a_retry_after_past_the_bound_fails_at_once(zoom: FakeZoom) -> None:
    zoom.fail_next(RECORDINGS, Fault(status=429, headers={"Retry-After": "120"}))
    async with ZoomClient(client_settings(zoom)) as client:
        with pytest.raises(RateLimited) as caught:
            await client.meeting_recordings(UUID)
    assert caught.value.retry_after == 120
    assert zoom.calls(RECORDINGS) == 1


async def test_5xx_twice_then_200_succeeds_with_three_attempts_observed(zoom: FakeZoom) -> None:
    zoom.fail_next(RECORDINGS, Fault(status=500))
    zoom.fail_next(RECORDINGS, Fault(status=502))
    observed = Recorder()
    async with ZoomClient(client_settings(zoom), observed) as client:
        answer = await client.meeting_recordings(UUID)
    assert answer.uuid == UUID
    calls = observed.of("get_meeting_recordings")
    assert [(c.attempt, c.status_code, c.error) for c in calls] == [
        (1, 500, "HTTP 500"),
        (2, 502, "HTTP 502"),
        (3, 200, None),
    ]
    assert {(c.service, c.method) for c in calls} == {("zoom", "GET")}
    assert calls[0].url == f"{zoom.api_base_url}/meetings/4444AAAiAAAAAiAiAiiAii%3D%3D/recordings"
    assert calls[2].tracking_id is not None and calls[2].tracking_id.startswith("v=2.0;")
    assert all(c.duration_seconds >= 0 for c in calls)
    [token_call] = observed.of("oauth_token")
    assert (token_call.method, token_call.status_code, token_call.url) == (
        "POST",
        200,
        zoom.oauth_url,
    )


async def test_each_attempt_carries_its_subject_and_a_token_call_none(zoom: FakeZoom) -> None:
    zoom.fail_next(RECORDINGS, Fault(status=503, headers={"Retry-After": "0"}))
    observed = Recorder()
    async with ZoomClient(client_settings(zoom), observed) as client:
        await client.meeting_recordings(UUID, recording_id="recording-key")
        await client.meeting_recordings(UUID)
    assert [c.subject for c in observed.of("get_meeting_recordings")] == [
        Subject(UUID, "recording-key"),
        Subject(UUID, "recording-key"),
        Subject(UUID, None),
    ]
    assert [c.subject for c in observed.of("oauth_token")] == [Subject(None, None)]


async def test_a_slow_answer_times_out_and_is_retried_until_unavailable(zoom: FakeZoom) -> None:
    zoom.fail_next(RECORDINGS, Fault(delay_seconds=READ_TIMEOUT * 3), times=ATTEMPTS)
    observed = Recorder()
    async with ZoomClient(client_settings(zoom), observed) as client:
        with pytest.raises(Unavailable) as caught:
            await client.meeting_recordings(UUID)
    assert caught.value.status is None
    assert zoom.calls(RECORDINGS) == ATTEMPTS
    calls = observed.of("get_meeting_recordings")
    assert [(c.attempt, c.status_code) for c in calls] == [(n, None) for n in (1, 2, 3)]
    assert all(c.error == "ReadTimeout" for c in calls)


async def test_5xx_on_every_attempt_is_unavailable(zoom: FakeZoom) -> None:
    zoom.fail_next(RECORDINGS, Fault(status=503), times=ATTEMPTS)
    async with ZoomClient(client_settings(zoom)) as client:
        with pytest.raises(Unavailable) as caught:
            await client.meeting_recordings(UUID)
    assert caught.value.status == 503
    assert zoom.calls(RECORDINGS) == ATTEMPTS


async def test_a_body_that_is_not_json_is_a_bad_answer(zoom: FakeZoom) -> None:
    zoom.fail_next(RECORDINGS, Fault(bad_json=True))
    async with ZoomClient(client_settings(zoom)) as client:
        with pytest.raises(BadAnswer):
            await client.meeting_recordings(UUID)
    assert zoom.calls(RECORDINGS) == 1


@pytest.mark.parametrize(
    ("meeting_uuid", "segment"),
    [
        ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),
        ("Ab//cdEF+gh==", "Ab%252F%252FcdEF%252Bgh%253D%253D"),
        ("ab/cd+EF==", "ab%2Fcd%2BEF%3D%3D"),
    ],
)
async def test_a_uuid_is_encoded_the_way_zoom_decodes_it(
    zoom: FakeZoom, meeting_uuid: str, segment: str
) -> None:
    zoom.add_recording(meeting_uuid)
    async with ZoomClient(client_settings(zoom)) as client:
        answer = await client.meeting_recordings(meeting_uuid)
    assert answer.uuid == meeting_uuid
    assert zoom.received_segments == [segment]


async def test_no_secret_in_logs_observer_records_or_errors(
    zoom: FakeZoom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    zoom.fail_next(RECORDINGS, Fault(status=503, headers={"Retry-After": "0"}))
    zoom.fail_next(TOKEN, Fault(status=500))
    observed = Recorder()
    errors: list[str] = []
    async with ZoomClient(client_settings(zoom), observed) as client:
        answer = await client.meeting_recordings(UUID, with_download_token=True)
        zoom.revoke_tokens()
        await client.meeting_recordings(UUID, with_download_token=True)
        for fault in (Fault(status=401), Fault(status=401), Fault(bad_json=True)):
            zoom.fail_next(RECORDINGS, fault, times=2 if fault.status == 401 else 1)
            try:
                await client.meeting_recordings(UUID, with_download_token=True)
            except ZoomApiError as exc:
                errors.append(f"{exc!r} {exc}")
    download_token = answer.download_access_token
    assert download_token is not None
    secrets = [
        CLIENT_SECRET,
        base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
        download_token.get_secret_value(),
        *zoom.issued_tokens,
    ]
    assert len(zoom.issued_tokens) >= 3 and len(errors) >= 2
    seen = "\n".join([caplog.text, *map(repr, observed.calls), *errors, repr(answer), str(answer)])
    assert "again in" in caplog.text  # the retries were logged, so the search saw them
    assert [secret for secret in secrets if secret in seen] == []
