"""A client of Zoom's REST API with a server-to-server OAuth app (issue 17).

Token: `POST {ZOOM_OAUTH_URL}?grant_type=account_credentials&account_id=…` with HTTP Basic
client id and secret; kept until TOKEN_MARGIN_SECONDS before it expires (half its life for a
short one); every caller waiting for a token shares one fetch (an asyncio lock). A 401 from the
API drops the token and fetches one again, once; a second 401 is `Unauthorized`.

Each call is attempted up to ZOOM_API_ATTEMPTS times while Zoom answers 429 or 5xx, times out
(ZOOM_API_CONNECT_TIMEOUT_SECONDS, ZOOM_API_READ_TIMEOUT_SECONDS) or cannot be reached; between
attempts it waits ZOOM_API_BACKOFF_SECONDS doubling (at most BACKOFF_CAP_SECONDS), or what a
429 or 503 says in Retry-After (seconds). Every attempt is reported to the observer, with
the call's subject (the meeting, and the recording when the caller names it): ingest's
`api_call_log` writes them to `external_api_calls`.

No secret (client secret, access token, download token) goes into a log line, an exception
message or an observer record: URLs are reported without their query, answers' bodies never.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pydantic
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base

from schemas.settings import Settings
from schemas.zoom_api import AccessToken, MeetingRecordings

log = logging.getLogger(__name__)

SERVICE = "zoom"
TOKEN_MARGIN_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 30.0
TRACKING_HEADER = "x-zm-trackingid"

M = TypeVar("M", bound=pydantic.BaseModel)


class ZoomApiError(Exception):
    """Zoom refused or failed a call. Messages never carry a secret."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(ZoomApiError):
    """404: the meeting's recordings do not exist (deleted, or never recorded). Not retried."""


class Unauthorized(ZoomApiError):
    """Zoom refused the credentials, or refused a freshly fetched token (401 after a refresh)."""


class RateLimited(ZoomApiError):
    """429 after every attempt (or a Retry-After past the bound); `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class Unavailable(ZoomApiError):
    """5xx, timeouts or connection errors after every attempt; `status` is None for no answer."""


class BadAnswer(ZoomApiError):
    """A 2xx whose body is not JSON or not of the documented shape."""


@dataclass(frozen=True)
class Subject:
    """What a call is about: a meeting occurrence's UUID and, when the caller names it, the
    recording's natural key (zoom_recordings.zoom_recording_id, which a rebuild keeps)."""

    meeting_uuid: str | None = None
    recording_id: str | None = None


NO_SUBJECT = Subject()
"""The OAuth token's calls: a token serves every caller, so it is about none of them."""


@dataclass(frozen=True)
class ApiCall:
    """One HTTP attempt, as the observer sees it (ingest's api_call_log makes it a row)."""

    service: str
    operation: str
    method: str
    url: str
    """Without its query: the OAuth account id, a token's ttl, never a secret."""
    status_code: int | None
    """None when no answer came (a timeout, a connection error)."""
    duration_seconds: float
    attempt: int
    """1 for the first attempt of a call, 2 for its first retry, …"""
    error: str | None
    tracking_id: str | None
    """Zoom's request id, its `x-zm-trackingid` header, when the answer had one."""
    subject: Subject = NO_SUBJECT


Observer = Callable[[ApiCall], Awaitable[None] | None]


def meeting_path_segment(meeting_uuid: str) -> str:
    """Zoom's rule: a UUID that begins with `/` or contains `//` is URL-encoded twice."""
    once = quote(meeting_uuid, safe="")
    if meeting_uuid.startswith("/") or "//" in meeting_uuid:
        return quote(once, safe="")
    return once


def without_query(url: str) -> str:
    """The URL to report: its query (the OAuth account id, a token) left out."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds; an HTTP date or garbage counts as absent (the backoff applies)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class _Transient(Exception):
    """An attempt worth repeating: 429, 5xx, a timeout or a connection error."""

    def __init__(self, error: str, status: int | None, retry_after: float | None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.retry_after = retry_after


class _TokenRejected(Exception):
    """The API answered 401 to the token: it expired early or was revoked."""


@dataclass(frozen=True)
class _Request:
    """One call's request, the same for each of its attempts."""

    operation: str
    method: str
    url: str
    params: dict[str, str]
    bearer: str | None
    subject: Subject


