"""Fuzzing the HTTP interface from its own /openapi.json (schemathesis): whatever the path
parameters, headers, query and bodies, never a 5xx, and nothing reaches the raw topics."""

from __future__ import annotations

import time
import zlib
from typing import Any

import hypothesis
import jwt
import psycopg
import pytest
import schemathesis
from schemathesis.core.result import Ok

from tests.integration.conftest import Pipeline, messages_in_topic

pytestmark = pytest.mark.integration
JWT_SECRET = "platform-jwt-secret-for-the-fuzz-tests-0123456789abcdef"
known: dict[str, str] = {}  # ids that exist, so that cases also get past the 404s


@pytest.fixture
def running(pipeline: Pipeline, database_url: str) -> tuple[Pipeline, dict[str, str]]:
    with psycopg.connect(database_url) as conn:
        user = conn.execute(
            "INSERT INTO users (email, name) VALUES ('f@x.org', 'F') RETURNING uuid"
        ).fetchone()
        event = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('E', '1') RETURNING id, uuid"
        ).fetchone()
        assert event is not None
        recording = conn.execute(
            "INSERT INTO zoom_recordings (event_id, zoom_meeting_id, zoom_meeting_uuid,"
            " zoom_recording_id, recording_start, recording_end, status, is_published,"
            " access_level, source_event_at) VALUES (%s, '1', 'o', 'o', now(), now(), 'available',"
            " true, 'public', now()) RETURNING uuid",
            (event[0],),
        ).fetchone()
        assert recording is not None
    assert user is not None
    known.update(event=str(event[1]), recording=str(recording[0]))
    pipeline.env["PLATFORM_JWT_SECRET"] = JWT_SECRET
    pipeline.env["ANALYTICS_TOKEN"] = "fuzz-analytics-token"
    pipeline.start_ingest()
    token = jwt.encode({"sub": str(user[0]), "exp": int(time.time()) + 3600}, JWT_SECRET)
    return pipeline, {"Authorization": f"Bearer {token}"}


def test_no_input_gives_a_server_error(
    running: tuple[Pipeline, dict[str, str]], topic_prefix: str
) -> None:
    pipeline, auth = running
    schema = schemathesis.openapi.from_url(f"{pipeline.url}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    assert len(operations) >= 12
    failures: list[str] = []
    calls: list[int] = []
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            # About half the cases signed in, so the checks past authentication are reached.
            draw = zlib.crc32(repr((case.path_parameters, case.body)).encode())
            signed_in = draw % 2 == 1
            if draw % 3 and "uuid" in (case.path_parameters or {}):
                kind = "event" if "/events/" in case.path else "recording"
                case.path_parameters["uuid"] = known[kind]
            response = case.call(base_url=pipeline.url, headers=auth if signed_in else {})
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        check()
    assert failures == []
    assert len(calls) >= 100 and len(set(calls)) >= 4  # many calls, with many kinds of answer
    assert messages_in_topic(f"{topic_prefix}zoom.webhooks.raw") == 0
