"""Links that work (issue 17): of a recording's file URLs, those a viewer can use now, and fresh
ones from Zoom's API for the files whose download token has run out.

A file's link (`access_url`) is our own copy, Zoom's player or its share page (none needs a token),
or its download URL, which works only with a download token: the webhook's, for the webhook's
`/rec/webhook_download/` URLs (24 hours from the event), or, refreshed, the API's
`download_access_token` for the API's `/rec/download/` URLs (research: webhook-formats.md, item 9).
A download link whose token ends within LINK_MARGIN is never served as it stands: with a Zoom API
client it is refreshed, otherwise left out with the reason (`Unavailable`).

Refreshes are shared per recording (`LinkRefresher`): one call to Zoom in flight per recording,
its answer reused while its token has at least half its life left (ZOOM_LINK_TOKEN_TTL_SECONDS is
the life asked for), so a busy recording costs one call, not one per viewer. A failure is
remembered too, for Zoom's Retry-After (429) or FAILURE_HOLD_SECONDS, so a failing Zoom is not
asked again per viewer either. A viewer waits at most ZOOM_LINK_WAIT_SECONDS; the call goes on and
fills the cache for the next one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cachetools import TLRUCache

from ingest.zoom_api import NotFound, RateLimited, ZoomApiError, ZoomClient

log = logging.getLogger(__name__)

LINK_MARGIN = timedelta(minutes=5)
"""A token ending sooner than this is as good as gone: a viewer needs the time to start."""
FAILURE_HOLD_SECONDS = 10.0
"""How long a failed refresh is remembered when Zoom does not say (no Retry-After)."""
MAX_RECORDINGS_CACHED = 10_000
NO_CLIENT = (
    "the download link has expired and no Zoom API client is configured to refresh it"
    " (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET)"
)
NOT_LISTED = "Zoom no longer lists this file"


def access_url(file: dict[str, Any]) -> str:
    """The spec's choice of URL: our copy, else for video the player, else the download."""
    if file["storage_url"]:
        return str(file["storage_url"])
    if file["file_type"] == "video":
        return str(file["play_url"] or file["share_url"] or file["download_url"])
    return str(file["download_url"] or file["share_url"])


def valid_token(
    row: dict[str, Any], now: datetime, margin: timedelta = timedelta(0)
) -> tuple[str | None, datetime | None]:
    """A row's download token and its expiry while it is valid `margin` past `now`, else
    (None, None)."""
    expires = row["download_token_expires_at"]
    if row["download_token"] and (expires is None or expires > now + margin):
        return row["download_token"], expires
    return None, None


@dataclass(frozen=True)
class Link:
    url: str
    token: str | None
    expires_at: datetime | None


def stored_link(file: dict[str, Any], now: datetime) -> Link | None:
    """The file's link as stored, or None when it is a download URL whose token has run out."""
    url = access_url(file)
    token, expires = valid_token(file, now, LINK_MARGIN)
    if url and url == file["download_url"] and token is None:
        return None
    return Link(url, token, expires)


@dataclass(frozen=True)
class Fresh:
    """Zoom's current download URL of each completed file (by Zoom's file id) and the token that
    goes with them."""

    urls: dict[str, str]
    token: str | None
    expires_at: datetime

    def link(self, zoom_file_id: str) -> Link | None:
        url = self.urls.get(zoom_file_id)
        return None if url is None else Link(url, self.token, self.expires_at)


