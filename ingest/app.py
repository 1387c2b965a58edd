"""The HTTP edge: verify, answer Zoom's challenge, publish, and only then say 200."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Literal

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest.api_call_log import ApiCallLog
from ingest.body import BodyTooLarge, error_response, read_body
from ingest.dashboard import dashboard_routes
from ingest.email_webhooks import email_handler
from ingest.envelope import envelope_value, kept_headers
from ingest.limits import ApiLimits
from ingest.metrics import CONTENT_TYPE, IngestMetrics
from ingest.openapi import document
from ingest.publisher import Publisher, PublishError
from ingest.recording_api import recording_routes
from ingest.recording_api.links import LinkRefresher
from ingest.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    url_validation_answer,
    verify_zoom_request,
)
from ingest.startup import Prepare, StartingGate, Startup
from ingest.zoom_api import zoom_client
from schemas import URL_VALIDATION, InvalidZoomEvent, parse_zoom_head
from schemas.settings import Settings
from schemas.topics import ZOOM_RAW
from sinks import Database

ReadinessCheck = Callable[[], Awaitable[bool]]
Serve = Literal["all", "webhooks", "api"]
"""What one ingest process serves: the webhooks (Zoom's and the email providers'), the API (the
recording API and the dashboard), or both. Health, metrics and /openapi.json are on every one."""


def create_app(
    settings: Settings,
    publisher: Publisher,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    clock: Callable[[], float] = time.time,
    metrics: IngestMetrics | None = None,
    db: Database | None = None,
    serve: Serve = "all",
    prepare: Prepare | None = None,
) -> Starlette:
    """Build the ingest app. The publisher is started and closed by the app's lifespan; given
    `prepare` (waiting for the services, creating the topics), only after it, in the background:
    until then /healthz answers and everything else but /readyz, /metrics and /openapi.json
    is 503 with Retry-After (`ingest.startup`).

    The webhooks never touch PostgreSQL and no API request shares their event loop when they
    run as processes of their own (`zoomstream ingest --only webhooks|api`)."""
    secret = settings.secret_bytes()
    metrics = metrics or IngestMetrics()

    def outcome(status: int, name: str, message: str) -> JSONResponse:
        metrics.requests.labels("zoom", name).inc()
        return error_response(status, message)

    raw_topic = settings.topic(ZOOM_RAW)
    db = db or Database(settings.database_url)
    counters_db = Database(settings.database_url, max_size=settings.password_check_concurrency)
    limits = ApiLimits.from_settings(settings, clock)
    api_calls = ApiCallLog.for_database(db, metrics.api_calls)  # every attempt to Zoom's API
    zoom = zoom_client(settings, api_calls.record) if serve in ("all", "api") else None
    links = LinkRefresher(
        zoom, settings.zoom_link_token_ttl_seconds, settings.zoom_link_wait_seconds, clock
    )
    openapi = document()
    startup = Startup(publisher, prepare)
    checks: dict[str, ReadinessCheck] = {
        **({"started": startup.is_ready} if startup.gated() else {}),
        "kafka": publisher.is_ready,
        **(readiness or {}),
    }

    # Per request, only what the answer and the key need: the head of the body (ZoomEventHead),
    # one envelope serialised once, counters whose labels are bound here.
    accepted = metrics.requests.labels("zoom", "accepted")
    limit = settings.max_body_bytes
    tolerance = settings.signature_tolerance_seconds
    skew = settings.signature_future_skew_seconds

    async def zoom_webhook(request: Request) -> Response:
        try:
            body = await read_body(request, limit)
        except BodyTooLarge as exc:
            return outcome(413, "too_large", str(exc))
        except ClientDisconnect:
            return outcome(400, "disconnected", "client disconnected before the body was read")
        now = clock()
        headers = kept_headers(request.scope["headers"])  # the signature's among them
        try:
            verify_zoom_request(
                secret=secret,
                signature=headers.get(SIGNATURE_HEADER),
                timestamp=headers.get(TIMESTAMP_HEADER),
                body=body,
                now=now,
                tolerance_seconds=tolerance,
                future_skew_seconds=skew,
            )
        except SignatureError as exc:
            return outcome(401, "bad_signature", f"invalid signature: {exc}")
        try:
            event = parse_zoom_head(body)
        except InvalidZoomEvent as exc:
            return outcome(400, "bad_body", f"invalid webhook body: {exc}")
        if event.event == URL_VALIDATION:
            token = event.payload.plainToken
            if token is None:
                return outcome(
                    400, "bad_body", "endpoint.url_validation without payload.plainToken"
                )
            metrics.requests.labels("zoom", "url_validation").inc()
            return JSONResponse(url_validation_answer(secret, token))
        webhook_id, value = envelope_value(body, headers, datetime.fromtimestamp(now, tz=UTC))
        meeting_id = event.meeting_id
        key = meeting_id.encode() if meeting_id else None
        started = time.perf_counter()
        try:
            await publisher.publish(raw_topic, key, value)
        except PublishError as exc:
            metrics.requests.labels("zoom", "kafka_unavailable").inc()
            return error_response(503, f"not stored, retry later: {exc}")
        metrics.publish_seconds.observe(time.perf_counter() - started)
        accepted.inc()
        return JSONResponse({"status": "received", "webhook_id": webhook_id})

    async def prometheus(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    async def openapi_json(_request: Request) -> Response:
        return JSONResponse(openapi)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        results = {name: await _safely(check) for name, check in checks.items()}
        status = 200 if all(results.values()) else 503
        return JSONResponse({"ready": status == 200, "checks": results}, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await startup.begin()
        try:
            yield
        finally:
            await startup.end()
            await publisher.close()
            if zoom is not None:
                await zoom.aclose()
            await api_calls.close()  # before the pool it writes with
            await db.close()
            await counters_db.close()

    # Starlette tries routes in order: Zoom's webhook, the one route under load, first.
    routes: list[Route] = []
    if serve in ("all", "webhooks"):
        routes += [
            Route("/webhooks/zoom", zoom_webhook, methods=["POST"]),
            Route(
                "/webhooks/email/{provider}",
                email_handler(settings, publisher, clock),
                methods=["POST"],
            ),
        ]
    routes += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    if serve in ("all", "api"):
        routes += [
            *recording_routes(settings, publisher, db, counters_db, metrics, limits, links, clock),
            *dashboard_routes(settings, db, metrics, limits),
        ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(StartingGate, startup=startup, metrics=metrics)],
    )


async def _safely(check: ReadinessCheck) -> bool:
    try:
        return await check()
    except Exception:
        return False
