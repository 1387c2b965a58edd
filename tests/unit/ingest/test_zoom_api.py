"""The Zoom API client's pure parts: Zoom's UUID encoding rule, what is reported, Retry-After,
the settings that turn it on, and the answer's model."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from ingest.zoom_api import meeting_path_segment, retry_after_seconds, without_query, zoom_client
from schemas.settings import Settings
from schemas.zoom_api import AccessToken, MeetingRecordings


@pytest.mark.parametrize(
    ("meeting_uuid", "segment"),
    [
        ("4444AAAiAAAAAiAiAiiAii==", "4444AAAiAAAAAiAiAiiAii%3D%3D"),
        ("ab/cd+EF==", "ab%2Fcd%2BEF%3D%3D"),  # one slash inside: once
        ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),
        ("Ab//cd==", "Ab%252F%252Fcd%253D%253D"),
        ("85746065432", "85746065432"),
    ],
)
def test_a_uuid_is_double_encoded_only_when_it_begins_with_a_slash_or_holds_two(
    meeting_uuid: str, segment: str
) -> None:
    assert meeting_path_segment(meeting_uuid) == segment


def test_a_reported_url_has_no_query() -> None:
    url = "https://zoom.us/oauth/token?grant_type=account_credentials&account_id=abc#x"
    assert without_query(url) == "https://zoom.us/oauth/token"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        (" 2.5 ", 2.5),
        (None, None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
        ("-3", None),
    ],
)
def test_retry_after_counts_seconds_only(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def zoom_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_the_client_is_off_without_credentials() -> None:
    assert zoom_client(zoom_settings()) is None


def test_the_client_is_on_with_all_three_credentials() -> None:
    settings = zoom_settings(zoom_account_id="a", zoom_client_id="c", zoom_client_secret="s")
    assert settings.zoom_api_enabled()
    assert settings.zoom_api_base_url == "https://api.zoom.us/v2"
    assert settings.zoom_oauth_url == "https://zoom.us/oauth/token"


def test_some_credentials_without_the_others_are_refused_without_the_secret() -> None:
    with pytest.raises(ValidationError) as caught:
        zoom_settings(zoom_client_id="c", zoom_client_secret="the-secret-value")
    message = str(caught.value)
    assert "ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET set" in message
    assert "the-secret-value" not in message


def test_the_recordings_answer_keeps_what_the_client_reads_and_hides_the_download_token() -> None:
    answer = MeetingRecordings.model_validate_json(
        json.dumps(
            {
                "uuid": "/ajXp112QmuoKj4854875==",
                "id": 85746065432,
                "recording_files": [
                    {
                        "id": "f1",
                        "file_type": "MP4",
                        "file_extension": "MP4",
                        "file_size": 12,
                        "status": "completed",
                        "download_url": "https://example.zoom.us/rec/download/abc",
                        "play_url": "",
                        "recording_type": "shared_screen_with_speaker_view",
                        "deleted_time": "ignored",
                    }
                ],
                "download_access_token": "dl-secret",
                "auto_delete": True,
                "auto_delete_date": "2026-12-30",
                "unknown": {"kept": False},
            }
        )
    )
    [file] = answer.recording_files
    assert (answer.id, file.file_type, file.file_size, file.play_url) == (
        "85746065432",
        "MP4",
        12,
        None,
    )
    assert (answer.auto_delete, answer.auto_delete_date) == (True, date(2026, 12, 30))
    assert answer.download_access_token is not None
    assert answer.download_access_token.get_secret_value() == "dl-secret"
    assert "dl-secret" not in repr(answer)


def test_a_token_answer_is_zoom_documented_shape() -> None:
    token = AccessToken.model_validate(
        {"access_token": "eyJ.x", "token_type": "bearer", "expires_in": 3600, "scope": "a b"}
    )
    assert token.expires_in == 3600 and "eyJ.x" not in repr(token)
    with pytest.raises(ValidationError):
        AccessToken.model_validate({"access_token": "eyJ.x", "expires_in": 0})
