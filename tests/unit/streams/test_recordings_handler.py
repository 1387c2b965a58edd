"""The recording handler's decisions (match, store, park, un-park), with the sink faked in dicts.

What the statements do on PostgreSQL is tests/integration/test_recordings.py's to prove."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg import AsyncConnection

from schemas import ZoomEvent, parse_zoom_event
from schemas.rows import FileRecord, Lifecycle, RecordingRecord
from sinks import recordings, webhook_log
from sinks.recordings import MatchedEvent
from streams.recordings import handler
from streams.webhooks.outcome import Outcome
from tests.unit.streams.fakes import NO_CONNECTION, replace
from zoomstream.samples import dumps, recording_object, zoom_event

MEETING = "85392858403"
OCCURRENCE = "occ-1=="
OTHER_OCCURRENCE = "occ-2=="
AT = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 10, 31, tzinfo=UTC)
PLATFORM_EVENT = MatchedEvent(
    7, "5b0c2f0e-2d5c-4c36-9d0b-6f1c8f0a7e21", auto_publish_recordings=True
)


class Recordings:
    """sinks.recordings and the parked rows of sinks.webhook_log, in dicts."""

    def __init__(self) -> None:
        self.events: dict[str, MatchedEvent] = {}
        """Platform events by Zoom meeting id."""
        self.matches: list[tuple[str, str]] = []
        self.ids: dict[str, int] = {}
        self.stored: dict[int, tuple[RecordingRecord, MatchedEvent]] = {}
        self.files: dict[int, dict[str, FileRecord]] = {}
        self.lifecycle_calls: list[tuple[int, Lifecycle, datetime]] = []
        self.parked_rows: dict[str, list[tuple[str, str, datetime]]] = {}
        self.completed: list[tuple[list[str], datetime]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Recordings:
        """Over the sink modules' functions, which the handler looks up at each call."""
        replace(
            monkeypatch,
            recordings,
            self,
            "match_event",
            "upsert_recording",
            "find_recording",
            "upsert_files",
            "set_lifecycle",
        )
        replace(monkeypatch, webhook_log, self, "parked", "complete_parked")
        return self

    def add_recording(self, zoom_recording_id: str = OCCURRENCE) -> int:
        self.ids[zoom_recording_id] = recording_id = 100 + len(self.ids)
        return recording_id

    def park(self, meeting_uuid: str, webhook_id: str, body: dict[str, Any], at: datetime) -> None:
        self.parked_rows.setdefault(meeting_uuid, []).append((webhook_id, dumps(body).decode(), at))

    async def match_event(
        self, conn: AsyncConnection, meeting_id: str, meeting_uuid: str
    ) -> MatchedEvent | None:
        self.matches.append((meeting_id, meeting_uuid))
        return self.events.get(meeting_id)

    async def upsert_recording(
        self, conn: AsyncConnection, record: RecordingRecord, event: MatchedEvent
    ) -> tuple[int, bool]:
        created = record.zoom_recording_id not in self.ids
        if created:
            self.add_recording(record.zoom_recording_id)
        recording_id = self.ids[record.zoom_recording_id]
        self.stored[recording_id] = (record, event)
        return recording_id, created

    async def find_recording(self, conn: AsyncConnection, zoom_recording_id: str) -> int | None:
        return self.ids.get(zoom_recording_id)

    async def upsert_files(
        self, conn: AsyncConnection, recording_id: int, files: Sequence[FileRecord]
    ) -> None:
        self.files.setdefault(recording_id, {}).update({f.zoom_file_id: f for f in files})

    async def set_lifecycle(
        self, conn: AsyncConnection, recording_id: int, lifecycle: Lifecycle, at: datetime
    ) -> None:
        self.lifecycle_calls.append((recording_id, lifecycle, at))

    async def parked(
        self, conn: AsyncConnection, meeting_uuid: str
    ) -> list[tuple[str, str, datetime]]:
        return list(self.parked_rows.get(meeting_uuid, []))

    async def complete_parked(
        self, conn: AsyncConnection, webhook_ids: Sequence[str], now: datetime
    ) -> None:
        self.completed.append((list(webhook_ids), now))
        for uuid, rows in self.parked_rows.items():
            self.parked_rows[uuid] = [row for row in rows if row[0] not in webhook_ids]


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch) -> Recordings:
    return Recordings().install(monkeypatch)


def transcript_files() -> list[dict[str, Any]]:
    base = {"recording_start": "2026-11-30T09:00:00Z", "recording_end": "2026-11-30T10:07:08Z"}
    return [
        {**base, "id": "file-mp4-1", "file_type": "MP4", "status": "completed"},
        {**base, "id": "file-transcript-1", "file_type": "TRANSCRIPT", "status": "completed"},
        {**base, "id": "file-cc-1", "file_type": "CC", "status": "completed"},
    ]


def body(event: str, uuid: str = OCCURRENCE, **obj: Any) -> dict[str, Any]:
    """A recording webhook of `MEETING`'s occurrence `uuid`."""
    if event == "recording.completed":
        return zoom_event(event, recording_object(int(MEETING), uuid), download_token="tok-1")
    return zoom_event(event, {"id": int(MEETING), "uuid": uuid, **obj})


def parsed(event: str, uuid: str = OCCURRENCE, **obj: Any) -> ZoomEvent:
    return parse_zoom_event(dumps(body(event, uuid, **obj)))