@dataclass(frozen=True)
class _Token:
    value: str
    good_until: float


class ZoomClient:
    """Zoom's API for one account. Open with `async with`, or call `aclose()`."""

    def __init__(
        self,
        settings: Settings,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.zoom_api_enabled():
            raise ValueError(
                "the Zoom API needs ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET"
            )
        assert settings.zoom_client_id and settings.zoom_client_secret
        self._settings = settings
        self._observer = observer
        self._clock = clock
        self._auth = httpx.BasicAuth(
            settings.zoom_client_id, settings.zoom_client_secret.get_secret_value()
        )
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.zoom_api_read_timeout_seconds,
                connect=settings.zoom_api_connect_timeout_seconds,
            ),
            follow_redirects=False,
        )
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()

    async def __aenter__(self) -> ZoomClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def meeting_recordings(
        self,
        meeting_uuid: str,
        *,
        with_download_token: bool = False,
        token_ttl_seconds: int | None = None,
        recording_id: str | None = None,
    ) -> MeetingRecordings:
        """`GET /meetings/{meetingUUID}/recordings`; with `with_download_token`, Zoom adds
        `download_access_token` (include_fields), which lets the files' `/rec/download/` URLs be
        downloaded, for `token_ttl_seconds` (Zoom's `ttl`, at most 7 days) when given.
        `recording_id` (the recording's zoom_recording_id) goes with each attempt's record."""
        base = self._settings.zoom_api_base_url.rstrip("/")
        url = f"{base}/meetings/{meeting_path_segment(meeting_uuid)}/recordings"
        params: dict[str, str] = {}
        if with_download_token:
            params["include_fields"] = "download_access_token"
            if token_ttl_seconds is not None:
                params["ttl"] = str(token_ttl_seconds)
        subject = Subject(meeting_uuid, recording_id)
        response = await self._authorized_get("get_meeting_recordings", url, params, subject)
        return _parse(MeetingRecordings, response)

    async def _authorized_get(
        self, operation: str, url: str, params: dict[str, str], subject: Subject
    ) -> httpx.Response:
        token = await self._access_token()
        try:
            return await self._attempts(operation, "GET", url, params, token, subject)
        except _TokenRejected:
            pass
        await self._drop_token(token)
        token = await self._access_token()
        try:
            return await self._attempts(operation, "GET", url, params, token, subject)
        except _TokenRejected:
            raise Unauthorized("Zoom refused a freshly issued access token", 401) from None

    async def _access_token(self) -> str:
        token = self._token
        if token is not None and self._clock() < token.good_until:
            return token.value
        async with self._token_lock:
            token = self._token
            if token is not None and self._clock() < token.good_until:
                return token.value  # another caller fetched it while this one waited
            self._token = await self._fetch_token()
            return self._token.value

    async def _drop_token(self, rejected: str) -> None:
        async with self._token_lock:
            if self._token is not None and self._token.value == rejected:
                self._token = None  # callers rejected at once share the next fetch

    async def _fetch_token(self) -> _Token:
        params = {
            "grant_type": "account_credentials",
            "account_id": self._settings.zoom_account_id or "",
        }
        try:
            response = await self._attempts(
                "oauth_token", "POST", self._settings.zoom_oauth_url, params, None, NO_SUBJECT
            )
        except _TokenRejected:
            raise Unauthorized("Zoom refused the OAuth client credentials", 401) from None
        answer = _parse(AccessToken, response)
        lifetime = float(answer.expires_in)
        margin = min(TOKEN_MARGIN_SECONDS, lifetime / 2)
        return _Token(answer.access_token.get_secret_value(), self._clock() + lifetime - margin)

    async def _attempts(
        self,
        operation: str,
        method: str,
        url: str,
        params: dict[str, str],
        bearer: str | None,
        subject: Subject,
    ) -> httpx.Response:
        settings = self._settings
        request = _Request(operation, method, url, params, bearer, subject)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.zoom_api_attempts) | _retry_after_too_long(settings),
            wait=_wait(settings),
            retry=retry_if_exception_type(_Transient),
            before_sleep=_log_retry(operation),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    return await self._attempt(request, number)
        except _Transient as last:
            _give_up(operation, last)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _attempt(self, request: _Request, number: int) -> httpx.Response:
        operation, bearer = request.operation, request.bearer
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        auth = self._auth if bearer is None else None
        started = time.perf_counter()
        try:
            response = await self._http.request(
                request.method,
                request.url,
                params=request.params,
                headers=headers,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as exc:
            failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            await self._report(request, None, started, number, failure, None)
            raise _Transient(failure, None, None) from None
        status = response.status_code
        error = None if status < 400 else f"HTTP {status}"
        tracking = response.headers.get(TRACKING_HEADER)
        await self._report(request, status, started, number, error, tracking)
        if status < 400:
            return response
        if status == 401:
            raise _TokenRejected()
        if status == 404:
            raise NotFound(f"Zoom {operation}: 404 (not found)", 404)
        if status == 429 or status >= 500:
            retry_after = (
                retry_after_seconds(response.headers.get("retry-after"))
                if status in (429, 503)
                else None
            )
            raise _Transient(f"HTTP {status}", status, retry_after)
        raise ZoomApiError(f"Zoom {operation}: HTTP {status}", status)

    async def _report(
        self,
        request: _Request,
        status: int | None,
        started: float,
        attempt: int,
        error: str | None,
        tracking_id: str | None,
    ) -> None:
        if self._observer is None:
            return
        call = ApiCall(
            SERVICE,
            request.operation,
            request.method,
            without_query(request.url),
            status,
            time.perf_counter() - started,
            attempt,
            error,
            tracking_id,
            request.subject,
        )
        try:
            result = self._observer(call)
            if inspect.isawaitable(result):
                await result
        except Exception:  # the record is for people; the call itself goes on
            log.exception(
                "the Zoom API observer failed on %s attempt %d", request.operation, attempt
            )


def zoom_client(settings: Settings, observer: Observer | None = None) -> ZoomClient | None:
    """The client, or None while the Zoom API credentials are unset (the API is off)."""
    return ZoomClient(settings, observer) if settings.zoom_api_enabled() else None


def _parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except pydantic.ValidationError as exc:
        # Only where and what: pydantic's own message quotes the input, which may hold a token.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['type']}"
            for error in exc.errors()[:5]
        )
        raise BadAnswer(f"Zoom answered {model.__name__} badly: {problems}") from None


