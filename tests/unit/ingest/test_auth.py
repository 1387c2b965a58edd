"""Bearer JWTs: HS256 with the platform's secret, a user uuid as subject, an expiry."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from ingest.auth import AuthError, bearer_subject

SECRET = "platform-secret-for-tests-" + "0123456789abcdef" * 3  # 74 bytes: long enough for HS512
USER = uuid.UUID("6f1c2f0a-3b7e-4a51-9d55-0a1b2c3d4e5f")


def token(secret: str = SECRET, algorithm: str = "HS256", **claims: object) -> str:
    values: dict[str, object] = {"sub": str(USER), "exp": int(time.time()) + 3600}
    values.update(claims)
    return jwt.encode(
        {k: v for k, v in values.items() if v is not None}, secret, algorithm=algorithm
    )


def test_valid_token_gives_the_user() -> None:
    assert bearer_subject(f"Bearer {token()}", SECRET) == USER
    assert bearer_subject(None, SECRET) is None


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {token(secret='another-secret-also-32-bytes-long')}",
        f"Bearer {token(exp=int(time.time()) - 10)}",
        f"Bearer {token(exp=None)}",
        f"Bearer {token(sub=None)}",
        f"Bearer {token(sub='42')}",
        f"Bearer {token(algorithm='HS512')}",  # the right secret, the wrong algorithm
        f"Token {token()}",
        "Bearer ",
        "Bearer not.a.jwt",
    ],
)
def test_bad_tokens_are_refused(header: str) -> None:
    with pytest.raises(AuthError):
        bearer_subject(header, SECRET)


def test_tokens_are_refused_when_no_secret_is_configured() -> None:
    with pytest.raises(AuthError, match="PLATFORM_JWT_SECRET"):
        bearer_subject(f"Bearer {token()}", None)
