"""Fuzzing the webhook endpoints: malformed bodies, headers and encodings never give a 5xx, and
nothing is published unless the request is genuinely signed and well-formed."""

from __future__ import annotations

import asyncio
import time

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import InMemoryPublisher, create_app
from schemas.settings import Settings
from tests.conftest import SECRET
from tests.email_signing import MAILGUN_KEY, SVIX_SECRET
from zoomstream.samples import sign

NOW = int(time.time())
SETTINGS = Settings(
    _env_file=None,
    zoom_webhook_secret=SECRET,
    topic_prefix="unit.",
    resend_webhook_secret=SVIX_SECRET,
    postmark_webhook_user="postmark",
    postmark_webhook_password="s3cret",
    mailgun_signing_key=MAILGUN_KEY,
)
HEADER_NAMES = st.sampled_from(
    [
        "x-zm-signature",
        "x-zm-request-timestamp",
        "content-type",
        "svix-id",
        "svix-timestamp",
        "svix-signature",
        "authorization",
        "x-twilio-email-event-webhook-signature",
        "content-encoding",
    ]
)
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
BODIES = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=512).map(str.encode),
    st.sampled_from(
        [
            b"{}",
            b"[]",
            b"null",
            b'{"event": 1}',
            b'{"event": "meeting.started"}',
            b'{"event": "endpoint.url_validation", "payload": {}}',
            b"\xff\xfe{",
            b'"\\ud800"',
        ]
    ),
)


def send(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, int]:
    publisher = InMemoryPublisher()

    async def go() -> int:
        app = create_app(SETTINGS, publisher, clock=lambda: float(NOW))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://i") as client:
            return (await client.post(path, content=body, headers=headers)).status_code

    return asyncio.run(go()), len(publisher.messages)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            "/webhooks/zoom",
            "/webhooks/email/resend",
            "/webhooks/email/sendgrid",
            "/webhooks/email/postmark",
            "/webhooks/email/mailgun",
            "/webhooks/email/other",
        ]
    ),
    BODIES,
    st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=5),
)
def test_unsigned_or_forged_requests_are_refused_and_publish_nothing(
    path: str, body: bytes, headers: dict[str, str]
) -> None:
    status, published = send(path, body, headers)
    assert status in (400, 401, 404, 413), status
    assert published == 0


@settings(max_examples=300, deadline=None)
@given(BODIES)
def test_signed_bodies_are_published_only_when_they_are_webhooks(body: bytes) -> None:
    status, published = send("/webhooks/zoom", body, sign(SECRET.encode(), body, NOW))
    assert status < 500
    assert published == (1 if status == 200 and b"url_validation" not in body else 0)
