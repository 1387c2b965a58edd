"""Fixtures shared by the ingest tests."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


@pytest.fixture(scope="session")
def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A key pair of our own, signing as SendGrid would; the public half goes in the settings."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()
