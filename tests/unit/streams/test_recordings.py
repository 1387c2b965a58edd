from datetime import UTC, datetime, timedelta

import pytest

from schemas import ZoomEvent, parse_zoom_event
from streams.recordings.rules import (
    RecordingEventError,
    file_type,
    recording_status,
    to_recording,
    transcript_files,
)
from zoomstream.samples import dumps, recording_object, zoom_event

AT = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
START = datetime(2026, 11, 16, 16, 59, 57, tzinfo=UTC)


def completed(obj: dict[str, object], token: str = "tok-1") -> ZoomEvent:
    return parse_zoom_event(dumps(zoom_event("recording.completed", obj, 1, download_token=token)))


def test_times_come_from_the_files_not_an_end_time_field() -> None:
    obj = recording_object(85392858403, "occ==", START)
    obj["start_time"] = "2023-11-03T10:00:00Z"  # a recurring series' start, not this occurrence's
    record = to_recording(completed(obj), AT)
    assert record.recording_start == START
    assert record.recording_end == START + timedelta(minutes=67, seconds=8)
    assert record.duration_seconds == 67 * 60 + 8
    assert record.zoom_meeting_id == "85392858403"
    assert record.zoom_recording_id == "occ=="
    assert record.download_token_expires_at == AT + timedelta(hours=24)
    assert record.total_size_bytes == 529_000_000


def test_without_file_times_the_start_and_duration_are_used() -> None:
    obj = recording_object(1, "u==", START)
    for f in obj["recording_files"]:
        del f["recording_start"], f["recording_end"]
    obj["start_time"] = "2026-11-16T16:59:57Z"
    record = to_recording(completed(obj), AT)
    assert record.recording_end - record.recording_start == timedelta(minutes=67)


def test_timeline_without_play_url_and_non_ascii_topic() -> None:
    obj = recording_object(1, "u==", START)
    obj["topic"] = "Kardiologie: Šimonek & Žofie — 心臓"
    record = to_recording(completed(obj), AT)
    timeline = next(f for f in record.files if f.file_type == "timeline")
    assert timeline.play_url == ""
    assert record.topic == "Kardiologie: Šimonek & Žofie — 心臓"


@pytest.mark.parametrize(
    ("zoom", "ours"),
    [
        ("MP4", "video"),
        ("M4A", "audio"),
        ("CHAT", "chat"),
        ("TRANSCRIPT", "transcript"),
        ("CC", "cc"),
        ("TIMELINE", "timeline"),
        ("SUMMARY", "summary"),
        ("CSV", "csv"),
        ("SUMMARY_NEXT_STEPS", "summary_next_steps"),
        (None, "unknown"),
    ],
)
def test_file_types_keep_what_zoom_said_never_video_for_unknown(
    zoom: str | None, ours: str
) -> None:
    assert file_type(zoom) == ours


def test_processing_files_stay_processing() -> None:
    obj = recording_object(1, "u==", START)
    obj["recording_files"][0]["status"] = "processing"
    record = to_recording(completed(obj), AT)
    assert record.files[0].processing_status == "processing"


@pytest.mark.parametrize(
    ("lifecycle", "files", "status"),
    [
        ("active", [], "processing"),
        ("active", [("video", "processing"), ("timeline", "completed")], "processing"),
        ("active", [("video", "completed"), ("transcript", "processing")], "available"),
        ("active", [("chat", "completed")], "available"),
        # issue 16.4: a finished video is enough; audio or a second view still processing
        ("active", [("video", "completed"), ("audio", "processing")], "available"),
        ("active", [("video", "processing"), ("video", "completed")], "available"),
        ("active", [("video", "processing"), ("audio", "completed")], "processing"),
        ("active", [("audio", "completed"), ("chat", "processing")], "available"),
        ("active", [("audio", "processing")], "processing"),
        ("active", [("chat", "completed"), ("timeline", "processing")], "processing"),
        ("trashed", [("video", "completed")], "trashed"),
        ("deleted", [("video", "completed")], "deleted"),
    ],
)
def test_status_rule(lifecycle: str, files: list[tuple[str, str]], status: str) -> None:
    assert recording_status(lifecycle, files, None, AT) == status  # type: ignore[arg-type]
    # Zoom's deletion date: expired from then on, unless trashed or deleted first
    past, future = AT - timedelta(seconds=1), AT + timedelta(days=1)
    expired = status if lifecycle != "active" else "expired"
    assert recording_status(lifecycle, files, AT, AT) == expired  # type: ignore[arg-type]
    assert recording_status(lifecycle, files, past, AT) == expired  # type: ignore[arg-type]
    assert recording_status(lifecycle, files, future, AT) == status  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expires"),
    [
        (
            {"auto_delete": True, "auto_delete_date": "2027-01-14"},
            datetime(2027, 1, 14, tzinfo=UTC),
        ),
        ({"auto_delete_date": "2027-01-14"}, datetime(2027, 1, 14, tzinfo=UTC)),
        ({"auto_delete": False, "auto_delete_date": "2027-01-14"}, None),
        ({"auto_delete": True}, None),
        ({"auto_delete": True, "auto_delete_date": ""}, None),
        ({}, None),
    ],
)
def test_zoom_expiry_is_the_start_of_the_auto_delete_date(
    changes: dict[str, object], expires: datetime | None
) -> None:
    obj = {**recording_object(1, "u==", START), **changes}
    event = parse_zoom_event(dumps(zoom_event("recording.completed", obj, 1)))
    assert to_recording(event, AT).zoom_expires_at == expires


def test_transcript_event_brings_only_transcript_and_cc_files() -> None:
    obj = recording_object(1, "u==", START)
    obj["recording_files"].append(
        {"id": "tr-1", "file_type": "TRANSCRIPT", "file_extension": "VTT", "status": "completed"}
    )
    event = parse_zoom_event(dumps(zoom_event("recording.transcript_completed", obj, 1)))
    assert [f.zoom_file_id for f in transcript_files(event, AT)] == ["tr-1"]


def test_a_recording_without_uuid_is_an_error() -> None:
    obj = recording_object(1, "u==", START)
    del obj["uuid"]
    with pytest.raises(RecordingEventError):
        to_recording(completed(obj), AT)
