"""Issue 15: webhook ingestion held apart from the recording API. Webhooks/s and p99 of
`zoomstream ingest --only webhooks` alone, then with 8 connections guessing a recording's
password at `zoomstream ingest --only api`, then with 8 connections asking for an organizer's
list with analytics; the same run, the same load.

Every load is vegeta (compiled) holding its connections busy (`-rate=0`: each worker sends its
next request when the last is answered). The same load against the no-op endpoint shows what
the generator reaches by itself (`bench.servers`).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import psutil
import psycopg

from bench.common import Figure, Process, Report, free_port
from bench.load import Result, bodies, targets_file, vegeta, webhook_targets
from ingest.passwords import hash_password
from schemas.settings import Settings

WEBHOOK_CONNECTIONS = 16
API_CONNECTIONS = 8
JWT_SECRET = "bench-platform-jwt-secret-0123456789abcdef"


def cpu_seconds(process: Process) -> float:
    times = psutil.Process(process.popen.pid).cpu_times()
    return float(times.user + times.system)


def attack(targets: Path, seconds: float, workers: int, log: Path) -> Result:
    """vegeta with `workers` connections kept busy for `seconds`."""
    return vegeta(targets, seconds, log, workers=workers)


def recording_and_organizer(database_url: str) -> tuple[str, str, str]:
    """A public recording with a password, and an event of 50 recordings with 20,000 views;
    (recording uuid, event uuid, organizer uuid)."""
    with psycopg.connect(database_url) as conn:
        organizer = conn.execute(
            "INSERT INTO users (email, name) VALUES ('bench-org@x.org', 'org') RETURNING id, uuid"
        ).fetchone()
        assert organizer is not None
        event = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id, organizer_id)"
            " VALUES ('Bench', '89999999999', %s) RETURNING id, uuid",
            (organizer[0],),
        ).fetchone()
        assert event is not None
        ids = [
            row[0]
            for n in range(50)
            for row in [
                conn.execute(
                    "INSERT INTO zoom_recordings (event_id, zoom_meeting_id, zoom_meeting_uuid,"
                    " zoom_recording_id, recording_start, recording_end, duration_seconds,"
                    " status, access_level, is_published, access_password_hash,"
                    " source_event_at) VALUES (%s, '89999999999', %s, %s,"
                    " now() - interval '1 hour', now(), 3600, 'available', 'public', true,"
                    " %s, now()) RETURNING id, uuid",
                    (event[0], f"bench-occ-{n}", f"bench-occ-{n}", hash_password("secret")),
                ).fetchone()
                or (0, "")
            ]
        ]
        conn.execute(
            "INSERT INTO recording_views (recording_id, registration_id, first_viewed_at,"
            " last_viewed_at, watch_seconds_exact, completed)"
            " SELECT (%s::bigint[])[(n %% 50) + 1], n, now(), now(), n %% 3600, n %% 4 = 0"
            " FROM generate_series(1, 20000) AS n",
            (ids,),
        )
        first = conn.execute("SELECT uuid FROM zoom_recordings WHERE id = %s", (ids[0],)).fetchone()
        assert first is not None
    return str(first[0]), str(event[1]), str(organizer[1])


def run(report: Report, env: dict[str, str], logs: Path, database_url: str, seconds: float) -> None:
    secret = env["ZOOM_WEBHOOK_SECRET"].encode()
    api_nice = env.get("API_NICE", str(Settings.model_fields["api_nice"].default))
    recording, event, organizer = recording_and_organizer(database_url)
    token = jwt.encode({"sub": organizer, "exp": int(time.time()) + 3600}, JWT_SECRET, "HS256")
    payloads = bodies(int(4000 * seconds))

    floor_port = free_port()
    floor = Process(["-m", "bench.servers", "--port", str(floor_port)], env, logs / "noop-iso.log")
    try:
        floor.wait_http(f"http://127.0.0.1:{floor_port}/healthz")
        noop_url = f"http://127.0.0.1:{floor_port}/webhooks/zoom"
        noop = attack(
            targets_file(logs / "noop.targets", webhook_targets(noop_url, secret, payloads)),
            seconds,
            WEBHOOK_CONNECTIONS,
            logs / "noop-attack",
        )
    finally:
        floor.stop()

    api_env = {**env, "PLATFORM_JWT_SECRET": JWT_SECRET}
    hooks_port, api_port = free_port(), free_port()
    hooks = Process(
        ["-m", "zoomstream", "ingest", "--only", "webhooks", "--port", str(hooks_port)],
        api_env,
        logs / "ingest-webhooks.log",
    )
    api = Process(
        ["-m", "zoomstream", "ingest", "--only", "api", "--port", str(api_port)],
        api_env,
        logs / "ingest-api.log",
    )
    try:
        hooks.wait_http(f"http://127.0.0.1:{hooks_port}/readyz")  # started: takes requests
        api.wait_http(f"http://127.0.0.1:{api_port}/readyz")
        hooks_url = f"http://127.0.0.1:{hooks_port}/webhooks/zoom"
        webhooks = targets_file(
            logs / "webhooks.targets", webhook_targets(hooks_url, secret, payloads)
        )
        guesses = targets_file(
            logs / "guesses.targets",
            [
                {
                    "method": "GET",
                    "url": f"http://127.0.0.1:{api_port}/api/recordings/{recording}/access/",
                    "header": {"X-Recording-Password": [f"guess-{n}"]},
                }
                for n in range(1000)
            ],
        )
        lists = targets_file(
            logs / "lists.targets",
            [
                {
                    "method": "GET",
                    "url": f"http://127.0.0.1:{api_port}/api/organizer/events/{event}/recordings/",
                    "header": {"Authorization": [f"Bearer {token}"]},
                }
            ],
        )
        attack(webhooks, 2, WEBHOOK_CONNECTIONS, logs / "warm-up")
        # Alone before and after each side load: the floor of each is the mean of the two, so
        # a drift of the machine or the broker over the run is not taken for the side load's.
        alone = [attack(webhooks, seconds, WEBHOOK_CONNECTIONS, logs / "alone-0")]
        under: dict[str, tuple[Result, Result, float]] = {}
        for name, load in (("password guessing", guesses), ("organizer lists", lists)):
            api_cpu = cpu_seconds(api)
            with ThreadPoolExecutor(1) as pool:
                background = pool.submit(
                    attack,
                    load,
                    seconds + 2,
                    API_CONNECTIONS,
                    logs / f"side-{name[:5]}",
                )
                time.sleep(1)  # the side load is running before the webhooks are measured
                measured = attack(
                    webhooks, seconds, WEBHOOK_CONNECTIONS, logs / f"under-{name[:5]}"
                )
                under[name] = (measured, background.result(), cpu_seconds(api) - api_cpu)
            alone.append(
                attack(webhooks, seconds, WEBHOOK_CONNECTIONS, logs / f"alone-{len(alone)}")
            )
    finally:
        hooks.stop()
        api.stop()

    report.add(
        Figure(
            "webhooks/s alone (ingest --only webhooks)",
            alone[0].text(),
            f"no-op {noop.text()}",
            alone[0].rate / noop.rate,
            "(the load's own rate)",
            f"{WEBHOOK_CONNECTIONS} connections, vegeta, {seconds:.0f} s, answers"
            f" {alone[0].answers}; alone again after each side load:"
            f" {', '.join(f'{a.rate:,.0f}/s' for a in alone[1:])}",
        )
    )
    for n, (name, (measured, side, api_cpu)) in enumerate(under.items()):
        before, after = alone[n], alone[n + 1]
        baseline = (before.rate + after.rate) / 2
        report.add(
            Figure(
                f"webhooks/s under {API_CONNECTIONS} connections of {name}",
                measured.text(),
                f"alone before and after {baseline:,.0f}/s (p99 {before.p99_ms:.1f},"
                f" {after.p99_ms:.1f} ms)",
                measured.rate / baseline,
                ">= 0.9 and p99 < 50 ms",
                f"answers {measured.answers}; the {name}: {side.rate:,.0f}/s, answers {side.answers};"
                f" CPU over {seconds + 2:.0f} s: API process {api_cpu:.1f} s (nice"
                f" {api_nice}), its load generator {side.generator_cpu:.2f} cores",
            )
        )
