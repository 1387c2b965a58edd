"""Which stored links work (ingest.recording_api.links): a download URL only with a token that
outlives the margin; our copy, Zoom's player and its share page always."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.recording_api.links import LINK_MARGIN, Link, stored_link

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DOWNLOAD = "https://zoom.us/rec/webhook_download/x"


def file(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "file_type": "transcript",
        "storage_url": "",
        "play_url": "",
        "share_url": "",
        "download_url": DOWNLOAD,
        "download_token": "tok",
        "download_token_expires_at": NOW + timedelta(hours=1),
    }
    return {**row, **fields}


def test_a_download_link_is_served_with_its_token_while_it_outlives_the_margin() -> None:
    assert stored_link(file(), NOW) == Link(DOWNLOAD, "tok", NOW + timedelta(hours=1))


@pytest.mark.parametrize(
    "expires",
    [NOW - timedelta(minutes=1), NOW + LINK_MARGIN, NOW + LINK_MARGIN - timedelta(seconds=1)],
)
def test_a_download_link_whose_token_ends_within_the_margin_is_not_served(
    expires: datetime,
) -> None:
    assert stored_link(file(download_token_expires_at=expires), NOW) is None


def test_a_download_link_without_a_token_is_not_served() -> None:
    assert stored_link(file(download_token="", download_token_expires_at=None), NOW) is None


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"storage_url": "https://cdn.example.org/a.mp4"}, "https://cdn.example.org/a.mp4"),
        (
            {"file_type": "video", "play_url": "https://zoom.us/rec/play/p"},
            "https://zoom.us/rec/play/p",
        ),
        (
            {"download_url": "", "share_url": "https://zoom.us/rec/share/s"},
            "https://zoom.us/rec/share/s",
        ),
    ],
)
def test_links_that_need_no_token_are_served_after_it_expired(
    fields: dict[str, Any], url: str
) -> None:
    link = stored_link(file(download_token_expires_at=NOW, **fields), NOW)
    assert link == Link(url, None, None)
