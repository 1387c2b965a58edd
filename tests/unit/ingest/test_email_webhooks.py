"""POST /webhooks/email/{provider}: verified, shape-checked, published, then 200."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ingest import InMemoryPublisher, create_app
from schemas.email_envelope import EmailWebhookEnvelope
from schemas.settings import Settings
from tests.conftest import SECRET
from tests.email_signing import (
    MAILGUN_KEY,
    RESEND_BODY,
    SENDGRID_BODY,
    SVIX_SECRET,
    mailgun,
    sendgrid_sign,
    svix_headers,
)

NOW = int(time.time())


@pytest.fixture
def configured(sendgrid_keys: tuple[ec.EllipticCurvePrivateKey, str]) -> Settings:
    return Settings(
        _env_file=None,
        zoom_webhook_secret=SECRET,
        topic_prefix="unit.",
        resend_webhook_secret=SVIX_SECRET,
        sendgrid_verification_key=sendgrid_keys[1],
        postmark_webhook_user="postmark",
        postmark_webhook_password="s3cret",
        mailgun_signing_key=MAILGUN_KEY,
    )


async def post(
    settings: Settings,
    publisher: InMemoryPublisher,
    provider: str,
    body: bytes,
    headers: dict[str, str],
) -> httpx.Response:
    app = create_app(settings, publisher, clock=lambda: float(NOW))  # signed at NOW
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://i"
    ) as client:
        return await client.post(f"/webhooks/email/{provider}", content=body, headers=headers)


def mailgun_body(**signature_changes: object) -> bytes:
    signature = {**mailgun(timestamp=NOW), **signature_changes}
    return json.dumps(
        {
            "signature": signature,
            "event-data": {"event": "delivered", "timestamp": NOW, "recipient": "a@x.org"},
        }
    ).encode()


async def test_each_provider_is_published_with_its_delivery_id(
    configured: Settings, sendgrid_keys: tuple[ec.EllipticCurvePrivateKey, str]
) -> None:
    publisher = InMemoryPublisher()
    postmark_body = json.dumps(
        {
            "RecordType": "Delivery",
            "MessageID": "m",
            "Recipient": "a@x.org",
            "DeliveredAt": "2026-11-30T10:00:00Z",
        }
    ).encode()
    cases = [
        ("resend", RESEND_BODY, svix_headers(RESEND_BODY, ts=NOW)),
        (
            "sendgrid",
            SENDGRID_BODY,
            {
                "x-twilio-email-event-webhook-signature": sendgrid_sign(
                    sendgrid_keys[0], str(NOW), SENDGRID_BODY
                ),
                "x-twilio-email-event-webhook-timestamp": str(NOW),
            },
        ),
        (
            "postmark",
            postmark_body,
            {"authorization": "Basic " + base64.b64encode(b"postmark:s3cret").decode()},
        ),
        ("mailgun", mailgun_body(), {"content-type": "application/json"}),
    ]
    for provider, body, headers in cases:
        response = await post(configured, publisher, provider, body, headers)
        assert response.status_code == 200, (provider, response.text)
    envelopes = [
        EmailWebhookEnvelope.model_validate_json(value or b"")
        for _topic, _key, value in publisher.messages
    ]
    assert [e.provider for e in envelopes] == ["resend", "sendgrid", "postmark", "mailgun"]
    assert envelopes[0].delivery_id == "msg_2Lh9KRb0pzN4LePd3XiA4v5ML1P"
    assert envelopes[1].body == SENDGRID_BODY  # CRLF and all
    assert envelopes[3].delivery_id == mailgun()["token"]
    assert {topic for topic, _k, _v in publisher.messages} == {"unit.email.events.raw"}
    assert "authorization" not in envelopes[2].headers


@pytest.mark.parametrize(
    ("provider", "body", "headers", "status"),
    [
        ("gmail", b"{}", {}, 404),
        ("resend", RESEND_BODY, svix_headers(RESEND_BODY, ts=NOW - 3600), 401),
        ("resend", RESEND_BODY + b" ", svix_headers(RESEND_BODY, ts=NOW), 401),
        ("resend", b"[1]", svix_headers(b"[1]", ts=NOW), 400),
        ("sendgrid", SENDGRID_BODY, {}, 401),
        (
            "postmark",
            b"{}",
            {"authorization": "Basic " + base64.b64encode(b"postmark:wrong").decode()},
            401,
        ),
        ("mailgun", mailgun_body(token="tampered"), {}, 401),
        ("mailgun", b"not json", {}, 400),
        ("mailgun", b"[" * 60_000, {}, 400),  # read before its signature: deeper than json parses
    ],
)
async def test_refusals_publish_nothing(
    configured: Settings, provider: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    publisher = InMemoryPublisher()
    response = await post(configured, publisher, provider, body, headers)
    assert response.status_code == status, response.text
    assert publisher.messages == []


async def test_a_provider_without_its_secret_is_not_enabled(settings: Settings) -> None:
    publisher = InMemoryPublisher()
    response = await post(
        settings, publisher, "resend", RESEND_BODY, svix_headers(RESEND_BODY, ts=NOW)
    )
    assert (response.status_code, publisher.messages) == (404, [])
