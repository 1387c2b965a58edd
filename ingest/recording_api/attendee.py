"""The attendee's endpoints: an event's recordings, a recording's detail, its URLs (a view), and
the progress beacon. Detail and lists never carry URLs, tokens or passwords; only access does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from ingest.access import decide
from ingest.limits import ApiLimits
from ingest.recording_api.announce import Announcer
from ingest.recording_api.common import AfterCommit, ApiError, json_response, read_model
from ingest.recording_api.links import LINK_MARGIN, LinkRefresher, Links, resolve, valid_token
from ingest.recording_api.passwords import PasswordGuard
from ingest.recording_api.rows import parse_uuid, path_event, path_recording, summary_fields
from ingest.recording_api.viewer import PASSWORD_HEADER, Viewers, recording_facts, require
from schemas.recording_api import (
    Accepted,
    FileAccess,
    ProgressBeacon,
    RecordingAccess,
    RecordingDetail,
    RecordingFileInfo,
    RecordingSummary,
    UnavailableFile,
)
from sinks import recording_api as store


def guarded(
    guard: PasswordGuard,
    viewers: Viewers,
    limits: ApiLimits,
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """`handler` (the access endpoint), first refusing a password attempt this process knows to
    be locked out: before any transaction, so it costs no database round trip."""

    async def handle(request: Request) -> Response:
        caller = viewers.caller_key(request)
        if PASSWORD_HEADER in request.headers and caller is not None:
            try:
                recording = str(parse_uuid(request.path_params["uuid"], "recording"))
                guard.refuse_if_locked(recording, caller)
            except ApiError as exc:
                await limits.tarpit.hold(exc.status)
                return exc.response()
        return await handler(request)

    return handle


class AttendeeEndpoints:
    def __init__(
        self,
        viewers: Viewers,
        announcer: Announcer,
        guard: PasswordGuard,
        links: LinkRefresher,
        clock: Callable[[], float],
    ) -> None:
        self._viewers = viewers
        self._announcer = announcer
        self._guard = guard
        self._links = links
        self._clock = clock

    async def event_list(self, request: Request, conn: AsyncConnection) -> Response:
        """The event's published recordings that are available or expired (shown as such, never
        to watch), each saying whether the caller may watch."""
        event = await path_event(request, conn)
        viewer = await self._viewers.resolve(request, conn, event["id"], event["organizer_id"])
        listed = []
        for row in await store.event_recordings(conn, event["id"]):
            if not (row["is_published"] and row["status"] in ("available", "expired")):
                continue
            allowed = decide(recording_facts(row), viewer.caller, password_ok=True).allowed
            listed.append(RecordingSummary(**summary_fields(row, allowed)))
        return json_response([item.model_dump(mode="json") for item in listed])

    async def detail(self, request: Request, conn: AsyncConnection) -> Response:
        row = await path_recording(request, conn)
        viewer = await self._viewers.resolve(request, conn, row["event_id"], row["organizer_id"])
        require(decide(recording_facts(row), viewer.caller, password_ok=True))
        files = [RecordingFileInfo(**f) for f in await store.files(conn, row["id"])]
        detail = RecordingDetail(**summary_fields(row, True), files=files)
        return json_response(detail.model_dump(mode="json"))

    async def access(self, request: Request, conn: AsyncConnection) -> AfterCommit:
        """The links that work now (`links`), with the tokens they need; records a view. Links
        whose token ran out are refreshed from Zoom after the transaction."""
        row = await path_recording(request, conn)
        viewer = await self._viewers.resolve(request, conn, row["event_id"], row["organizer_id"])
        if row["status"] == "expired" and (row["is_published"] or viewer.caller.is_organizer):
            # no link works any more, for the organizer neither: Zoom has deleted the files
            raise ApiError(410, f"the recording expired on {row['expires_at']:%Y-%m-%d}")
        facts = recording_facts(row)
        require(decide(facts, viewer.caller, password_ok=True))  # all but the password
        if facts.has_password and not viewer.caller.is_organizer:
            given = request.headers.get(PASSWORD_HEADER)
            caller = self._viewers.caller_key(request)
            ok = (
                given is not None
                and caller is not None
                and await self._guard.check(
                    str(row["uuid"]), caller, given, row["access_password_hash"]
                )
            )
            require(decide(facts, viewer.caller, password_ok=ok))
        files = await store.files(conn, row["id"])
        now = datetime.fromtimestamp(self._clock(), tz=UTC)

        async def answer() -> Response:
            found = await resolve(self._links, row, files, now)
            refuse_without_links(found)
            # an organizer's preview is not a view, nor is an answer without any link
            if not viewer.caller.is_organizer and (found.served or not found.missing):
                await self._announcer.view(row, viewer, "view", None)
            return json_response(
                access_answer(row, found, now).model_dump(mode="json"),
                headers={"Cache-Control": "no-store"},
            )

        return answer

    async def progress(self, request: Request, conn: AsyncConnection) -> Response:
        """202 once the beacon is in Kafka; progress is kept per registration."""
        row = await path_recording(request, conn)
        viewer = await self._viewers.resolve(request, conn, row["event_id"], row["organizer_id"])
        beacon = await read_model(request, ProgressBeacon)
        require(decide(recording_facts(row), viewer.caller, password_ok=True))
        if viewer.registration_id is None:
            if viewer.user_id is None:
                raise ApiError(401, "sign in: progress is kept per registration")
            raise ApiError(403, "progress is kept per registration, and you have none")
        view_id = await self._announcer.view(row, viewer, "progress", beacon)
        return json_response(Accepted(view_id=view_id).model_dump(mode="json"), status=202)


def refuse_without_links(found: Links) -> None:
    """No link to serve because Zoom failed: 410 when it no longer has the recording, else 503
    with when to ask again. (Without a client, the answer lists the files left out instead.)"""
    failure = found.failure
    if failure is None or found.served:
        return
    if failure.gone:
        raise ApiError(410, f"no link to serve: {failure.reason}")
    raise ApiError(503, f"no link to serve now: {failure.reason}", retry_after=failure.retry_after)


def access_answer(row: dict[str, Any], found: Links, now: datetime) -> RecordingAccess:
    token, expires = valid_token(row, now, LINK_MARGIN)
    if token is None and found.fresh is not None:
        token, expires = found.fresh.token, found.fresh.expires_at
    return RecordingAccess(
        uuid=row["uuid"],
        files=[
            FileAccess(
                uuid=file["uuid"],
                file_type=file["file_type"],
                recording_type=file["recording_type"],
                url=link.url,
                download_token=link.token,
                download_token_expires_at=link.expires_at,
            )
            for file, link in found.served
        ],
        unavailable=[
            UnavailableFile(
                uuid=file["uuid"],
                file_type=file["file_type"],
                recording_type=file["recording_type"],
                reason=reason,
            )
            for file, reason in found.missing
        ],
        share_url=row["share_url"],
        zoom_password=row["zoom_password"],
        download_token=token,
        download_token_expires_at=expires,
    )
