"""Request helpers shared by the endpoints: the body within a size limit, error answers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


class BodyTooLarge(ValueError):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise BodyTooLarge(f"body of {declared} bytes is over the {limit} byte limit")
        # The server reads no more than a declared length (httptools ends the body there).
        return await request.body()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body is over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


RETRY_AFTER_SECONDS = 5
"""What a 503 tells the sender to wait before trying again (Kafka or PostgreSQL unavailable)."""


def error_response(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    """A refusal, always as `{"error": …}`; a 503 says when to retry (Retry-After), and so does
    any refusal given `retry_after` (a 429)."""
    if retry_after is None and status == 503:
        retry_after = RETRY_AFTER_SECONDS
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)
