"""5. Faults, longer than in CI: the fault tests run with FAULT_SECONDS set to the scale's fault
length, one figure per group of tests (the goal: all pass). Their output goes to the bench's log
folder; a figure names the tests that failed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, Figure, Report

GROUPS = {
    "fault tests (PostgreSQL stopped, broker and ingest restarted, worker kill -9)": [
        "tests/integration/test_faults.py",
        "tests/integration/test_walking_skeleton.py::test_worker_killed_mid_stream_still_gives_one_row_per_delivery",
    ],
    "worker fault tests (stopped past its group session, a second worker joining and leaving,"
    " one of two killed -9, `zoomstream up` restarting a killed worker)": [
        "tests/integration/test_worker_faults.py",
    ],
}


def run(report: Report, logs: Path, seconds: float) -> None:
    for number, (name, tests) in enumerate(GROUPS.items(), start=1):
        log = logs / f"faults-{number}.log"
        print(f"{name}: FAULT_SECONDS={seconds:g}, output in {log}", flush=True)
        started = time.perf_counter()
        with log.open("wb") as out:
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", *tests],
                cwd=ROOT,
                env={**os.environ, "FAULT_SECONDS": f"{seconds:g}"},
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        elapsed = time.perf_counter() - started
        failed = failed_tests(log.read_text(errors="replace"))
        notes = f"faults {seconds:g} s long, {elapsed:.0f} s in all"
        if done.returncode != 0:
            notes += f"; failed: {', '.join(failed) or 'see the log'} (log: {log})"
        report.add(
            Figure(
                name,
                "passed" if done.returncode == 0 else f"FAILED (exit {done.returncode})",
                "-",
                1.0 if done.returncode == 0 else 0.0,
                "all pass",
                notes,
            )
        )


def failed_tests(output: str) -> list[str]:
    """The names of the tests pytest's short summary (`-rf`) reports as failed."""
    return [
        line.split()[1].rsplit("::", 1)[-1]
        for line in output.splitlines()
        if line.startswith("FAILED ")
    ]
