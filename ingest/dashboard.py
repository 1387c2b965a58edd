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

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ingest.body import error_response
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


def dashboard_routes(settings: Settings, db: Database) -> list[Route]:
    token = settings.analytics_token.get_secret_value() if settings.analytics_token else None

    async def page(_request: Request) -> Response:
        if token is None:
            return error_response(404, "the dashboard is off: ANALYTICS_TOKEN is not set")
        return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"})

    async def analytics(request: Request) -> Response:
        name = request.path_params["name"]
        if token is None or name not in QUERIES:
            return error_response(404, f"no analytics {name!r}")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return error_response(401, "analytics need 'Authorization: Bearer <ANALYTICS_TOKEN>'")
        try:
            hours = min(max(int(request.query_params.get("hours", "48")), 1), 24 * 90)
        except ValueError:
            return error_response(400, "hours must be a whole number")
        since = datetime.now(tz=UTC) - timedelta(hours=hours)
        async with db.transaction() as conn:
            found = await rows(conn, name, since)
        return JSONResponse([{k: _jsonable(v) for k, v in row.items()} for row in found])

    return [
        Route("/dashboard", page, methods=["GET"]),
        Route("/api/analytics/{name}/", analytics, methods=["GET"]),
    ]
