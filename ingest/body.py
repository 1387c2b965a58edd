"""Request helpers shared by the endpoints: the body within a size limit, error answers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


class BodyTooLarge(ValueError):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body of {declared} bytes is over the {limit} byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body is over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def error_response(status: int, message: str) -> JSONResponse:
    """A refusal, always as `{"error": …}`."""
    return JSONResponse({"error": message}, status_code=status)
