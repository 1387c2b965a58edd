"""Building the `zoom.webhooks.raw` envelope from an accepted request: pure, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from schemas import RawWebhookEnvelope

# Headers worth keeping for debugging and for re-verifying the signature on replay. Anything
# else (authorization with Zoom's verification token or a bearer token, cookies, custom auth
# headers) stays out of Kafka.
SAFE_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "user-agent",
        "x-zm-request-timestamp",
        "x-zm-signature",
        "x-zm-trackingid",
        "x-zm-request-id",
        "traceparent",
        "x-forwarded-for",
        "x-forwarded-proto",
    }
)


def delivery_id(body: bytes) -> str:
    """The dedup id of a delivery: hex SHA-256 of its raw body (an exact redelivery shares it)."""
    return hashlib.sha256(body).hexdigest()


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items() if name.lower() in SAFE_HEADERS}


def build_envelope(
    body: bytes, headers: Mapping[str, str], received_at: datetime
) -> RawWebhookEnvelope:
    return RawWebhookEnvelope(
        webhook_id=delivery_id(body),
        received_at=received_at,
        headers=safe_headers(headers),
        body=body,
    )
