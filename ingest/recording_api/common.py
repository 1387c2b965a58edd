"""What every recording API endpoint shares: the refusal (`ApiError`), JSON answers, the body
reader, and the wrapper that runs an endpoint in one transaction and maps its errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg import AsyncConnection
from psycopg.errors import QueryCanceled
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.body import BodyTooLarge, error_response, read_body
from ingest.limits import ApiLimits, Busy, RateLimited
from ingest.metrics import IngestMetrics
from sinks import Database

M = TypeVar("M", bound=BaseModel)
MAX_API_BODY = 64 * 1024
AfterCommit = Callable[[], Awaitable[Response]]
"""What an endpoint leaves to do once its transaction has committed (a call to another service),
so that no pooled connection waits on it; it gives the answer."""
Endpoint = Callable[[Request, AsyncConnection], Awaitable[Response | AfterCommit]]


class ApiError(Exception):
    """A refusal: its status and message, and for an invalid body the fields at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        fields: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        if self.fields is None:
            return error_response(self.status, self.message, self.retry_after)
        return JSONResponse({"error": self.message, "fields": self.fields}, status_code=self.status)


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=headers)


async def read_model(request: Request, model: type[M]) -> M:
    """The body as `model`: 413 over `MAX_API_BODY` (refused before reading past it), 400 when
    not JSON (or nested too deeply to parse), 422 with the field errors when JSON but invalid."""
    try:
        raw = await read_body(request, MAX_API_BODY)
    except BodyTooLarge as exc:
        raise ApiError(413, f"body over {MAX_API_BODY} bytes") from exc
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from exc
    except RecursionError as exc:  # within the size limit, nested deeper than Python parses
        raise ApiError(400, "body is nested too deeply to read") from exc
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        fields = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise ApiError(422, "invalid body", fields) from exc


def transactional(
    db: Database, endpoint: Endpoint, metrics: IngestMetrics, limits: ApiLimits
) -> Callable[[Request], Awaitable[Response]]:
    """`endpoint` in one transaction; its `ApiError` as the answer, 503 while PostgreSQL is
    unreachable, while a bounded piece of work is full (`Busy`) or when a bounded read ran past
    its statement timeout; 429 for a caller over its rate. A 429 waits in the tarpit first. The
    transaction rolls back on any refusal. An endpoint that hands back `AfterCommit` work has it
    run after the commit, its refusals answered the same way."""

    async def handle(request: Request) -> Response:
        try:
            async with db.transaction() as conn:
                answer = await endpoint(request, conn)
            return answer if isinstance(answer, Response) else await answer()
        except ApiError as exc:
            await limits.tarpit.hold(exc.status)
            return exc.response()
        except RateLimited as exc:
            metrics.busy.labels("rate_limited").inc()
            await limits.tarpit.hold(429)
            return error_response(429, str(exc), exc.retry_after)
        except Busy as exc:
            metrics.busy.labels(exc.limiter).inc()
            return error_response(503, str(exc))
        except QueryCanceled:
            metrics.busy.labels("statement_timeout").inc()
            return error_response(503, "the query took too long, retry later")
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            return error_response(503, f"database unavailable, retry later: {exc}")

    return handle
