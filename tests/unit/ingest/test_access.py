"""Who may watch: every level, registration state, publication, password and organizer."""

from __future__ import annotations

import itertools

import pytest

from ingest.access import Caller, RecordingFacts, RegistrationFacts, decide
from ingest.passwords import check_password, hash_password
from schemas.recording_api import AccessLevel

CALLERS = {
    "anonymous": Caller(),
    "no_registration": Caller(authenticated=True),
    "pending": Caller(True, False, RegistrationFacts("pending", False, False)),
    "cancelled_attended": Caller(True, False, RegistrationFacts("cancelled", True, False)),
    "confirmed": Caller(True, False, RegistrationFacts("confirmed", False, False)),
    "attended": Caller(True, False, RegistrationFacts("confirmed", True, False)),
    "certified": Caller(True, False, RegistrationFacts("confirmed", True, True)),
}
# Which callers each level lets in (the spec's can_access, level by level).
ADMITS: dict[AccessLevel, set[str]] = {
    "public": set(CALLERS),
    "registrants": {"confirmed", "attended", "certified"},
    "attendees": {"attended", "certified"},  # a cancelled registration counts for nothing
    "certificate_holders": {"certified"},
}
PUBLICATION = {
    "published_available": (True, "available"),
    "published_processing": (True, "processing"),
    "published_trashed": (True, "trashed"),
    "unpublished_available": (False, "available"),
}
PASSWORDS = {"none": (False, False), "right": (True, True), "wrong_or_missing": (True, False)}


def expected(
    level: AccessLevel, caller: str, publication: str, password: str, organizer: bool
) -> str:
    if organizer:
        return "allowed"  # the organizer previews anything, without the password (defect 20)
    if publication != "published_available":
        return "forbidden"
    if caller not in ADMITS[level]:
        return "login_required" if caller == "anonymous" else "forbidden"
    if password == "wrong_or_missing":
        return "password_required"
    return "allowed"


@pytest.mark.parametrize(
    ("level", "caller", "publication", "password", "organizer"),
    list(itertools.product(ADMITS, CALLERS, PUBLICATION, PASSWORDS, (False, True))),
)
def test_access_matrix(
    level: AccessLevel, caller: str, publication: str, password: str, organizer: bool
) -> None:
    published, status = PUBLICATION[publication]
    has_password, password_ok = PASSWORDS[password]
    who = CALLERS[caller]
    if organizer:
        who = Caller(True, True, who.registration)
    decision = decide(RecordingFacts(published, status, level, has_password), who, password_ok)
    assert decision.verdict == expected(level, caller, publication, password, organizer)
    assert decision.allowed == (decision.verdict == "allowed")
    if not decision.allowed:
        assert decision.reason


def test_passwords_are_salted_hashes() -> None:
    first, second = hash_password("opensesame"), hash_password("opensesame")
    assert first != second and "opensesame" not in first
    assert check_password("opensesame", first) and check_password("opensesame", second)
    assert not check_password("OpenSesame", first)
    assert not check_password("opensesame", "")
    assert not check_password("opensesame", "md5$x")