async def completed(uuid: str = OCCURRENCE) -> Outcome:
    return await handler.on_completed(NO_CONNECTION, parsed("recording.completed", uuid), AT, NOW)


async def follow_up(event: str, **obj: Any) -> Outcome:
    return await handler.on_follow_up(NO_CONNECTION, parsed(event, **obj), AT, NOW)


# recording.completed


async def test_a_recording_without_a_platform_event_is_skipped_with_the_reason(
    db: Recordings,
) -> None:
    assert await completed() == Outcome("skipped", f"no event found for meeting {MEETING}")
    assert db.matches == [(MEETING, OCCURRENCE)]
    assert (db.stored, db.files, db.completed) == ({}, {}, [])


async def test_a_matched_recording_is_stored_with_its_files_and_published(db: Recordings) -> None:
    db.events[MEETING] = PLATFORM_EVENT
    outcome = await completed()
    [recording_id] = db.stored
    assert outcome == Outcome("completed", records_changed=1 + 2, publish=frozenset({recording_id}))
    record, event = db.stored[recording_id]
    assert (record.zoom_recording_id, record.source_event_at, event) == (
        OCCURRENCE,
        AT,
        PLATFORM_EVENT,
    )
    assert sorted(db.files[recording_id]) == ["file-mp4-1", "file-timeline-1"]
    assert db.completed == [([], NOW)], "nothing was parked for it"


async def test_a_recording_applies_the_webhooks_parked_for_it_and_counts_them(
    db: Recordings,
) -> None:
    db.events[MEETING] = PLATFORM_EVENT
    transcript = body("recording.transcript_completed", recording_files=transcript_files())
    db.park(OCCURRENCE, "w-transcript", transcript, AT - timedelta(minutes=2))
    db.park(OCCURRENCE, "w-trashed", body("recording.trashed"), AT - timedelta(minutes=1))
    db.park(OTHER_OCCURRENCE, "w-other", body("recording.trashed", OTHER_OCCURRENCE), AT)

    outcome = await completed()

    [recording_id] = db.stored
    # the recording, its two files, the transcript and the caption, the trash
    assert outcome == Outcome(
        "completed", records_changed=1 + 2 + 2 + 1, publish=frozenset({recording_id})
    )
    assert sorted(db.files[recording_id]) == [
        "file-cc-1",
        "file-mp4-1",
        "file-timeline-1",
        "file-transcript-1",
    ]
    assert db.files[recording_id]["file-cc-1"].source_event_at == AT - timedelta(minutes=2), (
        "a parked webhook is applied at its own event time"
    )
    assert db.lifecycle_calls == [(recording_id, "trashed", AT - timedelta(minutes=1))]
    assert db.completed == [(["w-transcript", "w-trashed"], NOW)]
    assert db.parked_rows[OTHER_OCCURRENCE] != [], "another occurrence's webhooks stay parked"


async def test_parked_webhooks_are_applied_in_the_order_the_sink_gives(db: Recordings) -> None:
    db.events[MEETING] = PLATFORM_EVENT
    for minute, event in enumerate(
        ["recording.trashed", "recording.recovered", "recording.deleted"]
    ):
        db.park(OCCURRENCE, f"w-{minute}", body(event), AT + timedelta(minutes=minute))

    await completed()

    assert [lifecycle for _id, lifecycle, _at in db.lifecycle_calls] == [
        "trashed",
        "active",
        "deleted",
    ]
    assert db.completed == [(["w-0", "w-1", "w-2"], NOW)]


# transcript_completed, trashed, deleted, recovered


async def test_a_follow_up_before_its_recording_is_parked_when_its_event_is_known(
    db: Recordings,
) -> None:
    db.events[MEETING] = PLATFORM_EVENT
    outcome = await follow_up("recording.trashed")
    assert outcome == Outcome("pending", f"parked: waiting for recording {OCCURRENCE}", parked=True)
    assert db.matches == [(MEETING, OCCURRENCE)]
    assert (db.lifecycle_calls, db.files) == ([], {})


async def test_a_follow_up_without_recording_or_platform_event_is_skipped(db: Recordings) -> None:
    outcome = await follow_up("recording.transcript_completed", recording_files=transcript_files())
    assert outcome == Outcome("skipped", f"no event found for meeting {MEETING}")
    assert outcome.parked is False
    assert db.files == {}


@pytest.mark.parametrize(
    ("event", "lifecycle"),
    [
        ("recording.trashed", "trashed"),
        ("recording.deleted", "deleted"),
        ("recording.recovered", "active"),
    ],
)
async def test_a_lifecycle_follow_up_sets_the_recordings_lifecycle_at_the_event_time(
    db: Recordings, event: str, lifecycle: Lifecycle
) -> None:
    recording_id = db.add_recording()
    outcome = await follow_up(event)
    assert outcome == Outcome("completed", records_changed=1, publish=frozenset({recording_id}))
    assert db.lifecycle_calls == [(recording_id, lifecycle, AT)]
    assert db.matches == [], "a recording already stored needs no event match"


async def test_a_transcript_follow_up_upserts_only_the_transcript_and_caption_files(
    db: Recordings,
) -> None:
    recording_id = db.add_recording()
    outcome = await follow_up("recording.transcript_completed", recording_files=transcript_files())
    assert outcome == Outcome("completed", records_changed=2, publish=frozenset({recording_id}))
    assert sorted(db.files[recording_id]) == ["file-cc-1", "file-transcript-1"]
    assert db.lifecycle_calls == []
