"""POST /webhooks/email/{provider}: verify the provider's signature over the raw bytes, check the
body is that provider's, publish it to email.events.raw, and only then answer 200."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ingest.body import BodyTooLarge, error_response, read_body
from ingest.email_signatures import (
    EmailSignatureError,
    verify_basic_auth,
    verify_mailgun,
    verify_sendgrid,
    verify_svix,
)
from ingest.publisher import Publisher, PublishError
from schemas.email_envelope import EmailWebhookEnvelope
from schemas.email_event import InvalidEmailWebhook
from schemas.settings import Settings
from schemas.topics import EMAIL_RAW

PROVIDERS = ("resend", "sendgrid", "postmark", "mailgun")
SAFE_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "user-agent",
        "svix-id",
        "svix-timestamp",
        "svix-signature",
        "x-twilio-email-event-webhook-signature",
        "x-twilio-email-event-webhook-timestamp",
        "x-forwarded-for",
    }
)
MAILGUN_TOLERANCE_SECONDS = 15 * 60


class NotConfigured(LookupError):
    pass


def check_shape(provider: str, body: bytes) -> object:
    """The parsed body, if it has the provider's top-level shape; else InvalidEmailWebhook.

    The worker parses each event fully; ingest only refuses what no provider would send."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEmailWebhook(f"not JSON: {exc}") from exc
    except RecursionError as exc:  # Mailgun's body is read before its signature is checked
        raise InvalidEmailWebhook("nested too deeply to read") from exc
    valid = {
        "resend": isinstance(document, dict) and isinstance(document.get("data"), dict),
        "sendgrid": isinstance(document, list) and all(isinstance(e, dict) for e in document),
        "postmark": isinstance(document, dict) and "RecordType" in document,
        "mailgun": isinstance(document, dict) and isinstance(document.get("event-data"), dict),
    }[provider]
    if not valid:
        raise InvalidEmailWebhook(f"not the shape of a {provider} webhook")
    return document


def verify(
    provider: str, settings: Settings, request_headers: dict[str, str], body: bytes, now: float
) -> str:
    """Check the delivery and its body; return its delivery id.

    Raises NotConfigured (no secret for that provider), EmailSignatureError (401) or
    InvalidEmailWebhook (400).
    """
    digest = hashlib.sha256(body).hexdigest()
    if provider == "resend":
        if settings.resend_webhook_secret is None:
            raise NotConfigured(provider)
        delivery = verify_svix(
            settings.resend_webhook_secret.get_secret_value(), request_headers, body, now
        )
        check_shape(provider, body)
        return delivery
    if provider == "sendgrid":
        if settings.sendgrid_verification_key is None:
            raise NotConfigured(provider)
        verify_sendgrid(
            settings.sendgrid_verification_key,
            request_headers.get("x-twilio-email-event-webhook-signature"),
            request_headers.get("x-twilio-email-event-webhook-timestamp"),
            body,
        )
        check_shape(provider, body)
        return digest
    if provider == "postmark":
        if settings.postmark_webhook_user is None or settings.postmark_webhook_password is None:
            raise NotConfigured(provider)
        verify_basic_auth(
            request_headers.get("authorization"),
            settings.postmark_webhook_user,
            settings.postmark_webhook_password.get_secret_value(),
        )
        check_shape(provider, body)
        return digest
    if settings.mailgun_signing_key is None:
        raise NotConfigured(provider)
    document = check_shape(provider, body)
    signature = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(signature, dict):
        raise EmailSignatureError("Mailgun body without a signature object")
    return verify_mailgun(
        settings.mailgun_signing_key.get_secret_value(), signature, now, MAILGUN_TOLERANCE_SECONDS
    )


def email_handler(
    settings: Settings, publisher: Publisher, clock: Callable[[], float] = time.time
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint. Mailgun signs inside the body, so its JSON is read before its signature."""
    topic = settings.topic(EMAIL_RAW)

    async def handle(request: Request) -> Response:
        provider = request.path_params["provider"]
        if provider not in PROVIDERS:
            return error_response(404, f"unknown provider {provider!r}")
        try:
            body = await read_body(request, settings.max_body_bytes)
        except BodyTooLarge as exc:
            return error_response(413, str(exc))
        except ClientDisconnect:
            return error_response(400, "client disconnected before the body was read")
        headers = {k.lower(): v for k, v in request.headers.items()}
        now = clock()
        try:
            delivery = verify(provider, settings, headers, body, now)
        except NotConfigured:
            return error_response(404, f"provider {provider!r} is not configured")
        except EmailSignatureError as exc:
            return error_response(401, f"invalid signature: {exc}")
        except InvalidEmailWebhook as exc:
            return error_response(400, f"invalid {provider} body: {exc}")
        envelope = EmailWebhookEnvelope(
            provider=provider,
            delivery_id=delivery,
            received_at=datetime.fromtimestamp(now, tz=UTC),
            headers={k: v for k, v in headers.items() if k in SAFE_HEADERS},
            body=body,
        )
        try:
            await publisher.publish(topic, delivery.encode(), envelope.model_dump_json().encode())
        except PublishError as exc:
            return error_response(503, f"not stored, retry later: {exc}")
        return JSONResponse({"status": "received", "delivery_id": delivery})

    return handle
