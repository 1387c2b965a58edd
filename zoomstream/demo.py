"""The demo burst: signed sample webhooks over HTTP, then what landed in PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from schemas.settings import Settings
from sinks import meeting_report
from zoomstream.samples import dumps, meeting_burst, sign


def run_demo(settings: Settings, url: str, count: int, echo: Callable[[str], None]) -> None:
    secret = settings.secret_bytes()
    start = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(hours=1)
    meeting_id = str(80_000_000_000 + int(time.time()) % 1_000_000_000)
    _ensure_demo_event(settings.database_url, meeting_id)
    # a meeting's life: started, people join and leave, ended, its recording completed
    participants = max(1, (count - 3) // 2)
    events = meeting_burst(meeting_id, f"demo{meeting_id}==", start, participants)
    bodies = [dumps(e) for e in events]
    answers: dict[int, int] = {}
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for body in [*bodies, bodies[0]]:  # the last one is an exact redelivery
            response = client.post(
                "/webhooks/zoom", content=body, headers=sign(secret, body, int(time.time()))
            )
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
    echo(
        f"sent {len(bodies) + 1} signed webhooks for meeting {meeting_id} "
        f"(one an exact redelivery): answers {answers}"
    )
    rows = _wait_for_rows(settings.database_url, meeting_id, len(bodies), timeout=60.0)
    echo(
        f"zoom_webhook_logs for meeting {meeting_id}: {len(rows)} rows (distinct deliveries: {len(bodies)})"
    )
    echo(f"{'event_type':40} {'status':10} {'event_timestamp':26} reason")
    for event_type, status, ts, reason in rows:
        echo(f"{event_type:40} {status:10} {ts.isoformat():26} {reason}")
    with psycopg.connect(settings.database_url) as conn:
        recordings = meeting_report.recordings(conn, meeting_id)
        people, attended, matched, sessions = meeting_report.attendance(conn, meeting_id)
    echo(
        f"attendance_summaries: {people} people, {attended} attended, {matched} matched to a "
        f"registration, {sessions} sessions"
    )
    for uuid, status, published, seconds, files, kinds in recordings:
        echo(
            f"zoom_recordings: {uuid} {status}, published={published}, {seconds} s, {files} files ({kinds})"
        )


def _ensure_demo_event(database_url: str, meeting_id: str) -> None:
    """The platform event the demo meeting belongs to (local platform tables only)."""
    with psycopg.connect(database_url) as conn:
        meeting_report.ensure_event(conn, meeting_id, "Demo: cardiology update")


def _wait_for_rows(
    database_url: str, meeting_id: str, expected: int, timeout: float
) -> list[tuple[str, str, datetime, str]]:
    deadline = time.monotonic() + timeout
    rows: list[tuple[str, str, datetime, str]] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = meeting_report.log_rows(conn, meeting_id)
            if len(rows) >= expected:
                break
            time.sleep(0.5)
    return rows
