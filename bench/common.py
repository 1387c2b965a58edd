"""What every benchmark shares: the machine's description, processes, percentiles, results."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}"


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CpuWatch:
    """CPU seconds that a set of processes used between `start` and `stop`: given pids, and
    every PostgreSQL server process of this machine (its backends come with connections)."""

    def __init__(self, pids: Sequence[int] = (), postgres: bool = False) -> None:
        self._pids = list(pids)
        self._postgres = postgres
        self._start: dict[int, float] = {}

    def _now(self) -> dict[int, float]:
        found: dict[int, float] = {}
        procs = [psutil.Process(pid) for pid in self._pids]
        if self._postgres:
            procs += [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            found[proc.pid] = float(times.user + times.system)
        return found

    def start(self) -> None:
        self._start = self._now()

    def seconds(self) -> float:
        """Since `start`: a process that began meanwhile counts from 0."""
        return sum(now - self._start.get(pid, 0.0) for pid, now in self._now().items())


@dataclass
class Figure:
    name: str
    measured: str
    floor: str
    ratio: float
    goal: str
    notes: str = ""

    def met(self) -> str:
        return ""


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        print(
            f"{figure.name}: {figure.measured} | floor {figure.floor} | ratio {figure.ratio:.3g}"
            f" | goal {figure.goal}" + (f" | {figure.notes}" if figure.notes else ""),
            flush=True,
        )

    def append_to_results(self, scale: str) -> None:
        new = not RESULTS.exists()
        with RESULTS.open("a") as out:
            if new:
                out.write(
                    "# Benchmark results\n\nAppended by `scripts/bench`; each ratio is measured"
                    " against a floor taken in the same run on the same machine.\n"
                )
            stamp = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
            out.write(f"\n## {stamp} ({scale}) on {machine()}\n\n")
            out.write(
                "| figure | measured | floor | ratio | goal | notes |\n| --- | --- | --- | --- | --- | --- |\n"
            )
            for f in self.figures:
                out.write(
                    f"| {f.name} | {f.measured} | {f.floor} | {f.ratio:.3g} | {f.goal} | {f.notes} |\n"
                )


class Process:
    """A zoomstream (or bench) process, with its log in a file."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, *args], env=env, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT
        )

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer; see {self.log}")

    def rss_bytes(self) -> int:
        return int(psutil.Process(self.popen.pid).memory_info().rss)

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
        self._out.close()
