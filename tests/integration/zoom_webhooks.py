"""Signed Zoom webhooks for the integration tests: the sample meeting, its participant and
recording events, and sending them to a running pipeline."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from schemas import RawWebhookEnvelope, parse_zoom_event
from streams.runtime.delivery import Delivery
from streams.webhooks.apply import Item
from tests.conftest import signed
from tests.integration.conftest import Pipeline
from zoomstream.samples import dumps, iso, meeting_object, recording_object, zoom_event

WEBINAR = "91234567890"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MEETING = "85392858403"
OCCURRENCE = "webinar-occ/1=="


def at(minutes: float) -> str:
    return iso(T0 + timedelta(minutes=minutes))


def participant_event(
    kind: str, user_id: str, join: float, leave: float | None = None, **who: Any
) -> dict[str, Any]:
    person: dict[str, Any] = {
        "user_id": user_id,
        "user_name": who.pop("name", "Guest"),
        "id": "",
        "email": "",
        "join_time": at(join),
    }
    person.update(who)
    if leave is not None:
        person["leave_time"] = at(leave)
        person["leave_reason"] = "left the meeting. Reason : left the meeting"
    obj = meeting_object(WEBINAR, OCCURRENCE, start_time=at(0), type=5, participant=person)
    return zoom_event(f"webinar.participant_{kind}", obj, 1_764_493_200_000)


def post(pipeline: Pipeline, body: dict[str, Any]) -> None:
    raw, headers = signed(dumps(body))
    response = httpx.post(f"{pipeline.url}/webhooks/zoom", content=raw, headers=headers, timeout=30)
    assert response.status_code == 200, response.text


def completed(
    occurrence: str, token: str, event_ts: int, meeting: str = MEETING, **changes: Any
) -> dict[str, Any]:
    obj = recording_object(int(meeting), occurrence)
    obj.update(changes)
    return zoom_event("recording.completed", obj, event_ts, download_token=token)


async def send_all(url: str, bodies: list[bytes], concurrency: int) -> list[int]:
    """POST every body signed now; `concurrency` requests in flight at once."""
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:

        async def send(body: bytes) -> int:
            async with limit:
                raw, headers = signed(body)
                return (
                    await client.post("/webhooks/zoom", content=raw, headers=headers)
                ).status_code

        return list(await asyncio.gather(*(send(body) for body in bodies)))


def as_item(event: dict[str, Any], offset: int, received_at: datetime) -> Item:
    """A webhook as the worker's batch holds it, read from offset `offset` of the raw topic."""
    body = dumps(event)
    envelope = RawWebhookEnvelope(
        webhook_id=hashlib.sha256(body).hexdigest(), received_at=received_at, headers={}, body=body
    )
    delivery = Delivery("zoom.webhooks.raw", 0, offset, envelope.model_dump_json().encode())
    return Item(delivery, envelope, parse_zoom_event(body))
