"""GET /dashboard (one HTML page, charts drawn in the browser, nothing from a CDN) and the JSON
it draws, GET /api/analytics/{name}/, from the analytics views. Both exist only when
ANALYTICS_TOKEN is set; the JSON needs it as a bearer token (the page takes it from the URL's
fragment, which never reaches a server or a log, or asks for it)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.resources import files
from typing import Any

from psycopg import AsyncConnection
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ingest.body import error_response
from ingest.limits import ApiLimits
from ingest.metrics import IngestMetrics
from ingest.recording_api.common import ApiError, transactional
from schemas.settings import Settings
from sinks import Database
from sinks.analytics import QUERIES, rows

PAGE = files("ingest").joinpath("static/dashboard.html")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value if isinstance(value, int | float | str | bool | type(None)) else str(value)


def dashboard_routes(
    settings: Settings, db: Database, metrics: IngestMetrics, limits: ApiLimits
) -> list[Route]:
    token = settings.analytics_token.get_secret_value() if settings.analytics_token else None
    answers = limits.cache()  # (name, hours) → rows, for HEAVY_READ_CACHE_SECONDS

    async def page(_request: Request) -> Response:
        if token is None:
            return error_response(404, "the dashboard is off: ANALYTICS_TOKEN is not set")
        return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"})

    async def analytics(request: Request, conn: AsyncConnection) -> Response:
        """One analytics view's rows: a heavy read, bounded (`ApiLimits.heavy_read`) and reused
        for HEAVY_READ_CACHE_SECONDS. Not throttled per caller: the page asks for every chart at
        once, its callers hold the analytics token, and a reload within the cache costs nothing."""
        name = request.path_params["name"]
        if token is None or name not in QUERIES:
            raise ApiError(404, f"no analytics {name!r}")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "analytics need 'Authorization: Bearer <ANALYTICS_TOKEN>'")
        try:
            hours = min(max(int(request.query_params.get("hours", "48")), 1), 24 * 90)
        except ValueError as exc:
            raise ApiError(400, "hours must be a whole number") from exc
        found = answers.get((name, hours))
        if found is None:
            since = datetime.now(tz=UTC) - timedelta(hours=hours)
            async with limits.heavy_read(conn):
                found = [
                    {k: _jsonable(v) for k, v in row.items()}
                    for row in await rows(conn, name, since)
                ]
            answers[(name, hours)] = found
        return JSONResponse(found)

    return [
        Route("/dashboard", page, methods=["GET"]),
        Route(
            "/api/analytics/{name}/",
            transactional(db, analytics, metrics, limits),
            methods=["GET"],
        ),
    ]
