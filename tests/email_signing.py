"""Signed email-provider requests for tests: Resend (Svix), SendGrid (ECDSA), Mailgun (HMAC)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

NOW = 1_764_496_800
"""The signing time of every request here (epoch seconds)."""

SVIX_SECRET = "whsec_" + base64.b64encode(b"resend-test-secret-32-bytes-long").decode()


def svix_headers(
    body: bytes,
    msg_id: str = "msg_2Lh9KRb0pzN4LePd3XiA4v5ML1P",
    ts: int = NOW,
    secret: str = SVIX_SECRET,
) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(
        hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    return {"svix-id": msg_id, "svix-timestamp": str(ts), "svix-signature": f"v1,{signature}"}


RESEND_BODY = json.dumps(
    {
        "type": "email.delivered",
        "created_at": "2026-11-30T10:00:00.000Z",
        "data": {"email_id": "4ef9a417", "to": ["Jan Šimonek <jan@example.org>"]},
    },
    ensure_ascii=False,
).encode()


SENDGRID_BODY = b'[{"email":"jan@example.org","event":"delivered","sg_event_id":"ZGVsaXZlcmVk","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0","timestamp":1764496800}]\r\n'


def sendgrid_sign(private: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    return base64.b64encode(
        private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()


MAILGUN_KEY = "key-mailgun-signing"


def mailgun(
    timestamp: int = NOW,
    token: str = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
    key: str = MAILGUN_KEY,
) -> dict[str, object]:
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": str(timestamp), "token": token, "signature": signature}
