"""The HTTP loads of the benchmarks, all from compiled generators run as their own processes:
wrk (Debian's package) for the most a server gives over N busy connections, vegeta (from the Go
module proxy, `scripts/bench` builds it) for a fixed rate or for many kinds of request.

Each load's result carries the CPU that the generator and each server used meanwhile: a
server near one full core (uvicorn serves on one) with the generator below one is a figure of
the server; a generator at its core is a figure of the generator, and the bench says so."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.common import ROOT
from zoomstream.samples import dumps, meeting_object, participant, sign, zoom_event

VEGETA = ROOT / ".stack" / "bin" / "vegeta"
WRK_SCRIPT = ROOT / "bench" / "wrk_webhooks.lua"


def bodies(count: int) -> list[bytes]:
    """`count` distinct participant_joined bodies over 50 meetings, as Zoom sends them."""
    start = datetime.now(tz=UTC)
    return [
        dumps(
            zoom_event(
                "meeting.participant_joined",
                meeting_object(
                    str(85_000_000_000 + n % 50),
                    f"load{n % 50}==",
                    participant=participant(n, start),
                ),
                int(time.time() * 1000) + n,
            )
        )
        for n in range(count)
    ]


@dataclass(frozen=True)
class Result:
    rate: float
    p50_ms: float
    p99_ms: float
    answers: dict[str, int]
    """By status; "errors" counts connections that failed or timed out."""
    generator_cpu: float
    """Of the load generator, in cores (1.0: one core busy the whole run)."""
    server_cpu: tuple[float, ...] = ()
    """Of each watched server process, in cores."""
    requests: int = 0
    offered: float = 0.0
    """Requests/s sent, answered or not (vegeta at a fixed rate: the rate it held)."""

    def text(self) -> str:
        return f"{self.rate:,.0f}/s, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"

    def cpu_text(self) -> str:
        servers = " + ".join(f"{cpu:.2f}" for cpu in self.server_cpu) or "-"
        return f"CPU in cores: server {servers}, load generator {self.generator_cpu:.2f}"

    def all_ok(self) -> bool:
        return set(self.answers) == {"200"}


class _Cpu:
    """CPU seconds of processes sampled while they run, so that the cores they used over the
    last part of the run (the load's own clock, after the generator's set-up) can be told."""

    def __init__(self, pids: Sequence[int]) -> None:
        self._procs = [psutil.Process(pid) for pid in pids]
        self._samples: list[tuple[float, list[float]]] = []

    def sample(self) -> None:
        try:
            seconds = [float(sum(p.cpu_times()[:2])) for p in self._procs]
        except psutil.NoSuchProcess:
            return  # the generator has just exited: the last sample stands
        self._samples.append((time.perf_counter(), seconds))

    def cores(self, last_seconds: float) -> tuple[float, ...]:
        """Cores used from `last_seconds` before the last sample to it."""
        end, at_end = self._samples[-1]
        begin, at_begin = next((t, s) for t, s in self._samples if t >= end - last_seconds)
        if end <= begin:
            return tuple(0.0 for _ in self._procs)
        return tuple((e - b) / (end - begin) for e, b in zip(at_end, at_begin, strict=True))

    def watch(self, process: psutil.Popen) -> None:
        while process.poll() is None:
            self.sample()
            time.sleep(0.1)


def requests_file(path: Path, payloads: Sequence[bytes], secret: bytes) -> Path:
    """wrk's input: each body signed now (well within the signature tolerance for a run)."""
    signed = int(time.time())
    with path.open("wb") as out:
        for body in payloads:
            signature = sign(secret, body, signed)["x-zm-signature"]
            out.write(f"{signed}\t{signature}\t".encode() + body + b"\n")
    return path


