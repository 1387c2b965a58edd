"""The dashboard: analytics views over real rows, served as JSON, drawn by the built-in page in
headless Chromium (Debian's package, installed when missing), with a screenshot saved."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.integration.conftest import Pipeline
from zoomstream.stack.processes import apt_install

pytestmark = pytest.mark.integration
TOKEN = "analytics-token-for-tests"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",
    "--window-size=1280,1100",
)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        apt_install("chromium")
        found = shutil.which("chromium")
    assert found is not None, "Debian's chromium package did not install"
    return found


def fill(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO zoom_webhook_logs (webhook_id, event_type, event_timestamp, payload,"
            " processing_status, received_at) SELECT md5(n::text) || md5((n * 7)::text),"
            " (ARRAY['meeting.participant_joined', 'meeting.participant_left', 'recording.completed'])[n % 3 + 1],"
            " now(), '{}'::jsonb, (ARRAY['completed', 'completed', 'skipped', 'failed'])[n % 4 + 1],"
            " now() - (n % 6) * interval '1 hour' FROM generate_series(1, 300) AS n"
        )
        event = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('Cardiology update', '1') RETURNING id"
        ).fetchone()
        assert event is not None
        conn.execute(
            "INSERT INTO registrations (event_id, email, status, attended) SELECT %s,"
            " 'p' || n || '@x.org', 'confirmed', n %% 4 <> 0 FROM generate_series(1, 40) AS n",
            (event[0],),
        )
        recording = conn.execute(
            "INSERT INTO zoom_recordings (event_id, zoom_meeting_id, zoom_meeting_uuid,"
            " zoom_recording_id, recording_start, recording_end, status, is_published, view_count,"
            " unique_viewers, source_event_at) VALUES (%s, '1', 'o', 'o', now(), now(), 'available',"
            " true, 50, 20, now()) RETURNING id",
            (event[0],),
        ).fetchone()
        assert recording is not None
        conn.execute(
            "INSERT INTO recording_views (recording_id, registration_id, view_count, first_viewed_at,"
            " last_viewed_at, completed, watch_seconds_exact) SELECT %s, id, 1, now(), now(),"
            " id %% 2 = 0, 600 FROM registrations LIMIT 20",
            (recording[0],),
        )
        conn.execute(
            "INSERT INTO email_logs (uuid, recipient_email, email_type, subject, from_email,"
            " requested_at, message_id, delivery_status) SELECT gen_random_uuid(), 'a@x.org',"
            " 'event_reminder_24h', 's', 'f@x.org', now(), n || '@x',"
            " (ARRAY['delivered', 'opened', 'bounced'])[n % 3 + 1] FROM generate_series(1, 30) AS n"
        )
        conn.execute(  # 60 attempts over three hours, every fourth one a 429
            "INSERT INTO external_api_calls (service, operation, method, url, status_code, error,"
            " duration_ms, attempt, created_at) SELECT 'zoom', 'get_meeting_recordings', 'GET',"
            " 'https://api.zoom.us/v2/meetings/m/recordings', CASE WHEN n % 4 = 0 THEN 429 ELSE 200"
            " END, CASE WHEN n % 4 = 0 THEN 'HTTP 429' END, 80, 1,"
            " now() - (n % 3) * interval '1 hour' FROM generate_series(1, 60) AS n"
        )


def test_dashboard_draws_every_chart_in_chromium(
    pipeline: Pipeline, database_url: str, tmp_path: Path, chromium: str
) -> None:
    fill(database_url)
    pipeline.env["ANALYTICS_TOKEN"] = TOKEN
    pipeline.start_ingest()

    api = f"{pipeline.url}/api/analytics"
    assert httpx.get(f"{api}/attendance/").status_code == 401
    assert (
        httpx.get(f"{api}/nothing/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
        == 404
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    [attendance] = httpx.get(f"{api}/attendance/", headers=auth).json()
    assert (attendance["registrations"], attendance["attended"]) == (40, 30)
    assert attendance["attendance_rate_percent"] == 75.0
    [engagement] = httpx.get(f"{api}/recordings/", headers=auth).json()
    assert (engagement["unique_viewers"], engagement["completions"]) == (20, 10)
    assert engagement["completion_rate_percent"] == 50.0
    volume = httpx.get(f"{api}/webhook-volume/", headers=auth).json()
    assert sum(row["webhooks"] for row in volume) == 300
    calls = httpx.get(f"{api}/api-calls/", headers=auth).json()
    assert len(calls) == 3  # now, an hour and two hours ago: three clock hours
    assert (sum(r["calls"] for r in calls), sum(r["errors"] for r in calls)) == (60, 15)

    page = httpx.get(f"{pipeline.url}/dashboard")
    assert page.status_code == 200
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page.text  # nothing from a CDN

    url = f"{pipeline.url}/dashboard#token={TOKEN}"
    profile = tmp_path / "chromium-profile"
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 'data-ready="true"' in dom.stdout, dom.stdout[-2000:] + dom.stderr[-2000:]
    # volume, attendance, two for recordings, email, external API calls
    assert 'data-charts="6"' in dom.stdout
    screenshot = tmp_path / "dashboard.png"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={screenshot}",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000
