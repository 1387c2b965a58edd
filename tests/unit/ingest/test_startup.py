"""Ingest given something to wait for (`prepare`): /healthz at once, /readyz 503 and every other
request 503 with Retry-After until it is done; nothing is published before."""

import asyncio

import httpx

from ingest import InMemoryPublisher, create_app
from schemas.settings import Settings
from tests.conftest import signed
from zoomstream.samples import meeting_object, zoom_event


async def test_ingest_refuses_webhooks_until_started_then_takes_them(settings: Settings) -> None:
    services_up = asyncio.Event()
    publisher = InMemoryPublisher()

    async def wait_for_services() -> None:
        await services_up.wait()

    app = create_app(settings, publisher, prepare=wait_for_services)
    body, headers = signed(zoom_event("meeting.started", meeting_object("1")))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://i") as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"started": False, "kafka": True}
        for path in ("/webhooks/zoom", "/webhooks/email/resend", "/api/recordings/x/access/"):
            refused = await client.post(path, content=body, headers=headers)
            assert refused.status_code == 503, path
            assert refused.headers["retry-after"] == "5"
        assert publisher.messages == []
        metrics = (await client.get("/metrics")).text
        assert (
            'zoomstream_ingest_requests_total{endpoint="zoom",outcome="not_ready"} 1.0' in metrics
        )

        services_up.set()
        await asyncio.sleep(0.01)  # the startup task runs on
        assert (await client.get("/readyz")).json()["checks"]["started"] is True
        assert (
            await client.post("/webhooks/zoom", content=body, headers=headers)
        ).status_code == 200
        assert len(publisher.messages) == 1


async def test_a_startup_that_fails_keeps_refusing_and_stops_cleanly(settings: Settings) -> None:
    async def never() -> None:
        raise RuntimeError("gave up")

    app = create_app(settings, InMemoryPublisher(), prepare=never)
    body, headers = signed(zoom_event("meeting.started", meeting_object("1")))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as client,
    ):
        await asyncio.sleep(0.01)
        assert (
            await client.post("/webhooks/zoom", content=body, headers=headers)
        ).status_code == 503
        assert (await client.get("/readyz")).status_code == 503


async def test_a_startup_still_waiting_is_cancelled_when_ingest_stops(settings: Settings) -> None:
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    app = create_app(settings, InMemoryPublisher(), prepare=forever)
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.01)
    assert cancelled.is_set()
