import pytest
from pydantic import ValidationError

from schemas.settings import Settings


def test_defaults_cover_zooms_last_retry_and_dedup_covers_tolerance() -> None:
    settings = Settings(_env_file=None)
    assert settings.signature_tolerance_seconds >= (5 + 20 + 60) * 60
    assert (
        settings.dedup_window_seconds
        >= settings.signature_tolerance_seconds + settings.signature_future_skew_seconds
    )


def test_a_dedup_window_shorter_than_the_tolerance_is_refused() -> None:
    with pytest.raises(ValidationError, match="DEDUP_WINDOW_SECONDS"):
        Settings(_env_file=None, dedup_window_seconds=60)


def test_topic_prefix_isolates_topics() -> None:
    assert (
        Settings(_env_file=None, topic_prefix="t1.").topic("zoom.webhooks.raw")
        == "t1.zoom.webhooks.raw"
    )
