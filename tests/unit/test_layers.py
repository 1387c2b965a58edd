"""What each package may import (README, "Architecture"): the command layer (`zoomstream`) sits on
top and nothing below imports it; `schemas` is the ground floor (models, settings, topic names)
and imports nothing else of ours; every SQL statement is sent from `sinks`. And the tests' own
layout: every integration file marked, no test module borrowing another's helpers, and every wait
going through tests/polling.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = {"ingest", "streams", "sinks", "schemas", "zoomstream"}
MAY_IMPORT = {
    "schemas": {"schemas"},
    "sinks": {"schemas", "sinks"},
    "ingest": {"schemas", "sinks", "ingest"},
    # The worker publishes its records through ingest's producer adapter (ingest.publisher) and
    # asks Zoom's API through ingest's client (ingest.zoom_api), whose attempts it logs with
    # ingest's call log (ingest.api_call_log).
    "streams": {
        "schemas",
        "sinks",
        "streams",
        "ingest.publisher",
        "ingest.zoom_api",
        "ingest.api_call_log",
    },
    # The runtime serves every domain and knows none of them.
    "streams.runtime": {"schemas", "sinks", "streams.runtime"},
}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in OURS}


def allowed(name: str, rules: set[str]) -> bool:
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


def test_each_package_imports_only_the_layers_below_it() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package, rules in MAY_IMPORT.items()
        for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py"))
        for name in sorted(imports(path))
        if not allowed(name, rules)
    ]
    assert wrong == []


SQL_CALLS = {"execute", "executemany"}
"""Methods of a psycopg connection or cursor that send a statement."""


def sql_calls(path: Path) -> list[int]:
    """Lines of `path` that call a statement-sending method."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SQL_CALLS
    ]


def test_every_statement_is_sent_from_sinks() -> None:
    """Except the local stack's own database creation (zoomstream/stack)."""
    outside = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ("ingest", "streams", "schemas", "zoomstream")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "stack" not in path.relative_to(ROOT).parts
        for line in sql_calls(path)
    ]
    assert outside == []


def test_the_rule_sees_an_import_that_breaks_it(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from zoomstream.settings import Settings\nimport json\n")
    assert imports(module) == {"zoomstream.settings"}
    assert not allowed("zoomstream.settings", MAY_IMPORT["streams"])
    module.write_text("async def f(conn):\n    await conn.execute('SELECT 1')\n")
    assert sql_calls(module) == [2]


def test_every_integration_file_carries_the_integration_marker() -> None:
    """`pytest -m "not integration"` runs the broker-less tests alone."""
    unmarked = [
        path.name
        for path in sorted((ROOT / "tests" / "integration").glob("test_*.py"))
        if "pytestmark = pytest.mark.integration" not in path.read_text()
    ]
    assert unmarked == []


def test_no_test_module_imports_another_test_modules_helpers() -> None:
    """Shared helpers live in helper modules (tests/email_signing.py, tests/integration/faults.py,
    tests/integration/zoom_webhooks.py, the conftests), never in a test module."""
    borrowing = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        for name in sorted(_test_imports(path))
    ]
    assert borrowing == []


def _test_imports(path: Path) -> set[str]:
    """The test modules (`tests.….test_…`) that `path` imports from."""
    return {
        node.module
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ImportFrom)
        and node.module is not None
        and node.module.startswith("tests.")
        and node.module.rsplit(".", 1)[-1].startswith("test_")
    }


DEADLINE = re.compile(r"monotonic\(\)\s*\+")
"""A deadline computed by hand (the monotonic clock plus a timeout): a polling loop begins."""


def deadlines(path: Path) -> list[int]:
    """Lines of `path` that compute a deadline."""
    return [n for n, line in enumerate(path.read_text().splitlines(), 1) if DEADLINE.search(line)]


def test_every_wait_of_the_tests_goes_through_the_polling_helper() -> None:
    """One way to wait (tests/polling.py's `poll`): each wait says what it waits for, and fails
    with what it saw last."""
    helper = ROOT / "tests" / "polling.py"
    hand_written = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path != helper
        for line in deadlines(path)
    ]
    assert hand_written == []


def test_the_rule_sees_a_hand_written_deadline(tmp_path: Path) -> None:
    module = tmp_path / "waits.py"
    by_hand = "end = time.monotonic()" + " + 30"  # spelled apart: this file obeys the rule too
    module.write_text(f"import time\n\n{by_hand}\nstarted = time.monotonic()\n")
    assert deadlines(module) == [3]
    assert deadlines(ROOT / "tests" / "polling.py") != []  # the helper itself is seen, and spared
