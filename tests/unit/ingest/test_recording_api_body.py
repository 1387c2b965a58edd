"""The recording API's body reader (`read_model`): an oversize body is refused with 413 before it
is read in full, whether its length is declared or it comes chunked; a body that is not JSON is
400 (also when nested deeper than the parser goes); an invalid one is 422 with the fields at
fault."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest.recording_api import ApiError
from ingest.recording_api.common import MAX_API_BODY, read_model
from schemas.recording_api import ProgressBeacon

CHUNK = 16 * 1024


async def beacon_echo(request: Request) -> Response:
    try:
        beacon = await read_model(request, ProgressBeacon)
    except ApiError as exc:
        return exc.response()
    return JSONResponse(beacon.model_dump(mode="json"))


class Chunks:
    """A streamed body of `count` chunks that remembers how many the server pulled."""

    def __init__(self, count: int) -> None:
        self.count, self.pulled = count, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.pulled += 1
            yield b" " * CHUNK


async def post(content: bytes | Chunks, headers: dict[str, str] | None = None) -> httpx.Response:
    app = Starlette(routes=[Route("/beacon", beacon_echo, methods=["POST"])])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.post("/beacon", content=content, headers=headers)


async def test_a_valid_body_is_read_as_its_model() -> None:
    response = await post(b'{"position_seconds": 30, "watch_seconds": 10}')
    assert response.status_code == 200
    assert response.json() == {"position_seconds": 30.0, "watch_seconds": 10.0, "beacon_id": None}


async def test_a_declared_length_over_the_limit_is_refused_before_any_of_it_is_read() -> None:
    body = Chunks(count=MAX_API_BODY // CHUNK + 2)
    response = await post(body, headers={"content-length": str(body.count * CHUNK)})
    assert response.status_code == 413
    assert response.json() == {"error": f"body over {MAX_API_BODY} bytes"}
    assert body.pulled == 0


async def test_a_chunked_body_over_the_limit_is_refused_once_it_passes_the_limit() -> None:
    body = Chunks(count=64)  # 1 MiB, no Content-Length
    response = await post(body)
    assert response.status_code == 413
    assert response.json() == {"error": f"body over {MAX_API_BODY} bytes"}
    assert body.pulled == MAX_API_BODY // CHUNK + 1


async def test_a_body_at_the_limit_is_read() -> None:
    document = b'{"position_seconds": 1, "watch_seconds": 1}'
    response = await post(document + b" " * (MAX_API_BODY - len(document)))
    assert response.status_code == 200


async def test_a_body_that_is_not_json_is_400() -> None:
    response = await post(b"position_seconds=30")
    assert response.status_code == 400
    assert response.json()["error"].startswith("body is not JSON")


async def test_a_body_nested_deeper_than_json_parses_is_400() -> None:
    response = await post(b'{"beacon_id": ' + b"[" * 60_000 + b"}")  # within the size limit
    assert response.status_code == 400
    assert response.json() == {"error": "body is nested too deeply to read"}


async def test_an_invalid_body_is_422_with_the_fields_at_fault() -> None:
    response = await post(b'{"position_seconds": -1, "watch_seconds": 10, "extra": true}')
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "invalid body"
    assert [(field["loc"], field["type"]) for field in answer["fields"]] == [
        (["position_seconds"], "greater_than_equal"),
        (["extra"], "extra_forbidden"),
    ]
    assert all(field["msg"] for field in answer["fields"])
