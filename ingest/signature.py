"""Zoom request verification: pure functions over the raw body bytes, never a re-serialised body."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"


class SignatureError(ValueError):
    """The request is not provably from Zoom: missing, malformed, wrong or stale signature."""


def zoom_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, as Zoom computes it."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_zoom_request(
    *,
    secret: bytes,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: float,
    tolerance_seconds: int,
    future_skew_seconds: int,
) -> None:
    """Raise SignatureError unless `signature` signs `body` at a `timestamp` within tolerance.

    The timestamp is epoch seconds. It may lie up to `tolerance_seconds` in the past (Zoom's
    retries can carry the original one) and up to `future_skew_seconds` ahead (clock skew).
    """
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER}")
    if not timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER}")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not epoch seconds")
    expected = zoom_signature(secret, timestamp, body)
    if not hmac.compare_digest(signature.encode("utf-8", "replace"), expected.encode("ascii")):
        raise SignatureError("signature does not match")
    age = now - int(timestamp)
    if age > tolerance_seconds:
        raise SignatureError(
            f"timestamp is {int(age)} s old, over the {tolerance_seconds} s allowed"
        )
    if -age > future_skew_seconds:
        raise SignatureError(f"timestamp is {int(-age)} s in the future")


def url_validation_answer(secret: bytes, plain_token: str) -> dict[str, str]:
    """The answer to `endpoint.url_validation`: the token and its HMAC-SHA256, hex."""
    encrypted = hmac.new(secret, plain_token.encode("utf-8"), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}
