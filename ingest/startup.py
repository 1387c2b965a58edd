"""Ingest's start: what must happen before it takes requests (the services it needs answering,
the topics created, the producer started), run in the background so that `/healthz` answers at
once; meanwhile every other request but `/readyz`, `/metrics` and `/openapi.json` is answered
503 with Retry-After, so that no sender takes a refusal for good or an answer for a stored
request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.body import error_response
from ingest.metrics import IngestMetrics
from ingest.publisher import Publisher

Prepare = Callable[[], Awaitable[None]]
"""Waits until ingest may take requests (raises when it never may)."""

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
NOT_READY = "not ready: ingest is starting (waiting for the services /readyz lists); retry later"


class Startup:
    """`prepare`, then the publisher's start; `ready` once both are done. Without `prepare`
    the app is ready from the start (the publisher starts with the lifespan, as tests that run
    no lifespan expect)."""

    def __init__(self, publisher: Publisher, prepare: Prepare | None) -> None:
        self._publisher = publisher
        self._prepare = prepare
        self._task: asyncio.Task[None] | None = None
        self.ready = prepare is None

    async def begin(self) -> None:
        if self._prepare is None:
            await self._start()
        else:
            self._task = asyncio.create_task(self._run(self._prepare), name="ingest-startup")

    async def _run(self, prepare: Prepare) -> None:
        await prepare()
        await self._start()

    async def _start(self) -> None:
        await self._publisher.start()
        self.ready = True

    def gated(self) -> bool:
        """Whether there is a start to wait for (and so a readiness check "started")."""
        return self._prepare is not None

    async def end(self) -> None:
        """Stop waiting, if it still does. A failure of `prepare` is its caller's to report."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def is_ready(self) -> bool:
        return self.ready


class StartingGate:
    """ASGI middleware: 503 with Retry-After for every request but the open paths until the
    startup is done."""

    def __init__(self, app: ASGIApp, startup: Startup, metrics: IngestMetrics) -> None:
        self._app = app
        self._startup = startup
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._startup.ready and scope["path"] not in OPEN_PATHS:
            self._metrics.requests.labels(_endpoint(scope["path"]), "not_ready").inc()
            await error_response(503, NOT_READY)(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _endpoint(path: str) -> str:
    if path == "/webhooks/zoom":
        return "zoom"
    return "email" if path.startswith("/webhooks/email/") else "api"
