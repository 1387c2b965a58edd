"""Who asks, and may they: the bearer token's user, their registration for the event, whether
they organize it, whom its failed passwords count against; and the access decision
(`ingest.access`) as a refusal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from starlette.requests import Request

from ingest.access import Caller, Decision, RecordingFacts, RegistrationFacts
from ingest.auth import AuthError, bearer_subject
from ingest.recording_api.common import ApiError
from sinks import recording_api as store

PASSWORD_HEADER = "x-recording-password"
VERDICT_STATUS = {"login_required": 401, "forbidden": 403, "password_required": 403}


@dataclass(frozen=True)
class Viewer:
    user_id: int | None
    caller: Caller
    registration_id: int | None


class Viewers:
    """Resolves the caller of a request against one event's organizer and registrations."""

    def __init__(self, jwt_secret: str | None) -> None:
        self._secret = jwt_secret

    async def resolve(
        self, request: Request, conn: AsyncConnection, event_id: int, organizer_id: int
    ) -> Viewer:
        """Anonymous without a token; 401 for a bad token or one whose user does not exist."""
        try:
            subject = bearer_subject(request.headers.get("authorization"), self._secret)
        except AuthError as exc:
            raise ApiError(401, str(exc)) from exc
        if subject is None:
            return Viewer(None, Caller(), None)
        user = await store.user_id(conn, subject)
        if user is None:
            raise ApiError(401, "the token's user does not exist")
        registration = await store.registration(conn, event_id, user)
        facts = (
            None
            if registration is None
            else RegistrationFacts(
                registration["status"], registration["attended"], registration["certificate_issued"]
            )
        )
        caller = Caller(True, organizer_id == user, facts)
        return Viewer(user, caller, None if registration is None else int(registration["id"]))

    async def organizer(
        self, request: Request, conn: AsyncConnection, event_id: int, organizer_id: int
    ) -> Viewer:
        """The event's organizer, else 401 (anonymous) or 403 (someone else)."""
        viewer = await self.resolve(request, conn, event_id, organizer_id)
        if viewer.user_id is None:
            raise ApiError(401, "sign in as the event's organizer")
        if not viewer.caller.is_organizer:
            raise ApiError(403, "only the event's organizer may do this")
        return viewer

    def caller_key(self, request: Request) -> str | None:
        """Whom failed passwords are counted against: the token's user, else the client's
        address (behind a proxy, uvicorn takes it from X-Forwarded-For when FORWARDED_ALLOW_IPS
        trusts the proxy); None for a token that is not valid (the request is refused anyway).
        No database: a guesser held off costs none."""
        try:
            subject = bearer_subject(request.headers.get("authorization"), self._secret)
        except AuthError:
            return None
        if subject is not None:
            return f"user:{subject}"
        return f"address:{request.client.host if request.client else 'unknown'}"


def recording_facts(row: dict[str, Any]) -> RecordingFacts:
    return RecordingFacts(
        row["is_published"], row["status"], row["access_level"], row["requires_password"]
    )


def require(decision: Decision) -> None:
    if not decision.allowed:
        raise ApiError(VERDICT_STATUS[decision.verdict], decision.reason)
