from pathlib import Path

from tests.polling import poll
from zoomstream.supervise import (
    FIRST_DELAY_SECONDS,
    MAX_DELAY_SECONDS,
    STABLE_AFTER_SECONDS,
    Supervisor,
    describe_exit,
    restart_delay,
)


def test_a_process_that_ran_a_while_is_started_again_after_the_first_delay() -> None:
    assert restart_delay(None, 0.5) == FIRST_DELAY_SECONDS
    assert restart_delay(16.0, STABLE_AFTER_SECONDS) == FIRST_DELAY_SECONDS


def test_a_process_that_keeps_exiting_at_once_waits_ever_longer_up_to_the_maximum() -> None:
    delays = [FIRST_DELAY_SECONDS]
    for _ in range(10):
        delays.append(restart_delay(delays[-1], 0.5))
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert delays[-1] == MAX_DELAY_SECONDS


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(-9) == "was killed by SIGKILL"


def test_a_process_that_exits_is_started_again_with_a_log_line(tmp_path: Path) -> None:
    said: list[str] = []
    supervisor = Supervisor({}, said.append, interval=0.05)
    log = tmp_path / "help.log"
    supervisor.start("help", ["--help"], log)  # prints the usage and exits 0
    try:
        poll(
            lambda: list(said),
            until=lambda lines: any("started again" in line for line in lines),
            what="the supervisor to start `help` again",
            timeout=30,
            interval=0.05,
        )
    finally:
        supervisor.stop()
    assert said[0].startswith("help started (pid ")
    assert "help (pid " in said[1] and "exited with code 0" in said[1]
    assert "starting it again in 1 s" in said[1]
    assert "Usage" in log.read_text() and "exited with code 0" in log.read_text()
