"""The rows an endpoint works on: the recording or event its path names (404 otherwise), and the
summary every answer about a recording starts from."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from starlette.requests import Request

from ingest.recording_api.common import ApiError
from schemas.recording_api import RecordingSummary
from sinks import recording_api as store


def parse_uuid(value: str, what: str) -> UUID:
    """A path's id; a malformed one names nothing, so it is 404 like an unknown one."""
    try:
        return UUID(value)
    except ValueError as exc:
        raise ApiError(404, f"no {what} {value!r}") from exc


async def path_recording(request: Request, conn: AsyncConnection) -> dict[str, Any]:
    found = await store.recording(conn, parse_uuid(request.path_params["uuid"], "recording"))
    if found is None:
        raise ApiError(404, f"no recording {request.path_params['uuid']!r}")
    return found


async def path_event(request: Request, conn: AsyncConnection) -> dict[str, Any]:
    found = await store.event(conn, parse_uuid(request.path_params["uuid"], "event"))
    if found is None:
        raise ApiError(404, f"no event {request.path_params['uuid']!r}")
    return found


def summary_fields(row: dict[str, Any], can_access: bool) -> dict[str, Any]:
    names = RecordingSummary.model_fields.keys() - {"can_access"}
    return {**{name: row[name] for name in names}, "can_access": can_access}
