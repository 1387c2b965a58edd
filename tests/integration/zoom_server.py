"""A fake Zoom: a real HTTP server (Starlette under uvicorn, in a thread, on a free port).

It speaks Zoom's server-to-server OAuth token endpoint (`POST /oauth/token`: HTTP Basic client
id and secret, `grant_type=account_credentials`, `account_id`; answers `access_token`,
`token_type`, `expires_in`, `scope`) and `GET /v2/meetings/{meetingUUID}/recordings` (bearer
token; the UUID decoded the way Zoom does, so a UUID that needed double encoding and got it
once is not found). Tests program it: `fail_next("recordings", Fault(...), times=2)`, revoke its
tokens, read its call counts and the UUID path segments as received.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.integration.conftest import free_port
from tests.polling import poll

ACCOUNT_ID = "fake-account"
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-s3cr3t"
TOKEN = "token"
RECORDINGS = "recordings"


@dataclass(frozen=True)
class Fault:
    """One programmed answer: a status (with headers), a delay first, or a body that is not JSON."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    bad_json: bool = False


@dataclass
class ZoomState:
    expires_in: int = 3600
    tokens: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)
    recordings: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    received_segments: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeZoom:
    def __init__(self, state: ZoomState, port: int) -> None:
        self.state = state
        self.port = port
        self.oauth_url = f"http://127.0.0.1:{port}/oauth/token"
        self.api_base_url = f"http://127.0.0.1:{port}/v2"

    def client_settings(self) -> dict[str, Any]:
        """The settings that point zoomstream's Zoom API client here (Settings' names)."""
        return {
            "zoom_account_id": ACCOUNT_ID,
            "zoom_client_id": CLIENT_ID,
            "zoom_client_secret": CLIENT_SECRET,
            "zoom_api_base_url": self.api_base_url,
            "zoom_oauth_url": self.oauth_url,
        }

    def client_env(self) -> dict[str, str]:
        """The same, as the environment of a zoomstream process."""
        return {name.upper(): value for name, value in self.client_settings().items()}

    def fail_next(self, endpoint: str, fault: Fault, times: int = 1) -> None:
        with self.state.lock:
            self.state.faults.setdefault(endpoint, []).extend([fault] * times)

    def revoke_tokens(self) -> None:
        with self.state.lock:
            self.state.tokens.clear()

    def add_recording(self, meeting_uuid: str, **fields: Any) -> dict[str, Any]:
        body = recording_answer(meeting_uuid, **fields)
        with self.state.lock:
            self.state.recordings[meeting_uuid] = body
        return body

    def calls(self, endpoint: str) -> int:
        with self.state.lock:
            return self.state.calls[endpoint]

    @property
    def issued_tokens(self) -> list[str]:
        with self.state.lock:
            return list(self.state.issued)

    @property
    def received_segments(self) -> list[str]:
        with self.state.lock:
            return list(self.state.received_segments)


def recording_answer(meeting_uuid: str, **fields: Any) -> dict[str, Any]:
    """Zoom's "Get meeting recordings" answer, trimmed to what the client reads."""
    body: dict[str, Any] = {
        "uuid": meeting_uuid,
        "id": 85746065432,
        "account_id": ACCOUNT_ID,
        "host_id": "z8yBXksRTZ6bbeE0jsyQLg",
        "topic": "A webinar",
        "start_time": "2026-11-30T10:00:00Z",
        "total_size": 529758,
        "recording_count": 2,
        "recording_files": [
            {
                "id": "ed6c2f27-2ae7-42f4-b3d0-835b493e4fa8",
                "meeting_id": meeting_uuid,
                "recording_start": "2026-11-30T10:00:03Z",
                "recording_end": "2026-11-30T10:40:00Z",
                "file_type": "MP4",
                "file_extension": "MP4",
                "file_size": 529000,
                "play_url": "https://example.zoom.us/rec/play/abc",
                "download_url": "https://example.zoom.us/rec/download/abc",
                "status": "completed",
                "recording_type": "shared_screen_with_speaker_view",
            },
            {
                "id": "f1b7a4a2-6f41-4f0e-9d8e-1f3a2b9c0d11",
                "meeting_id": meeting_uuid,
                "file_type": "TRANSCRIPT",
                "file_extension": "VTT",
                "file_size": 758,
                "download_url": "https://example.zoom.us/rec/download/def",
                "status": "processing",
                "recording_type": "audio_transcript",
            },
        ],
    }
    body.update(fields)
    return body


