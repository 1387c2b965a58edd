"""Email-provider webhook verification: pure functions over the raw body bytes.

Each provider's documented scheme (shared research, webhook formats, section 2):
- Resend (Svix): `v1,` + base64 HMAC-SHA256 of `{svix-id}.{svix-timestamp}.{body}`, key = the
  base64 secret after `whsec_`; the header may list several signatures; 5-minute tolerance.
- SendGrid: ECDSA P-256 / SHA-256 over `timestamp + body` (body with its trailing CRLF),
  signature base64 DER, public key base64 SPKI DER.
- Postmark: no signature; HTTP Basic credentials configured in the webhook URL.
- Mailgun: hex HMAC-SHA256 of `timestamp + token` with the webhook signing key, both in the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

SVIX_TOLERANCE_SECONDS = 5 * 60


class EmailSignatureError(ValueError):
    """The request is not provably from the provider."""


def _timestamp(value: str | None, name: str) -> int:
    if not value or not value.isascii() or not value.isdigit() or len(value) > 12:
        raise EmailSignatureError(f"{name} is missing or not epoch seconds")
    return int(value)


def _fresh(timestamp: int, now: float, tolerance: float, name: str) -> None:
    if abs(now - timestamp) > tolerance:
        raise EmailSignatureError(
            f"{name} is {int(now - timestamp)} s off, over the {int(tolerance)} s allowed"
        )


def svix_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error as exc:
        raise ValueError("the Svix secret is not base64 after whsec_") from exc
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_svix(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: float = SVIX_TOLERANCE_SECONDS,
) -> str:
    """Verify a Resend (Svix) delivery; returns its `svix-id`, the dedup key."""
    msg_id = headers.get("svix-id")
    if not msg_id:
        raise EmailSignatureError("missing svix-id")
    raw_timestamp = headers.get("svix-timestamp")
    timestamp = _timestamp(raw_timestamp, "svix-timestamp")
    offered = (headers.get("svix-signature") or "").split()
    if not offered:
        raise EmailSignatureError("missing svix-signature")
    expected = svix_signature(secret, msg_id, str(raw_timestamp), body).encode()
    if not any(
        hmac.compare_digest(expected, candidate.encode())
        for candidate in offered
        if candidate.startswith("v1,")
    ):
        raise EmailSignatureError("svix-signature does not match")
    _fresh(timestamp, now, tolerance, "svix-timestamp")
    return msg_id


def verify_sendgrid(
    public_key: str, signature: str | None, timestamp: str | None, body: bytes
) -> None:
    """Verify SendGrid's signed event webhook over `timestamp + body`, byte for byte."""
    if not signature or not timestamp:
        raise EmailSignatureError("missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp")
    try:
        key = load_der_public_key(base64.b64decode(public_key))
        der = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EmailSignatureError(f"unreadable signature or key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise EmailSignatureError("the SendGrid verification key is not an EC public key")
    try:
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise EmailSignatureError("SendGrid signature does not match") from exc


def verify_basic_auth(authorization: str | None, username: str, password: str) -> None:
    """Postmark: the Basic credentials of the webhook URL."""
    expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    if not authorization or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise EmailSignatureError("missing or wrong Basic credentials")


def mailgun_signature(signing_key: str, timestamp: str, token: str) -> str:
    return hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def verify_mailgun(
    signing_key: str, signature: Mapping[str, object], now: float, tolerance: float
) -> str:
    """Verify the `signature` object of a Mailgun body; returns its token, the dedup key.

    Mailgun signs only timestamp + token, not the event data: the timestamp must be fresh and the
    token single-use (the caller dedupes on it)."""
    timestamp, token, offered = (signature.get(k) for k in ("timestamp", "token", "signature"))
    if (
        not isinstance(timestamp, str)
        or not isinstance(token, str)
        or not isinstance(offered, str)
        or not token
    ):
        raise EmailSignatureError("signature.timestamp, .token and .signature are required strings")
    moment = _timestamp(timestamp, "signature.timestamp")
    if not hmac.compare_digest(
        mailgun_signature(signing_key, timestamp, token).encode(), offered.encode()
    ):
        raise EmailSignatureError("Mailgun signature does not match")
    _fresh(moment, now, tolerance, "signature.timestamp")
    return token
