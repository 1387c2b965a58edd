"""Bearer tokens of the platform: HS256 JWTs whose subject is a user's uuid."""

from __future__ import annotations

from uuid import UUID

import jwt


class AuthError(ValueError):
    """A token was given and is not valid: 401, whatever the resource."""


def bearer_subject(authorization: str | None, secret: str | None) -> UUID | None:
    """The user uuid of a valid token; None when no token was given.

    The token must be HS256, signed with PLATFORM_JWT_SECRET, unexpired (`exp` required)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("expected 'Authorization: Bearer <token>'")
    if secret is None:
        raise AuthError("tokens are not accepted: PLATFORM_JWT_SECRET is not set")
    try:
        claims = jwt.decode(
            token.strip(), secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
        return UUID(str(claims["sub"]))
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    except ValueError as exc:
        raise AuthError("invalid token: the subject is not a user uuid") from exc
