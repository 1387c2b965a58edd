"""The recording API (spec paths), served beside ingest. Reads PostgreSQL; views and progress go
to Kafka (`recordings.view-events`) and are answered only once Kafka has them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

import psycopg
import psycopg_pool
from psycopg import AsyncConnection
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest.access import Caller, Decision, RecordingFacts, RegistrationFacts, decide
from ingest.auth import AuthError, bearer_subject
from ingest.body import error_response
from ingest.passwords import check_password, hash_password
from ingest.publisher import Publisher, PublishError
from schemas.recording_api import (
    Accepted,
    FileAccess,
    ProgressBeacon,
    Publication,
    RecordingAccess,
    RecordingAnalytics,
    RecordingDetail,
    RecordingFileInfo,
    RecordingSettingsUpdate,
    RecordingSummary,
)
from schemas.settings import Settings
from schemas.topics import RECORDING_VIEWS, ZOOM_RECORDINGS
from schemas.view_event import RecordingViewEvent
from sinks import Database
from sinks import recording_api as store
from sinks.recordings import current_state

M = TypeVar("M", bound=BaseModel)
PASSWORD_HEADER = "x-recording-password"
MAX_API_BODY = 64 * 1024


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields

    def response(self) -> JSONResponse:
        if self.fields is None:
            return error_response(self.status, self.message)
        return JSONResponse({"error": self.message, "fields": self.fields}, status_code=self.status)


VERDICT_STATUS = {"login_required": 401, "forbidden": 403, "password_required": 403}


@dataclass(frozen=True)
class Viewer:
    user_id: int | None
    caller: Caller
    registration_id: int | None


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise ApiError(404, f"no {what} {value!r}") from exc


def summary_fields(row: dict[str, Any], can_access: bool) -> dict[str, Any]:
    names = RecordingSummary.model_fields.keys() - {"can_access"}
    return {**{name: row[name] for name in names}, "can_access": can_access}


def facts(row: dict[str, Any]) -> RecordingFacts:
    return RecordingFacts(
        row["is_published"], row["status"], row["access_level"], row["requires_password"]
    )


def access_url(file: dict[str, Any]) -> str:
    """The spec's choice of URL: our copy, else for video the player, else the download."""
    if file["storage_url"]:
        return str(file["storage_url"])
    if file["file_type"] == "video":
        return str(file["play_url"] or file["share_url"] or file["download_url"])
    return str(file["download_url"] or file["share_url"])


