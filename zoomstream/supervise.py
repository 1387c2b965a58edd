"""`zoomstream up`'s processes kept running: one that exits is started again, with a log line.

Ingest and the worker lose nothing when they stop (Kafka has every accepted request; the worker
reads its uncommitted offsets again), so a restart is always safe. A process that keeps exiting
soon after it starts is restarted ever more slowly, up to a minute apart, instead of in a loop.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
STABLE_AFTER_SECONDS = 30.0


def restart_delay(previous: float | None, ran_for: float) -> float:
    """How long to wait before starting again a process that ran `ran_for` seconds: a second
    after a run that lasted, twice the previous wait (up to a minute) after a short one."""
    if previous is None or ran_for >= STABLE_AFTER_SECONDS:
        return FIRST_DELAY_SECONDS
    return min(MAX_DELAY_SECONDS, previous * 2)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class Child:
    """One `zoomstream <args>` process and its restart bookkeeping."""

    name: str
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes]
    started: float
    delay: float | None = None
    due: float | None = None  # when it exited: the time it is started again


class Supervisor:
    """Starts `zoomstream` subcommands and, from a thread of its own, starts again any that
    exits, until `stop`. Every exit and restart is echoed and written to the process's log."""

    def __init__(
        self, env: dict[str, str], echo: Callable[[str], None], interval: float = 0.5
    ) -> None:
        self._env = env
        self._echo = echo
        self._interval = interval
        self._children: list[Child] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self, name: str, args: list[str], log: Path) -> None:
        with self._lock:
            child = Child(name, args, log, self._spawn(args, log), time.monotonic())
            self._children.append(child)
        self._echo(f"{name} started (pid {child.process.pid}; log: {log})")
        if not self._thread.is_alive():
            self._thread.start()

    def check(self) -> None:
        """One pass: note the processes that exited, start again those whose wait is over."""
        with self._lock:
            if self._stopping.is_set():
                return
            now = time.monotonic()
            for child in self._children:
                if child.due is None:
                    returncode = child.process.poll()
                    if returncode is None:
                        continue
                    child.delay = restart_delay(child.delay, now - child.started)
                    child.due = now + child.delay
                    self._say(
                        child,
                        f"{child.name} (pid {child.process.pid}) {describe_exit(returncode)} "
                        f"after {now - child.started:.0f} s; starting it again in "
                        f"{child.delay:.0f} s",
                    )
                if now >= child.due:
                    child.process = self._spawn(child.args, child.log)
                    child.started, child.due = now, None
                    self._say(child, f"{child.name} started again (pid {child.process.pid})")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching, then terminate every process and wait for it (killed after `timeout`)."""
        with self._lock:
            self._stopping.set()
            processes = [child.process for child in self._children]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _watch(self) -> None:
        while not self._stopping.wait(self._interval):
            self.check()

    def _say(self, child: Child, message: str) -> None:
        line = f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M:%S} zoomstream up: {message}"
        self._echo(line)
        with child.log.open("a") as out:
            out.write(line + "\n")

    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "zoomstream", *args],
                env=self._env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
