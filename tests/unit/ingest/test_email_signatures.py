"""Vectors built by each provider's documented scheme; the SendGrid key pair is our own."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ingest.email_signatures import (
    EmailSignatureError,
    verify_basic_auth,
    verify_mailgun,
    verify_sendgrid,
    verify_svix,
)
from tests.email_signing import (
    MAILGUN_KEY,
    NOW,
    RESEND_BODY,
    SENDGRID_BODY,
    SVIX_SECRET,
    mailgun,
    sendgrid_sign,
    svix_headers,
)


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
