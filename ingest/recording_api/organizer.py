"""The organizer's endpoints: an event's recordings with analytics, a recording's settings, and
publish/unpublish, which announce the recording's new state before the transaction commits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from ingest.limits import ApiLimits
from ingest.passwords import hash_password
from ingest.recording_api.announce import Announcer
from ingest.recording_api.common import json_response, read_model
from ingest.recording_api.rows import path_event, path_recording, summary_fields
from ingest.recording_api.viewer import Viewers
from schemas.recording_api import (
    Publication,
    RecordingAnalytics,
    RecordingDetail,
    RecordingFileInfo,
    RecordingSettingsUpdate,
)
from sinks import recording_api as store
from sinks.recordings import auto_publish, current_state


class OrganizerEndpoints:
    def __init__(self, viewers: Viewers, announcer: Announcer, limits: ApiLimits) -> None:
        self._viewers = viewers
        self._announcer = announcer
        self._limits = limits
        self._engagement = limits.cache()
        """Event id → its engagement figures, for HEAVY_READ_CACHE_SECONDS."""

    async def event_list(self, request: Request, conn: AsyncConnection) -> Response:
        """Every recording of the event, published or not, with its views and completions.

        The completions and average watch time read every view of the event: a heavy read,
        bounded, its answer reused for HEAVY_READ_CACHE_SECONDS; the rest is read each time."""
        event = await path_event(request, conn)
        viewer = await self._viewers.organizer(request, conn, event["id"], event["organizer_id"])
        self._limits.throttle_heavy(f"user:{viewer.user_id}")
        engagement = self._engagement.get(event["id"])
        if engagement is None:
            async with self._limits.heavy_read(conn):
                engagement = await store.engagement(conn, event["id"])
            self._engagement[event["id"]] = engagement
        items = []
        for row in await store.event_recordings(conn, event["id"]):
            stats = engagement.get(row["id"], {"completions": 0, "average_watch_seconds": 0.0})
            unique = row["unique_viewers"]
            items.append(
                RecordingAnalytics(
                    **summary_fields(row, True),
                    view_count=row["view_count"],
                    unique_viewers=unique,
                    completions=stats["completions"],
                    completion_rate=stats["completions"] / unique if unique else 0.0,
                    average_watch_seconds=float(stats["average_watch_seconds"]),
                    published_at=row["published_at"],
                    auto_publish=row["auto_publish"],
                ).model_dump(mode="json")
            )
        return json_response(items)

    async def update(self, request: Request, conn: AsyncConnection) -> Response:
        """The fields given; `access_password` is stored only as a hash, `""` removes it."""
        row = await path_recording(request, conn)
        await self._viewers.organizer(request, conn, row["event_id"], row["organizer_id"])
        body = await read_model(request, RecordingSettingsUpdate)
        changes: dict[str, Any] = {
            name: (str(value) if name == "thumbnail_url" else value)
            for name, value in body.model_dump(
                exclude_unset=True, exclude={"access_password"}
            ).items()
            if value is not None
        }
        if "access_password" in body.model_fields_set:
            password = body.access_password or ""
            changes["access_password_hash"] = (
                await self._limits.hashing.run_in_thread(hash_password, password)
                if password
                else ""
            )
        await store.update_settings(conn, row["id"], changes)
        if changes.get("auto_publish") and await auto_publish(conn, row["id"], datetime.now(UTC)):
            await self._announcer.recording_state(await current_state(conn, row["id"]))
        updated = await path_recording(request, conn)
        files = [RecordingFileInfo(**f) for f in await store.files(conn, row["id"])]
        detail = RecordingDetail(**summary_fields(updated, True), files=files)
        return json_response(detail.model_dump(mode="json"))

    async def publish(self, request: Request, conn: AsyncConnection) -> Response:
        return await self._set_published(request, conn, True)

    async def unpublish(self, request: Request, conn: AsyncConnection) -> Response:
        return await self._set_published(request, conn, False)

    async def _set_published(
        self, request: Request, conn: AsyncConnection, published: bool
    ) -> Response:
        row = await path_recording(request, conn)
        await self._viewers.organizer(request, conn, row["event_id"], row["organizer_id"])
        if await store.set_published(conn, row["id"], published):
            # If Kafka cannot take the new state, the change is rolled back (503) and the
            # organizer is asked to try again.
            await self._announcer.recording_state(await current_state(conn, row["id"]))
        updated = await path_recording(request, conn)
        answer = Publication(
            uuid=updated["uuid"],
            is_published=updated["is_published"],
            published_at=updated["published_at"],
        )
        return json_response(answer.model_dump(mode="json"))