def wrk(
    url: str, requests: Path, seconds: float, connections: int, servers: Sequence[int] = ()
) -> Result:
    """wrk with `connections` busy connections on one thread for `seconds`, POSTing the
    requests file's webhooks to `url`; `servers` are the pids whose CPU is watched."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (scripts/bench installs Debian's package)")
    threads = 1  # one is far from its ceiling here; the second core is the servers'
    command = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        "--timeout=10s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        str(requests),
        str(threads),
    ]
    generator = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    cpu = _Cpu([generator.pid, *servers])
    cpu.watch(generator)
    out, err = generator.communicate()
    if generator.returncode != 0:
        raise RuntimeError(f"wrk exited with {generator.returncode}: {err.decode()[-500:]}")
    line = out.decode().strip().splitlines()[-1]
    summary = json.loads(line)
    answers: dict[str, int] = {}
    failed = summary["connect"] + summary["read"] + summary["write"] + summary["timeout"]
    ok = summary["requests"] - summary["non_2xx"]
    if ok:
        answers["200"] = ok
    if summary["non_2xx"]:
        answers["non-2xx"] = summary["non_2xx"]
    if failed:
        answers["errors"] = failed
    # wrk formats its requests before its clock starts: the CPU figures cover its clock.
    cores = cpu.cores(summary["duration_us"] / 1e6 - 0.5)
    return Result(
        summary["requests"] / (summary["duration_us"] / 1e6),
        summary["p50_us"] / 1000,
        summary["p99_us"] / 1000,
        answers,
        cores[0],
        tuple(cores[1:]),
        summary["requests"],
        summary["requests"] / (summary["duration_us"] / 1e6),
    )


def targets_file(path: Path, targets: Sequence[dict[str, object]]) -> Path:
    """vegeta's JSON targets, one a line."""
    with path.open("w") as out:
        for target in targets:
            out.write(json.dumps(target) + "\n")
    return path


def webhook_targets(url: str, secret: bytes, payloads: Sequence[bytes]) -> list[dict[str, object]]:
    """vegeta targets of signed webhooks, signed now."""
    signed = int(time.time())
    found: list[dict[str, object]] = []
    for body in payloads:
        headers = {k: [v] for k, v in sign(secret, body, signed).items()}
        headers["Content-Type"] = ["application/json"]
        found.append(
            {
                "method": "POST",
                "url": url,
                "body": base64.b64encode(body).decode(),
                "header": headers,
            }
        )
    return found


def vegeta(
    targets: Path,
    seconds: float,
    log: Path,
    *,
    workers: int = 16,
    rate: float | None = None,
    servers: Sequence[int] = (),
) -> Result:
    """vegeta for `seconds`: at a fixed `rate` (requests/s, whatever the answers' latency), or
    with `workers` connections kept busy (each sends its next request when the last is
    answered)."""
    raw = log.with_suffix(".bin")
    pace = [f"-rate={rate:.0f}/s"] if rate else ["-rate=0", f"-max-workers={workers}"]
    with raw.open("wb") as out:
        generator = psutil.Popen(
            [
                str(VEGETA),
                "attack",
                "-format=json",
                f"-targets={targets}",
                *pace,
                f"-workers={workers}",
                f"-duration={seconds:.3f}s",
                "-timeout=10s",
            ],
            stdout=out,
        )
        cpu = _Cpu([generator.pid, *servers])
        cpu.watch(generator)
        if generator.returncode != 0:
            raise RuntimeError(f"vegeta exited with {generator.returncode}")
    cores = cpu.cores(seconds - 0.5)
    report = subprocess.run(
        [str(VEGETA), "report", "-type=json", str(raw)], capture_output=True, check=True
    )
    summary = json.loads(report.stdout)
    latencies = summary["latencies"]
    return Result(
        float(summary["throughput"]),
        latencies["50th"] / 1e6,
        latencies["99th"] / 1e6,
        {str(k): int(v) for k, v in summary["status_codes"].items()},
        cores[0],
        tuple(cores[1:]),
        int(summary["requests"]),
        float(summary["rate"]),
    )
