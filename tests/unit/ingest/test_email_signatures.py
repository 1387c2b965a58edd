"""Vectors built by each provider's documented scheme; the SendGrid key pair is our own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ingest.email_signatures import (
    EmailSignatureError,
    verify_basic_auth,
    verify_mailgun,
    verify_sendgrid,
    verify_svix,
)

NOW = 1_764_496_800
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


def test_svix_valid_with_several_signatures_listed() -> None:
    headers = svix_headers(RESEND_BODY)
    headers["svix-signature"] = "v1,bm90LXRoaXMtb25l " + headers["svix-signature"]
    assert verify_svix(SVIX_SECRET, headers, RESEND_BODY, NOW) == "msg_2Lh9KRb0pzN4LePd3XiA4v5ML1P"


OTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret").decode()


@pytest.mark.parametrize(
    ("body", "ts", "secret", "drop", "message"),
    [
        (RESEND_BODY + b" ", NOW, SVIX_SECRET, None, "does not match"),
        (RESEND_BODY, NOW, OTHER_SECRET, None, "does not match"),
        (RESEND_BODY, NOW - 301, SVIX_SECRET, None, "off"),
        (RESEND_BODY, NOW + 301, SVIX_SECRET, None, "off"),
        (RESEND_BODY, NOW, SVIX_SECRET, "svix-id", "missing svix-id"),
        (RESEND_BODY, NOW, SVIX_SECRET, "svix-signature", "missing svix-signature"),
        (RESEND_BODY, NOW, SVIX_SECRET, "svix-timestamp", "svix-timestamp"),
    ],
)
def test_svix_refusals(body: bytes, ts: int, secret: str, drop: str | None, message: str) -> None:
    headers = svix_headers(RESEND_BODY, ts=ts, secret=secret)
    if drop is not None:
        del headers[drop]
    with pytest.raises(EmailSignatureError, match=message):
        verify_svix(SVIX_SECRET, headers, body, NOW)


# SendGrid posts a JSON array with CRLF after each event, and signs the bytes as sent.
SENDGRID_BODY = b'[{"email":"jan@example.org","event":"delivered","sg_event_id":"ZGVsaXZlcmVk","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0","timestamp":1764496800}]\r\n'


def sendgrid_sign(private: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    return base64.b64encode(
        private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()


def test_sendgrid_valid_only_with_the_trailing_crlf(
    sendgrid_keys: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    private, public = sendgrid_keys
    signature = sendgrid_sign(private, str(NOW), SENDGRID_BODY)
    verify_sendgrid(public, signature, str(NOW), SENDGRID_BODY)
    with pytest.raises(EmailSignatureError, match="does not match"):
        verify_sendgrid(public, signature, str(NOW), SENDGRID_BODY.rstrip(b"\r\n"))
    with pytest.raises(EmailSignatureError, match="does not match"):
        verify_sendgrid(public, signature, str(NOW + 1), SENDGRID_BODY)


def test_sendgrid_refusals(sendgrid_keys: tuple[ec.EllipticCurvePrivateKey, str]) -> None:
    _private, public = sendgrid_keys
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(EmailSignatureError, match="does not match"):
        verify_sendgrid(
            public, sendgrid_sign(other, str(NOW), SENDGRID_BODY), str(NOW), SENDGRID_BODY
        )
    with pytest.raises(EmailSignatureError, match="missing"):
        verify_sendgrid(public, None, str(NOW), SENDGRID_BODY)
    with pytest.raises(EmailSignatureError, match="unreadable"):
        verify_sendgrid(public, "not base64!", str(NOW), SENDGRID_BODY)


def test_postmark_basic_auth() -> None:
    good = "Basic " + base64.b64encode(b"postmark:s3cret").decode()
    verify_basic_auth(good, "postmark", "s3cret")
    for wrong in (None, "", "Basic " + base64.b64encode(b"postmark:other").decode(), "Bearer x"):
        with pytest.raises(EmailSignatureError):
            verify_basic_auth(wrong, "postmark", "s3cret")


MAILGUN_KEY = "key-mailgun-signing"


def mailgun(
    timestamp: int = NOW,
    token: str = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
    key: str = MAILGUN_KEY,
) -> dict[str, object]:
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": str(timestamp), "token": token, "signature": signature}


def test_mailgun_valid_returns_the_token() -> None:
    assert (
        verify_mailgun(MAILGUN_KEY, mailgun(), NOW, 300)
        == "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    )


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (mailgun(key="other-key"), "does not match"),
        (mailgun(timestamp=NOW - 3600), "off"),
        ({**mailgun(), "token": "tampered"}, "does not match"),
        ({"timestamp": str(NOW), "token": "t"}, "required"),
        ({**mailgun(), "timestamp": 17644}, "required"),
    ],
)
def test_mailgun_refusals(signature: dict[str, object], message: str) -> None:
    with pytest.raises(EmailSignatureError, match=message):
        verify_mailgun(MAILGUN_KEY, signature, NOW, 300)
