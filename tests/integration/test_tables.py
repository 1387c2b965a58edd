"""Every table of the pipeline has id, uuid, created_at and updated_at (DESIGN.md; issue 16.13)."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "zoomstream" / "migrations" / "pipeline"
COMMON = {"id", "uuid", "created_at", "updated_at"}


def pipeline_tables() -> set[str]:
    return {
        name
        for path in MIGRATIONS.glob("*.sql")
        for name in re.findall(r"CREATE TABLE (\w+)", path.read_text())
    }


def test_every_pipeline_table_has_the_common_columns(database_url: str) -> None:
    tables = pipeline_tables()
    assert len(tables) >= 13, tables
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = ANY(%s)",
            (sorted(tables),),
        ).fetchall()
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(str(table), set()).add(str(column))
    assert set(columns) == tables
    missing = {table: sorted(COMMON - found) for table, found in columns.items() if COMMON - found}
    assert missing == {}