def _transient(state: RetryCallState) -> _Transient | None:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    return exc if isinstance(exc, _Transient) else None


def _wait(settings: Settings) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        last = _transient(state)
        if last is not None and last.retry_after is not None:
            return last.retry_after
        backoff = settings.zoom_api_backoff_seconds * 2 ** (state.attempt_number - 1)
        return float(min(backoff, BACKOFF_CAP_SECONDS))

    return wait


class _retry_after_too_long(stop_base):
    """Stop at once when Zoom asks for a wait longer than ZOOM_API_MAX_RETRY_AFTER_SECONDS."""

    def __init__(self, settings: Settings) -> None:
        self._bound = settings.zoom_api_max_retry_after_seconds

    def __call__(self, state: RetryCallState) -> bool:
        last = _transient(state)
        return last is not None and last.retry_after is not None and last.retry_after > self._bound


def _log_retry(operation: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        last = _transient(state)
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "Zoom %s attempt %d failed (%s); again in %.2f s",
            operation,
            state.attempt_number,
            last.error if last is not None else "?",
            wait,
        )

    return before_sleep


def _give_up(operation: str, last: _Transient) -> NoReturn:
    if last.status == 429:
        raise RateLimited(
            f"Zoom {operation}: still rate limited (429) after retrying", last.retry_after
        )
    raise Unavailable(f"Zoom {operation}: {last.error} after retrying", last.status)
