"""Realistic Zoom webhook bodies and Zoom-style signatures, for the demo and the tests.

Shapes follow the shared research on webhook formats: string meeting ids in meeting events,
numeric ones in recording events, empty strings for guests, key order as Zoom sends it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zoom_event(
    event: str, obj: dict[str, Any], event_ts: int | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event,
        "payload": {"account_id": "AAAAAbbbbbCCCCC", "object": obj},
    }
    if event_ts is not None:
        body["event_ts"] = event_ts
    body.update(extra)
    return body


def meeting_object(
    meeting_id: str = "86431910364", uuid: str = "4444AAAiAAAAAiAiAiiAii==", **overrides: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": meeting_id,
        "uuid": uuid,
        "host_id": "x1yCzABCDEfg23HiJKl4mN",
        "topic": "Continuing education: cardiology update",
        "type": 2,
        "start_time": "2026-11-30T09:00:00Z",
        "timezone": "Europe/Prague",
        "duration": 60,
    }
    obj.update(overrides)
    return obj


def participant(
    number: int, joined: datetime, *, guest: bool = False, left: datetime | None = None
) -> dict[str, Any]:
    person: dict[str, Any] = {
        "user_id": str(16778240 + number),
        "user_name": f"Participant {number} Šimonek",
        "id": "" if guest else f"zoomUser{number:05d}",
        "participant_user_id": "" if guest else f"zoomUser{number:05d}",
        "participant_uuid": f"10010282-DB44-4B2C-9C6E-{number:012d}",
        "email": "" if guest else f"person{number}@example.org",
        "registrant_id": None if guest else f"reg{number:06d}",
        "join_time": iso(joined),
    }
    if left is not None:
        person["leave_time"] = iso(left)
        person["leave_reason"] = "left the meeting. Reason : left the meeting"
    return person


def recording_object(
    meeting_id: int = 86431910364,
    uuid: str = "4444AAAiAAAAAiAiAiiAii==",
    start: datetime | None = None,
) -> dict[str, Any]:
    start = start or datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    end = start + timedelta(minutes=67, seconds=8)
    base = "https://us06web.zoom.us/rec/webhook_download"
    return {
        "id": meeting_id,
        "uuid": uuid,
        "host_id": "x1yCzABCDEfg23HiJKl4mN",
        "host_email": "organizer@example.org",
        "topic": "Continuing education: cardiology update",
        "type": 2,
        "start_time": iso(start),
        "timezone": "Europe/Prague",
        "duration": 67,
        "total_size": 529_000_000,
        "recording_count": 3,
        "share_url": "https://us06web.zoom.us/rec/share/abcdef",
        "password": "Xy7!q2",
        "recording_files": [
            {
                "id": "file-mp4-1",
                "meeting_id": uuid,
                "recording_start": iso(start),
                "recording_end": iso(end),
                "file_type": "MP4",
                "file_extension": "MP4",
                "file_size": 528_000_000,
                "play_url": "https://us06web.zoom.us/rec/play/1",
                "download_url": f"{base}/a/1",
                "status": "completed",
                "recording_type": "shared_screen_with_speaker_view",
            },
            {
                "id": "file-timeline-1",
                "meeting_id": uuid,
                "recording_start": iso(start),
                "recording_end": iso(end),
                "file_type": "TIMELINE",
                "file_extension": "JSON",
                "file_size": 1_000_000,
                "download_url": f"{base}/a/2",
                "status": "completed",
                "recording_type": "timeline",
            },
        ],
    }


def dumps(body: dict[str, Any]) -> bytes:
    """Compact JSON with non-ASCII kept as UTF-8, as Zoom sends it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: bytes, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers Zoom would send with `body`."""
    message = b"v0:" + str(timestamp).encode() + b":" + body
    signature = "v0=" + hmac.new(secret, message, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Zoom Marketplace/1.0a",
        "x-zm-request-timestamp": str(timestamp),
        "x-zm-signature": signature,
        "authorization": "legacy-verification-token",
    }


def meeting_burst(
    meeting_id: str, uuid: str, start: datetime, participants: int
) -> list[dict[str, Any]]:
    """A meeting's life: started, people join and leave, ended, recording completed."""
    ms = int(start.timestamp() * 1000)
    end = start + timedelta(minutes=61)

    def occurrence(**overrides: Any) -> dict[str, Any]:
        return meeting_object(meeting_id, uuid, start_time=iso(start), **overrides)

    events = [zoom_event("meeting.started", occurrence(), ms)]
    spacing = min(30.0, 3000.0 / max(1, participants))  # everyone joins within 50 minutes
    for n in range(participants):
        joined = start + timedelta(seconds=spacing * n)
        guest = n % 5 == 4
        events.append(
            zoom_event(
                "meeting.participant_joined",
                occurrence(participant=participant(n, joined, guest=guest)),
                ms + 30_000 * n,
            )
        )
        left = joined + timedelta(minutes=50)
        events.append(
            zoom_event(
                "meeting.participant_left",
                occurrence(participant=participant(n, joined, guest=guest, left=left)),
                ms + 3_000_000 + n,
            )
        )
    events.append(
        zoom_event("meeting.ended", occurrence(end_time=iso(end)), int(end.timestamp() * 1000))
    )
    rec = recording_object(int(meeting_id), uuid, start)
    events.append(
        zoom_event(
            "recording.completed",
            rec,
            int(end.timestamp() * 1000) + 600_000,
            download_token="eyJhbGciOiJIUzUxMiJ9.demo.token",
        )
    )
    return events