class RecordingApi:
    def __init__(
        self,
        settings: Settings,
        publisher: Publisher,
        db: Database,
        clock: Callable[[], float] = time.time,
    ) -> None:
        secret = settings.platform_jwt_secret
        self._secret = secret.get_secret_value() if secret else None
        self._publisher = publisher
        self._db = db
        self._clock = clock
        self._views_topic = settings.topic(RECORDING_VIEWS)
        self._recordings_topic = settings.topic(ZOOM_RECORDINGS)

    def routes(self) -> list[Route]:
        h = self._handler
        return [
            Route("/api/events/{uuid}/recordings/", h(self.event_list), methods=["GET"]),
            Route("/api/recordings/{uuid}/", h(self.detail), methods=["GET"]),
            Route("/api/recordings/{uuid}/", h(self.update), methods=["PUT"]),
            Route("/api/recordings/{uuid}/access/", h(self.access), methods=["GET"]),
            Route("/api/recordings/{uuid}/progress/", h(self.progress), methods=["POST"]),
            Route("/api/recordings/{uuid}/publish/", h(self.publish), methods=["POST"]),
            Route("/api/recordings/{uuid}/unpublish/", h(self.unpublish), methods=["POST"]),
            Route(
                "/api/organizer/events/{uuid}/recordings/",
                h(self.organizer_list),
                methods=["GET"],
            ),
        ]

    def _handler(
        self, endpoint: Callable[[Request, AsyncConnection], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                async with self._db.transaction() as conn:
                    return await endpoint(request, conn)
            except ApiError as exc:
                return exc.response()
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
                return error_response(503, f"database unavailable, retry later: {exc}")

        return handle

    # --- who asks -------------------------------------------------------------------------

    async def _viewer(self, request: Request, conn: AsyncConnection, row: dict[str, Any]) -> Viewer:
        try:
            subject = bearer_subject(request.headers.get("authorization"), self._secret)
        except AuthError as exc:
            raise ApiError(401, str(exc)) from exc
        if subject is None:
            return Viewer(None, Caller(), None)
        user = await store.user_id(conn, subject)
        if user is None:
            raise ApiError(401, "the token's user does not exist")
        registration = await store.registration(conn, row["event_id"], user)
        facts_ = (
            None
            if registration is None
            else RegistrationFacts(
                registration["status"], registration["attended"], registration["certificate_issued"]
            )
        )
        caller = Caller(True, row["organizer_id"] == user, facts_)
        return Viewer(user, caller, None if registration is None else int(registration["id"]))

    async def _recording(self, request: Request, conn: AsyncConnection) -> dict[str, Any]:
        found = await store.recording(conn, _uuid(request.path_params["uuid"], "recording"))
        if found is None:
            raise ApiError(404, f"no recording {request.path_params['uuid']!r}")
        return found

    async def _organizer(
        self, request: Request, conn: AsyncConnection, row: dict[str, Any]
    ) -> Viewer:
        viewer = await self._viewer(request, conn, row)
        if viewer.user_id is None:
            raise ApiError(401, "sign in as the event's organizer")
        if not viewer.caller.is_organizer:
            raise ApiError(403, "only the event's organizer may do this")
        return viewer

    @staticmethod
    def _require(decision: Decision) -> None:
        if not decision.allowed:
            raise ApiError(VERDICT_STATUS[decision.verdict], decision.reason)

    # --- attendee endpoints -----------------------------------------------------------------

    async def event_list(self, request: Request, conn: AsyncConnection) -> Response:
        event = await store.event(conn, _uuid(request.path_params["uuid"], "event"))
        if event is None:
            raise ApiError(404, f"no event {request.path_params['uuid']!r}")
        viewer = await self._viewer(
            request, conn, {"event_id": event["id"], "organizer_id": event["organizer_id"]}
        )
        listed = []
        for row in await store.event_recordings(conn, event["id"]):
            if not (row["is_published"] and row["status"] == "available"):
                continue
            allowed = decide(facts(row), viewer.caller, password_ok=True).allowed
            listed.append(RecordingSummary(**summary_fields(row, allowed)))
        return _json([item.model_dump(mode="json") for item in listed])

    async def detail(self, request: Request, conn: AsyncConnection) -> Response:
        row = await self._recording(request, conn)
        viewer = await self._viewer(request, conn, row)
        self._require(decide(facts(row), viewer.caller, password_ok=True))
        files = [RecordingFileInfo(**f) for f in await store.files(conn, row["id"])]
        return _json(
            RecordingDetail(**summary_fields(row, True), files=files).model_dump(mode="json")
        )

    async def access(self, request: Request, conn: AsyncConnection) -> Response:
        row = await self._recording(request, conn)
        viewer = await self._viewer(request, conn, row)
        given = request.headers.get(PASSWORD_HEADER)
        password_ok = given is not None and check_password(given, row["access_password_hash"])
        self._require(decide(facts(row), viewer.caller, password_ok))
        if not viewer.caller.is_organizer:  # an organizer's preview is not a view
            await self._send_view(row, viewer, "view", None)
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        expires = row["download_token_expires_at"]
        token_valid = bool(row["download_token"]) and (expires is None or expires > now)
        files = [
            FileAccess(
                uuid=f["uuid"],
                file_type=f["file_type"],
                recording_type=f["recording_type"],
                url=access_url(f),
            )
            for f in await store.files(conn, row["id"])
        ]
        answer = RecordingAccess(
            uuid=row["uuid"],
            files=files,
            share_url=row["share_url"],
            zoom_password=row["zoom_password"],
            download_token=row["download_token"] if token_valid else None,
            download_token_expires_at=expires if token_valid else None,
        )
        return _json(answer.model_dump(mode="json"), headers={"Cache-Control": "no-store"})

    async def progress(self, request: Request, conn: AsyncConnection) -> Response:
        row = await self._recording(request, conn)
        viewer = await self._viewer(request, conn, row)
        beacon = await _body(request, ProgressBeacon)
        self._require(decide(facts(row), viewer.caller, password_ok=True))
        if viewer.registration_id is None:
            if viewer.user_id is None:
                raise ApiError(401, "sign in: progress is kept per registration")
            raise ApiError(403, "progress is kept per registration, and you have none")
        view_id = await self._send_view(row, viewer, "progress", beacon)
        return _json(Accepted(view_id=view_id).model_dump(mode="json"), status=202)

    # --- organizer endpoints ------------------------------------------------------------------

    async def organizer_list(self, request: Request, conn: AsyncConnection) -> Response:
        event = await store.event(conn, _uuid(request.path_params["uuid"], "event"))
        if event is None:
            raise ApiError(404, f"no event {request.path_params['uuid']!r}")
        await self._organizer(
            request, conn, {"event_id": event["id"], "organizer_id": event["organizer_id"]}
        )
        engagement = await store.engagement(conn, event["id"])
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
        return _json(items)

    async def update(self, request: Request, conn: AsyncConnection) -> Response:
        row = await self._recording(request, conn)
        await self._organizer(request, conn, row)
        body = await _body(request, RecordingSettingsUpdate)
        changes: dict[str, Any] = {
            name: (str(value) if name == "thumbnail_url" else value)
            for name, value in body.model_dump(
                exclude_unset=True, exclude={"access_password"}
            ).items()
            if value is not None
        }
        if "access_password" in body.model_fields_set:
            password = body.access_password or ""
            changes["access_password_hash"] = hash_password(password) if password else ""
        await store.update_settings(conn, row["id"], changes)
        updated = await self._recording(request, conn)
        files = [RecordingFileInfo(**f) for f in await store.files(conn, row["id"])]
        return _json(
            RecordingDetail(**summary_fields(updated, True), files=files).model_dump(mode="json")
        )

    async def publish(self, request: Request, conn: AsyncConnection) -> Response:
        return await self._set_published(request, conn, True)

    async def unpublish(self, request: Request, conn: AsyncConnection) -> Response:
        return await self._set_published(request, conn, False)

    async def _set_published(
        self, request: Request, conn: AsyncConnection, published: bool
    ) -> Response:
        row = await self._recording(request, conn)
        await self._organizer(request, conn, row)
        if await store.set_published(conn, row["id"], published):
            # Subscribers of zoom.recordings learn of the decision; if Kafka cannot take it, the
            # change is rolled back and the organizer is asked to try again.
            state = await current_state(conn, row["id"])
            try:
                await self._publisher.publish(
                    self._recordings_topic,
                    state.zoom_recording_id.encode(),
                    state.model_dump_json().encode(),
                )
            except PublishError as exc:
                raise ApiError(503, f"not stored, retry later: {exc}") from exc
        updated = await self._recording(request, conn)
        answer = Publication(
            uuid=updated["uuid"],
            is_published=updated["is_published"],
            published_at=updated["published_at"],
        )
        return _json(answer.model_dump(mode="json"))

    # --- views ------------------------------------------------------------------------------

    async def _send_view(
        self,
        row: dict[str, Any],
        viewer: Viewer,
        kind: Literal["view", "progress"],
        beacon: ProgressBeacon | None,
    ) -> UUID:
        event = RecordingViewEvent(
            view_id=uuid.uuid4(),
            kind=kind,
            recording_id=row["id"],
            recording_uuid=row["uuid"],
            event_id=row["event_id"],
            registration_id=viewer.registration_id,
            duration_seconds=row["duration_seconds"],
            received_at=datetime.fromtimestamp(self._clock(), tz=UTC),
            position_seconds=None if beacon is None else beacon.position_seconds,
            watch_seconds=None if beacon is None else beacon.watch_seconds,
            beacon_id=None if beacon is None else beacon.beacon_id,
        )
        try:
            await self._publisher.publish(
                self._views_topic, str(row["uuid"]).encode(), event.model_dump_json().encode()
            )
        except PublishError as exc:
            raise ApiError(503, f"not stored, retry later: {exc}") from exc
        return event.view_id


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=headers)


async def _body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    if len(raw) > MAX_API_BODY:
        raise ApiError(413, f"body over {MAX_API_BODY} bytes")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from exc
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        fields = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise ApiError(422, "invalid body", fields) from exc
