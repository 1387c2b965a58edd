"""Who may see a recording: the spec's four levels, publication, availability and the optional
platform password, with the organizer always allowed to preview (spec defect 20). Pure.

A registration that does not count (`schemas.registration`) opens nothing but public
recordings, at any level: an attended or certified registration cancelled since included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.recording_api import AccessLevel
from schemas.registration import is_live

Verdict = Literal["allowed", "login_required", "forbidden", "password_required"]


@dataclass(frozen=True)
class RecordingFacts:
    is_published: bool
    status: str
    access_level: AccessLevel
    has_password: bool


@dataclass(frozen=True)
class RegistrationFacts:
    status: str
    attended: bool
    certificate_issued: bool


@dataclass(frozen=True)
class Caller:
    """Who asks: anonymous (no token), a user without a registration, or a registrant."""

    authenticated: bool = False
    is_organizer: bool = False
    registration: RegistrationFacts | None = None


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict == "allowed"


def decide(recording: RecordingFacts, caller: Caller, password_ok: bool) -> Decision:
    """`password_ok`: the caller gave the right platform password (ignored when none is set)."""
    if caller.is_organizer:
        return Decision("allowed", "organizer preview")
    if not recording.is_published:
        return Decision("forbidden", "the recording is not published")
    if recording.status != "available":
        return Decision("forbidden", f"the recording is {recording.status}")
    if recording.access_level != "public":
        registration = caller.registration
        if registration is None:
            if not caller.authenticated:
                return Decision("login_required", "sign in to watch this recording")
            return Decision("forbidden", "only registrants of the event may watch")
        if not is_live(registration.status):
            return Decision("forbidden", "only confirmed registrants may watch")
        if recording.access_level == "attendees" and not registration.attended:
            return Decision("forbidden", "only those who attended may watch")
        if recording.access_level == "certificate_holders" and not registration.certificate_issued:
            return Decision("forbidden", "only certificate holders may watch")
    if recording.has_password and not password_ok:
        return Decision("password_required", "this recording needs its access password")
    return Decision("allowed")
