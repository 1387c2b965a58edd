"""Shared helpers: settings for tests and signed Zoom requests."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from schemas.settings import Settings
from zoomstream.samples import dumps, sign

SECRET = "test-zoom-secret"


@pytest.fixture
def settings() -> Settings:
    return Settings(zoom_webhook_secret=SECRET, topic_prefix="unit.", _env_file=None)


def signed(
    body: bytes | dict[str, object], timestamp: int | None = None, secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else dumps(body)
    return raw, sign(secret.encode(), raw, int(time.time()) if timestamp is None else timestamp)


@pytest.fixture(scope="session")
def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A key pair of our own, signing as SendGrid would; the public half goes in the settings."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()
