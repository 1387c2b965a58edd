"""Fuzzing the HTTP interface from its own /openapi.json (schemathesis): whatever the path
parameters, headers, query and bodies, never a 5xx, and nothing reaches the raw topics.

Each operation gets schemathesis' coverage cases (every field at and past its bounds, wrong
types, other methods and media types), then generated ones. Most are sent as the caller the
operation is for, at the ids of a seeded world (an organizer's event, recordings published and
not, with files, a registrant), so that they get past authentication and the 404s and reach
the database: each write path must succeed many times (the test counts them), with whatever
bodies the schema allows. The rest go as someone else, or at the generated path, for the
refusals. Run with -s to see the statuses per operation."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import hypothesis
import jwt
import psycopg
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

from ingest.passwords import hash_password
from schemas.topics import RECORDING_VIEWS, ZOOM_RECORDINGS
from sinks.analytics import QUERIES
from tests.email_signing import MAILGUN_KEY, SVIX_SECRET
from tests.integration.conftest import Pipeline, count_rows, messages_in_topic

pytestmark = pytest.mark.integration
JWT_SECRET = "platform-jwt-secret-for-the-fuzz-tests-0123456789abcdef"
ANALYTICS_TOKEN = "fuzz-analytics-token"
RECORDINGS = {  # name: (published, access level, password)
    "watched": (True, "registrants", ""),
    "protected": (True, "public", "pass-word"),
    "settings-published": (True, "registrants", ""),
    "settings-draft": (False, "registrants", ""),
    "toggled-published": (True, "registrants", ""),
    "toggled-draft": (False, "registrants", ""),
}


@dataclass(frozen=True)
class World:
    event: str
    recordings: dict[str, str]
    callers: dict[str, dict[str, str]]
    """Headers of each kind of caller: organizer, registrant, stranger, anonymous, bad token,
    analytics (the dashboard's token)."""


@dataclass(frozen=True)
class Plan:
    """Whom an operation is for, and at which path parameters it gets past the 404s."""

    caller: str
    targets: tuple[str, ...]
    parameter: str = "uuid"


def seed(database_url: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The event, its recordings (each with a file) and the users' uuids."""
    with psycopg.connect(database_url) as conn:
        users: dict[str, Any] = {}
        for name in ("organizer", "registrant", "stranger"):
            row = conn.execute(
                "INSERT INTO users (email, name) VALUES (%s, %s) RETURNING id, uuid",
                (f"{name}@x.org", name),
            ).fetchone()
            assert row is not None
            users[name] = row
        event = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id, organizer_id) VALUES ('E', '1', %s)"
            " RETURNING id, uuid",
            (users["organizer"][0],),
        ).fetchone()
        assert event is not None
        conn.execute(
            "INSERT INTO registrations (event_id, user_id, email, status, attended)"
            " VALUES (%s, %s, 'registrant@x.org', 'confirmed', true)",
            (event[0], users["registrant"][0]),
        )
        recordings: dict[str, str] = {}
        for name, (published, level, password) in RECORDINGS.items():
            row = conn.execute(
                "INSERT INTO zoom_recordings (event_id, zoom_meeting_id, zoom_meeting_uuid,"
                " zoom_recording_id, recording_start, recording_end, duration_seconds, status,"
                " is_published, access_level, access_password_hash, share_url, download_token,"
                " download_token_expires_at, source_event_at) VALUES (%s, '1', %s, %s,"
                " now() - interval '1 hour', now(), 3600, 'available', %s, %s, %s,"
                " 'https://zoom.us/rec/share/x', 'token', now() + interval '1 day', now())"
                " RETURNING id, uuid",
                (
                    event[0],
                    name,
                    name,
                    published,
                    level,
                    hash_password(password) if password else "",
                ),
            ).fetchone()
            assert row is not None
            recordings[name] = str(row[1])
            conn.execute(
                "INSERT INTO zoom_recording_files (recording_id, zoom_file_id, file_type,"
                " recording_type, file_extension, play_url, download_url, source_event_at)"
                " VALUES (%s, %s, 'video', 'shared_screen_with_speaker_view', 'MP4',"
                " 'https://zoom.us/rec/play/x', 'https://zoom.us/rec/download/x', now())",
                (row[0], f"file-{name}"),
            )
    return str(event[1]), recordings, {name: str(row[1]) for name, row in users.items()}


def bearer(subject: str) -> dict[str, str]:
    token = jwt.encode({"sub": subject, "exp": int(time.time()) + 3600}, JWT_SECRET)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def running(
    pipeline: Pipeline, database_url: str, sendgrid_keys: tuple[object, str]
) -> tuple[Pipeline, World]:
    event, recordings, users = seed(database_url)
    pipeline.env.update(
        PLATFORM_JWT_SECRET=JWT_SECRET,
        ANALYTICS_TOKEN=ANALYTICS_TOKEN,
        RESEND_WEBHOOK_SECRET=SVIX_SECRET,  # every provider on, so that its checks are reached
        SENDGRID_VERIFICATION_KEY=sendgrid_keys[1],
        POSTMARK_WEBHOOK_USER="postmark",
        POSTMARK_WEBHOOK_PASSWORD="postmark-password",
        MAILGUN_SIGNING_KEY=MAILGUN_KEY,
        REFUSAL_DELAY_SECONDS="0",  # the 429s come at once: the run stays short
        HEAVY_READS_PER_CALLER_PER_SECOND="50",  # the organizer's lists mostly get through
    )
    pipeline.start_ingest()
    callers = {name: bearer(subject) for name, subject in users.items()}
    callers["anonymous"] = {}
    callers["bad token"] = {"Authorization": "Bearer not-a-token"}
    callers["analytics"] = {"Authorization": f"Bearer {ANALYTICS_TOKEN}"}
    return pipeline, World(event, recordings, callers)