def _next_fault(state: ZoomState, endpoint: str) -> Fault | None:
    with state.lock:
        state.calls[endpoint] += 1
        queue = state.faults.get(endpoint)
        return queue.pop(0) if queue else None


async def _faulty(fault: Fault | None) -> Response | None:
    if fault is None:
        return None
    if fault.delay_seconds:
        await asyncio.sleep(fault.delay_seconds)
    if fault.bad_json:
        return Response(b'{"uuid": "trunc', media_type="application/json")
    if fault.status != 200:
        body = {"code": fault.status, "message": "programmed failure"}
        return JSONResponse(body, fault.status, headers=fault.headers)
    return None


def _zoom_headers() -> dict[str, str]:
    return {"x-zm-trackingid": f"v=2.0;clid=us06;rid=WEB_{secrets.token_hex(8)}"}


def create_fake_zoom(state: ZoomState) -> Starlette:
    expected_basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

    async def token(request: Request) -> Response:
        answer = await _faulty(_next_fault(state, TOKEN))
        if answer is not None:
            return answer
        # Zoom takes the parameters in the query or as a urlencoded body.
        values = {**dict(parse_qsl((await request.body()).decode())), **request.query_params}
        if request.headers.get("authorization") != f"Basic {expected_basic}":
            return JSONResponse({"reason": "Invalid client_id or client_secret"}, 401)
        if values.get("grant_type") != "account_credentials":
            return JSONResponse(
                {"reason": "unsupported grant type", "error": "invalid_request"}, 400
            )
        if values.get("account_id") != ACCOUNT_ID:
            return JSONResponse({"reason": "Invalid account_id", "error": "invalid_request"}, 400)
        issued = f"eyJ.fake.{secrets.token_urlsafe(24)}"
        with state.lock:
            state.tokens.add(issued)
            state.issued.append(issued)
            expires_in = state.expires_in
        body = {
            "access_token": issued,
            "token_type": "bearer",
            "expires_in": expires_in,
            "scope": "cloud_recording:read:list_recording_files:admin",
            "api_url": "https://api.zoom.us",
        }
        return JSONResponse(body, headers=_zoom_headers())

    async def recordings(request: Request) -> Response:
        answer = await _faulty(_next_fault(state, RECORDINGS))
        if answer is not None:
            return answer
        raw_path = request.scope["raw_path"].decode("ascii")
        segment = raw_path.removeprefix("/v2/meetings/").removesuffix("/recordings")
        with state.lock:
            state.received_segments.append(segment)
            known = request.headers.get("authorization", "").removeprefix("Bearer ") in state.tokens
        if not known:
            return JSONResponse({"code": 124, "message": "Invalid access token."}, 401)
        meeting_uuid = _zoom_decoded(segment)
        with state.lock:
            body = state.recordings.get(meeting_uuid) if meeting_uuid is not None else None
        if body is None:
            return JSONResponse({"code": 3301, "message": "This recording does not exist."}, 404)
        if request.query_params.get("include_fields") == "download_access_token":
            body = {**body, "download_access_token": "dl-token-SECRET-" + "x" * 16}
        return JSONResponse(body, headers=_zoom_headers())

    return Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/v2/meetings/{rest:path}", recordings, methods=["GET"]),
        ]
    )


def _zoom_decoded(segment: str) -> str | None:
    """Decoded once; and again when that gives a UUID that needed double encoding (`%2F…`).
    A UUID that begins with `/` or holds `//`, encoded only once, is lost on the way: None."""
    once = unquote(segment)
    if once.startswith("/") or "//" in once:
        return None
    twice = unquote(once)
    return twice if twice.startswith("/") or "//" in twice else once


@contextmanager
def running_fake_zoom(state: ZoomState | None = None) -> Iterator[FakeZoom]:
    state = state or ZoomState()
    port = free_port()
    config = uvicorn.Config(
        create_fake_zoom(state),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-zoom", daemon=True)
    thread.start()
    try:
        poll(lambda: server.started, what="the fake Zoom to listen", timeout=10, interval=0.05)
        yield FakeZoom(state, port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
