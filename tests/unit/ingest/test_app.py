import json
import time

import httpx
import pytest

from ingest import InMemoryPublisher, create_app
from ingest.body import error_response
from ingest.recording_api import ApiError
from schemas import RawWebhookEnvelope
from schemas.settings import Settings
from tests.conftest import signed
from zoomstream.samples import meeting_object, zoom_event


async def post(
    settings: Settings, publisher: InMemoryPublisher, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    app = create_app(settings, publisher)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        return await client.post("/webhooks/zoom", content=body, headers=headers)


async def test_signed_webhook_is_published_then_answered_200(settings: Settings) -> None:
    publisher = InMemoryPublisher()
    body, headers = signed(zoom_event("meeting.started", meeting_object("86431910364")))
    response = await post(settings, publisher, body, headers)
    assert response.status_code == 200
    [(topic, key, value)] = publisher.messages
    assert topic == "unit.zoom.webhooks.raw"
    assert key == b"86431910364"
    assert value is not None
    envelope = RawWebhookEnvelope.model_validate_json(value)
    assert envelope.body == body
    assert response.json()["webhook_id"] == envelope.webhook_id
    assert "authorization" not in envelope.headers
    assert envelope.headers["x-zm-signature"] == headers["x-zm-signature"]


async def test_numeric_meeting_id_becomes_a_text_key(settings: Settings) -> None:
    publisher = InMemoryPublisher()
    body, headers = signed(zoom_event("recording.completed", {"id": 85392858403, "uuid": "u=="}))
    assert (await post(settings, publisher, body, headers)).status_code == 200
    assert publisher.messages[0][1] == b"85392858403"


async def test_kafka_not_acknowledging_means_503_never_200(settings: Settings) -> None:
    publisher = InMemoryPublisher(available=False)
    body, headers = signed(zoom_event("meeting.started", meeting_object()))
    response = await post(settings, publisher, body, headers)
    assert response.status_code == 503
    assert response.headers["retry-after"]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("forged", 401),
        ("stale", 401),
        ("unsigned", 401),
        ("bad-json", 400),
        ("json-not-object", 400),
        ("no-event", 400),
        ("not-utf8", 400),
        ("too-large", 413),
    ],
)
async def test_rejected_requests_publish_nothing(
    settings: Settings, case: str, status: int
) -> None:
    publisher = InMemoryPublisher()
    body = json.dumps(zoom_event("meeting.started", meeting_object())).encode()
    now = int(time.time())
    if case == "forged":
        body, headers = signed(body, secret="not-the-secret")
    elif case == "stale":
        body, headers = signed(body, timestamp=now - settings.signature_tolerance_seconds - 10)
    elif case == "unsigned":
        headers = {"content-type": "application/json"}
    elif case == "bad-json":
        body, headers = signed(b'{"event": "meeting.started",')
    elif case == "json-not-object":
        body, headers = signed(b'["meeting.started"]')
    elif case == "no-event":
        body, headers = signed(b'{"payload": {}}')
    elif case == "not-utf8":
        body, headers = signed(b'{"event": "meeting.\xff"}')
    else:
        body, headers = signed(b'{"event":"x","pad":"' + b"a" * settings.max_body_bytes + b'"}')
    response = await post(settings, publisher, body, headers)
    assert response.status_code == status
    assert "error" in response.json()
    assert publisher.messages == []


async def test_url_validation_is_answered_only_when_signed(settings: Settings) -> None:
    publisher = InMemoryPublisher()
    challenge = {
        "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
        "event_ts": 1654503849680,
        "event": "endpoint.url_validation",
    }
    body, headers = signed(challenge)
    response = await post(settings, publisher, body, headers)
    assert response.status_code == 200
    assert response.json()["plainToken"] == "qgg8vlvZRS6UYooatFL8Aw"
    assert len(response.json()["encryptedToken"]) == 64

    forged_body, forged_headers = signed(challenge, secret="attacker")
    assert (await post(settings, publisher, forged_body, forged_headers)).status_code == 401
    assert publisher.messages == []


async def test_url_validation_without_token_is_400(settings: Settings) -> None:
    body, headers = signed({"event": "endpoint.url_validation", "payload": {}})
    assert (await post(settings, InMemoryPublisher(), body, headers)).status_code == 400


async def test_health_and_readiness(settings: Settings) -> None:
    async def database_down() -> bool:
        raise OSError("connection refused")

    app = create_app(settings, InMemoryPublisher(), readiness={"postgresql": database_down})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://i"
    ) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"kafka": True, "postgresql": False}


def test_secret_is_required(settings: Settings) -> None:
    with pytest.raises(ValueError, match="ZOOM_WEBHOOK_SECRET"):
        create_app(settings.model_copy(update={"zoom_webhook_secret": None}), InMemoryPublisher())


async def test_metrics_count_requests_by_outcome(settings: Settings) -> None:
    app = create_app(settings, InMemoryPublisher())
    good, good_headers = signed(zoom_event("meeting.started", meeting_object()))
    forged, forged_headers = signed(zoom_event("meeting.started", meeting_object()), secret="x")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://i"
    ) as client:
        await client.post("/webhooks/zoom", content=good, headers=good_headers)
        await client.post("/webhooks/zoom", content=forged, headers=forged_headers)
        exposition = (await client.get("/metrics")).text
    assert 'zoomstream_ingest_requests_total{endpoint="zoom",outcome="accepted"} 1.0' in exposition
    assert (
        'zoomstream_ingest_requests_total{endpoint="zoom",outcome="bad_signature"} 1.0'
        in exposition
    )
    assert "zoomstream_ingest_publish_seconds_count 1.0" in exposition


def test_every_503_says_when_to_retry_and_no_other_refusal_does() -> None:
    """One error mapping: the recording API's 503s (its publisher or database down) carry the
    Retry-After that ingest's webhook 503s always had."""
    assert error_response(503, "not stored, retry later").headers["retry-after"] == "5"
    assert ApiError(503, "not stored, retry later").response().headers["retry-after"] == "5"
    assert "retry-after" not in error_response(404, "no such recording").headers


@pytest.mark.parametrize(
    ("serve", "webhooks", "api"),
    [("all", True, True), ("webhooks", True, False), ("api", False, True)],
)
async def test_a_process_serves_the_webhooks_the_api_or_both(
    settings: Settings, serve: str, webhooks: bool, api: bool
) -> None:
    app = create_app(settings, InMemoryPublisher(), serve=serve)  # type: ignore[arg-type]
    paths = {getattr(route, "path", "") for route in app.routes}
    assert {"/healthz", "/readyz", "/metrics", "/openapi.json"} <= paths
    assert ("/webhooks/zoom" in paths, "/webhooks/email/{provider}" in paths) == (webhooks,) * 2
    assert ("/api/recordings/{uuid}/access/" in paths, "/dashboard" in paths) == (api,) * 2


async def test_a_refusal_may_say_when_to_come_back() -> None:
    response = error_response(429, "too many wrong passwords", retry_after=42)
    assert (response.status_code, response.headers["retry-after"]) == (429, "42")
    assert "retry-after" not in error_response(403, "no").headers
