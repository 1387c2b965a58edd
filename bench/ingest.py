"""1. Ingest: the most webhooks/s that `zoomstream ingest --only webhooks` answers 200 for
(each stored in Kafka, acks=all), against floors on the same server stack measured in the
same run (`bench.servers`): a no-op endpoint; the durable floor, an endpoint that only
publishes the body and waits for its delivery report; the checked floor, the durable floor
that also checks the HMAC, reads the JSON and hashes the body with the standard library. Then
two ingest processes side by side, and p99 at a fixed 1,000 webhooks/s.

The load is wrk (64 connections, one thread) POSTing distinct webhooks signed for the run. The
no-op floor's figure is valid only if the server, not wrk, was the limit: the no-op server at
about one core (uvicorn serves on one) with wrk below one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from bench.common import Figure, Process, Report, free_port
from bench.load import Result, bodies, requests_file, targets_file, vegeta, webhook_targets, wrk

CONNECTIONS = 64
FIXED_RATE = 1_000
BODIES_PER_SECOND = 25_000
"""Distinct bodies per second of a run: above any rate seen here, so none is sent twice."""


def _server(kind: str, env: dict[str, str], logs: Path, port: int) -> Process:
    """A floor (`noop`, `durable`) or `ingest`, ready for webhooks."""
    if kind == "ingest":
        process = Process(
            ["-m", "zoomstream", "ingest", "--only", "webhooks", "--port", str(port)],
            env,
            logs / f"ingest-{port}.log",
        )
        process.wait_http(f"http://127.0.0.1:{port}/readyz")  # started: it takes webhooks
        return process
    process = Process(
        [
            "-m",
            "bench.servers",
            "--port",
            str(port),
            "--floor",
            kind,
            "--bootstrap",
            env["KAFKA_BOOTSTRAP_SERVERS"],
            "--topic",
            f"{env['TOPIC_PREFIX']}zoom.webhooks.raw",
            "--secret",
            env["ZOOM_WEBHOOK_SECRET"],
        ],
        env,
        logs / f"{kind}.log",
    )
    process.wait_http(f"http://127.0.0.1:{port}/healthz")
    return process


def _valid(result: Result, what: str) -> None:
    if not result.all_ok():
        raise RuntimeError(f"{what}: answers other than 200: {result.answers}")


def run(report: Report, env: dict[str, str], logs: Path, seconds: float) -> None:
    secret = env["ZOOM_WEBHOOK_SECRET"].encode()
    payloads = bodies(int(BODIES_PER_SECOND * seconds))
    requests = requests_file(logs / "webhooks.wrk", payloads, secret)
    measured: dict[str, Result] = {}
    for kind in ("noop", "durable", "checked", "ingest"):
        port = free_port()
        server = _server(kind, env, logs, port)
        url = f"http://127.0.0.1:{port}/webhooks/zoom"
        try:
            wrk(url, requests, 2, CONNECTIONS)  # warm-up: connections, producer, caches
            measured[kind] = wrk(url, requests, seconds, CONNECTIONS, [server.popen.pid])
            _valid(measured[kind], kind)
        finally:
            server.stop()
    noop, floor, ingest = measured["noop"], measured["durable"], measured["ingest"]
    checked = measured["checked"]
    load_ok = noop.server_cpu[0] >= 0.9 and noop.generator_cpu < 0.9
    void = "" if load_ok else "VOID (the load's check failed): "

    def add(figure: Figure) -> None:
        report.add(replace(figure, notes=void + figure.notes))

    report.add(
        Figure(
            "no-op endpoint, the load's check (wrk)",
            noop.text(),
            "-",
            noop.server_cpu[0],
            "server >= 0.9 core, wrk < 0.9: else the figures below are wrk's",
            f"{CONNECTIONS} connections, {seconds:.0f} s, {noop.cpu_text()}; "
            + ("valid" if load_ok else "VOID: the load did not saturate the server"),
        )
    )
    add(
        Figure(
            "ingest webhooks/s (200 = stored in Kafka, acks=all), one process",
            ingest.text(),
            f"durable floor {floor.text()}",
            ingest.rate / floor.rate,
            ">= 0.8",
            f"wrk, {CONNECTIONS} connections, {seconds:.0f} s, distinct signed webhooks;"
            f" ingest {ingest.cpu_text()}; floor {floor.cpu_text()}",
        )
    )

    add(
        Figure(
            "ingest against the checked floor (the durable floor + HMAC, JSON, SHA-256)",
            ingest.text(),
            f"checked floor {checked.text()}",
            ingest.rate / checked.rate,
            "(what ingest's own code costs)",
            f"the checks alone take the durable floor to {checked.rate / floor.rate:.2f} of"
            f" itself; checked floor {checked.cpu_text()}",
        )
    )

    # Two processes side by side, each with half the connections from its own wrk.
    ports = [free_port(), free_port()]
    servers = [_server("ingest", env, logs, port) for port in ports]
    try:
        halves = [logs / "webhooks-a.wrk", logs / "webhooks-b.wrk"]
        requests_file(halves[0], payloads[0::2], secret)
        requests_file(halves[1], payloads[1::2], secret)
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(
                    wrk,
                    f"http://127.0.0.1:{port}/webhooks/zoom",
                    half,
                    seconds,
                    CONNECTIONS // 2,
                    [server.popen.pid],
                )
                for port, half, server in zip(ports, halves, servers, strict=True)
            ]
            pair = [future.result() for future in futures]
    finally:
        for server in servers:
            server.stop()
    for n, result in enumerate(pair):
        _valid(result, f"ingest process {n}")
    together = sum(result.rate for result in pair)
    add(
        Figure(
            "ingest webhooks/s, two processes on this machine",
            f"{together:,.0f}/s ({' + '.join(f'{r.rate:,.0f}' for r in pair)}), p99"
            f" {max(r.p99_ms for r in pair):.1f} ms",
            f"one process {ingest.rate:,.0f}/s",
            together / ingest.rate,
            "(what a second process gives on 2 cores)",
            f"two wrk of {CONNECTIONS // 2} connections; " + "; ".join(r.cpu_text() for r in pair),
        )
    )

    # p99 at a fixed rate: vegeta holds it whatever the answers' latency.
    fixed = int(FIXED_RATE * seconds)
    for kind in ("durable", "ingest"):
        port = free_port()
        server = _server(kind, env, logs, port)
        url = f"http://127.0.0.1:{port}/webhooks/zoom"
        targets = targets_file(
            logs / f"fixed-{kind}.targets", webhook_targets(url, secret, payloads[:fixed])
        )
        try:
            vegeta(targets, 2, logs / f"fixed-{kind}-warm", rate=FIXED_RATE)
            measured[f"fixed-{kind}"] = vegeta(
                targets,
                seconds,
                logs / f"fixed-{kind}",
                rate=FIXED_RATE,
                servers=[server.popen.pid],
            )
            _valid(measured[f"fixed-{kind}"], f"{kind} at {FIXED_RATE}/s")
        finally:
            server.stop()
    at_rate, floor_at_rate = measured["fixed-ingest"], measured["fixed-durable"]
    add(
        Figure(
            f"ingest latency at a fixed {FIXED_RATE:,} webhooks/s",
            at_rate.text(),
            f"durable floor {floor_at_rate.text()}",
            at_rate.p99_ms / 10,
            "p99 < 10 ms (ratio: p99 / 10 ms)",
            f"vegeta -rate={FIXED_RATE}/s, {seconds:.0f} s, held {at_rate.rate:,.0f}/s;"
            f" {at_rate.cpu_text()}",
        )
    )