class Unavailable(Exception):
    """No fresh link now: `reason` for the body; `retry_after` seconds for a 503; `gone` when
    Zoom no longer has the recording (a retry will not help)."""

    def __init__(self, reason: str, retry_after: int, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.retry_after, self.gone = reason, retry_after, gone


@dataclass(frozen=True)
class _Entry:
    answer: Fresh | Unavailable
    until: float


class LinkRefresher:
    """Fresh links from Zoom's API, shared per recording (see the module's docstring). Without a
    client (`enabled` false) it is never asked."""

    def __init__(
        self,
        client: ZoomClient | None,
        token_ttl_seconds: int,
        wait_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._ttl = token_ttl_seconds
        self._wait = wait_seconds
        self._clock = clock
        self._entries: TLRUCache[str, _Entry] = TLRUCache(
            maxsize=MAX_RECORDINGS_CACHED, ttu=lambda _key, entry, _now: entry.until, timer=clock
        )
        self._calls: dict[str, asyncio.Task[_Entry]] = {}

    @property
    def enabled(self) -> bool:
        return self._client is not None

    async def fresh(self, meeting_uuid: str, recording_id: str) -> Fresh:
        """The recording's current links; `Unavailable` when Zoom cannot give them now.
        `recording_id` (its zoom_recording_id) names it in the call log."""
        entry = self._entries.get(meeting_uuid)
        if entry is None:
            call = self._calls.get(meeting_uuid)
            if call is None:
                call = asyncio.create_task(self._call(meeting_uuid, recording_id))
                self._calls[meeting_uuid] = call
            try:
                entry = await asyncio.wait_for(asyncio.shield(call), self._wait)
            except TimeoutError:
                raise Unavailable(
                    f"Zoom did not answer within {self._wait:g} s", math.ceil(self._wait)
                ) from None
        if isinstance(entry.answer, Unavailable):
            raise entry.answer
        return entry.answer

    async def _call(self, meeting_uuid: str, recording_id: str) -> _Entry:
        assert self._client is not None
        asked_at = self._clock()
        try:
            answer = await self._client.meeting_recordings(
                meeting_uuid,
                with_download_token=True,
                token_ttl_seconds=self._ttl,
                recording_id=recording_id,
            )
            fresh = Fresh(
                {
                    f.id: f.download_url
                    for f in answer.recording_files
                    if f.id and f.download_url and f.status == "completed"
                },
                answer.download_access_token.get_secret_value()
                if answer.download_access_token
                else None,
                datetime.fromtimestamp(asked_at + self._ttl, tz=UTC),
            )
            entry = _Entry(fresh, asked_at + self._ttl / 2)
        except NotFound:
            gone = Unavailable("Zoom no longer has this recording", 0, gone=True)
            entry = _Entry(gone, asked_at + self._ttl / 2)
        except RateLimited as exc:
            hold = exc.retry_after if exc.retry_after is not None else FAILURE_HOLD_SECONDS
            limited = Unavailable("Zoom is limiting our calls", math.ceil(hold))
            entry = _Entry(limited, self._clock() + hold)
        except ZoomApiError as exc:  # 401 after a refresh, 5xx, timeouts, a malformed answer
            log.warning("links of recording %s not refreshed: %s", meeting_uuid, exc)
            failed = Unavailable(
                "Zoom could not give a fresh link", math.ceil(FAILURE_HOLD_SECONDS)
            )
            entry = _Entry(failed, self._clock() + FAILURE_HOLD_SECONDS)
        finally:
            self._calls.pop(meeting_uuid, None)
        self._entries[meeting_uuid] = entry
        return entry


@dataclass(frozen=True)
class Links:
    """A recording's files with the link each can be used by (`served`, in the files' order),
    those left out with the reason (`missing`), the failure that left them out if Zoom failed,
    and the refresh if one was made."""

    served: list[tuple[dict[str, Any], Link]]
    missing: list[tuple[dict[str, Any], str]]
    failure: Unavailable | None = None
    fresh: Fresh | None = None


async def resolve(
    refresher: LinkRefresher, recording: dict[str, Any], files: list[dict[str, Any]], now: datetime
) -> Links:
    """Each file's working link: as stored, else refreshed through Zoom's API, else left out."""
    stored = [(file, stored_link(file, now)) for file in files]
    if all(link is not None for _, link in stored):
        return Links([(file, link) for file, link in stored if link is not None], [])
    if not refresher.enabled:
        return _merge(stored, NO_CLIENT)
    try:
        fresh = await refresher.fresh(
            recording["zoom_meeting_uuid"], recording["zoom_recording_id"]
        )
    except Unavailable as exc:
        return _merge(stored, exc.reason, failure=exc)
    return _merge(stored, NOT_LISTED, fresh)


def _merge(
    stored: list[tuple[dict[str, Any], Link | None]],
    reason: str,
    fresh: Fresh | None = None,
    failure: Unavailable | None = None,
) -> Links:
    served: list[tuple[dict[str, Any], Link]] = []
    missing: list[tuple[dict[str, Any], str]] = []
    for file, link in stored:
        link = link or (fresh.link(file["zoom_file_id"]) if fresh is not None else None)
        if link is None:
            missing.append((file, reason))
        else:
            served.append((file, link))
    return Links(served, missing, failure, fresh)