def plans(world: World) -> dict[str, Plan]:
    """By "METHOD path"; an operation not named goes as every kind of caller, at its generated
    path."""
    r = world.recordings
    every = tuple(r.values())
    return {
        "GET /api/events/{uuid}/recordings/": Plan("registrant", (world.event,)),
        "GET /api/recordings/{uuid}/": Plan("registrant", every),
        "GET /api/recordings/{uuid}/access/": Plan("registrant", (r["watched"], r["protected"])),
        "POST /api/recordings/{uuid}/progress/": Plan("registrant", (r["watched"],)),
        "GET /api/organizer/events/{uuid}/recordings/": Plan("organizer", (world.event,)),
        "PUT /api/recordings/{uuid}/": Plan(
            "organizer", (r["settings-published"], r["settings-draft"])
        ),
        "POST /api/recordings/{uuid}/publish/": Plan(
            "organizer", (r["toggled-draft"], r["toggled-published"])
        ),
        "POST /api/recordings/{uuid}/unpublish/": Plan(
            "organizer", (r["toggled-published"], r["toggled-draft"])
        ),
        "GET /api/analytics/{name}/": Plan("analytics", tuple(QUERIES), "name"),
        "POST /webhooks/email/{provider}": Plan(
            "anonymous", ("resend", "sendgrid", "postmark", "mailgun"), "provider"
        ),
    }


WRITES = {  # the answer of a write that reached the database, and how many must
    "PUT /api/recordings/{uuid}/": (200, 80),
    "POST /api/recordings/{uuid}/publish/": (200, 20),
    "POST /api/recordings/{uuid}/unpublish/": (200, 20),
    "POST /api/recordings/{uuid}/progress/": (202, 40),
}
EXAMPLES = {  # generated cases per operation, else 20: the bodies get the most
    "PUT /api/recordings/{uuid}/": 150,
    "POST /api/recordings/{uuid}/progress/": 80,
    "POST /api/recordings/{uuid}/publish/": 60,
    "POST /api/recordings/{uuid}/unpublish/": 60,
}


def fuzz(
    schema: Any, operation: Any, plan: Plan | None, world: World, url: str, failures: list[str]
) -> Counter[int]:
    """Send the operation's coverage cases, then its generated ones; the statuses answered. A
    5xx goes to `failures`."""
    name = f"{operation.method.upper()} {operation.path}"
    statuses: Counter[int] = Counter()

    def send(case: Any, caller: str, target: str | None) -> None:
        if plan is not None and target is not None:
            case.path_parameters[plan.parameter] = target
        response = case.call(base_url=url, headers=world.callers[caller])
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} {case.body!r:.300}: "
                f"{response.status_code} {response.text[:300]}"
            )

    coverage = schema.iter_coverage_cases(  # the cases of schemathesis' coverage phase
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=schema.config.generation_for(operation=operation),
    )
    for number, case in enumerate(coverage):
        if plan is None:
            send(case, "anonymous", None)
        else:
            send(case, plan.caller, plan.targets[number % len(plan.targets)])

    # Mostly as the operation's caller, else as another; mostly at a seeded id (None: the
    # generated one).
    others = [caller for caller in world.callers if plan is None or caller != plan.caller]
    callers = [plan.caller] * (2 * len(others)) + others if plan else others
    targets: list[str | None] = [*plan.targets] * 3 + [None] if plan else [None]

    @hypothesis.given(
        case=operation.as_strategy(),
        caller=st.sampled_from(callers),
        target=st.sampled_from(targets),
    )
    @hypothesis.settings(
        max_examples=EXAMPLES.get(name, 20),
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        derandomize=True,
        database=None,
    )
    def generated(case: Any, caller: str, target: str | None) -> None:
        send(case, caller, target)

    generated()
    return statuses


def test_no_input_gives_a_server_error(
    running: tuple[Pipeline, World], database_url: str, topic_prefix: str
) -> None:
    pipeline, world = running
    schema = schemathesis.openapi.from_url(f"{pipeline.url}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    assert len(operations) >= 12
    planned = plans(world)
    assert set(planned) <= {f"{op.method.upper()} {op.path}" for op in operations}
    failures: list[str] = []
    answers: dict[str, Counter[int]] = {}
    operations.sort(key=lambda op: f"{op.method.upper()} {op.path}" not in WRITES)  # reads last
    for operation in operations:
        name = f"{operation.method.upper()} {operation.path}"
        answers[name] = fuzz(schema, operation, planned.get(name), world, pipeline.url, failures)
    print({name: dict(statuses) for name, statuses in answers.items()})  # seen with -s
    assert failures == []
    for name, (status, least) in WRITES.items():
        assert answers[name][status] >= least, (name, answers[name])
    for name in planned:  # every recording API path reached past its refusals (unsigned
        if "/webhooks/" not in name:  # webhooks cannot be)
            assert answers[name][200] + answers[name][202] > 0, (name, answers[name])
    changed = count_rows(
        database_url, "SELECT count(*) FROM zoom_recordings WHERE updated_at > created_at"
    )
    assert changed == 4  # both PUT targets and both toggled recordings
    states = messages_in_topic(f"{topic_prefix}{ZOOM_RECORDINGS}")  # one per change
    views = messages_in_topic(f"{topic_prefix}{RECORDING_VIEWS}")
    print(f"publication changes announced: {states}; views and beacons: {views}")
    assert states >= 2  # published and unpublished
    assert views >= WRITES["POST /api/recordings/{uuid}/progress/"][1]
    assert messages_in_topic(f"{topic_prefix}zoom.webhooks.raw") == 0
