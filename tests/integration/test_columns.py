"""The column limits of schemas/columns.py are the tables' own: each string of a row type that
goes to a varchar column is cut to exactly that column's width (or is one of ours, always short),
and each string of a request body that goes to a column must fit exactly that column's width."""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any

import psycopg
import pytest
from pydantic import BaseModel

from schemas.columns import Fits, limits
from schemas.recording_api import RecordingSettingsUpdate
from schemas.rows import ApiCallRow, FileRecord, MeetingRow, RecordingRecord, WebhookLogRow
from streams.attendance.rules import Fact

pytestmark = pytest.mark.integration

TABLES: dict[type, tuple[str, dict[str, str]]] = {
    WebhookLogRow: ("zoom_webhook_logs", {}),
    RecordingRecord: ("zoom_recordings", {}),
    FileRecord: ("zoom_recording_files", {}),
    MeetingRow: ("zoom_meetings", {"uuid": "zoom_meeting_uuid", "meeting_id": "zoom_meeting_id"}),
    Fact: ("zoom_participant_facts", {}),
    ApiCallRow: ("external_api_calls", {}),
}
OURS = {
    (WebhookLogRow, "webhook_id"),  # a SHA-256 in hex
    (WebhookLogRow, "processing_status"),  # one of the spec's statuses
    (Fact, "kind"),  # joined, left or waiting
}


def widths(database_url: str, table: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT column_name, character_maximum_length FROM information_schema.columns"
            " WHERE table_name = %s AND character_maximum_length IS NOT NULL",
            (table,),
        ).fetchall()
    return {str(name): int(width) for name, width in rows}


def test_every_limit_is_its_columns_width(database_url: str) -> None:
    wrong = []
    for row_type, (table, renamed) in TABLES.items():
        columns = widths(database_url, table)
        assert columns, f"no varchar column found in {table}"
        limited = {name: limit.chars for name, limit in limits(row_type)}
        for field in dataclasses.fields(row_type):
            width = columns.get(renamed.get(field.name, field.name))
            if width is None or (row_type, field.name) in OURS:
                continue
            if limited.get(field.name) != width:
                wrong.append(
                    f"{row_type.__name__}.{field.name}: {limited.get(field.name)} != {width}"
                )
    assert wrong == []


REQUESTS: dict[type[BaseModel], str] = {RecordingSettingsUpdate: "zoom_recordings"}
"""Request bodies whose fields are columns of that table, by the same names."""
CHOICES = {(RecordingSettingsUpdate, "access_level")}  # one of the spec's four names


def fits_of(hint: Any) -> list[Fits]:
    """The Fits of an annotated type, also inside `X | None`."""
    if typing.get_origin(hint) is Annotated:
        return [m for m in typing.get_args(hint)[1:] if isinstance(m, Fits)]
    return [fits for arg in typing.get_args(hint) for fits in fits_of(arg)]


def takes_text(hint: Any) -> bool:
    return hint is str or any(takes_text(arg) for arg in typing.get_args(hint))


def test_every_request_string_must_fit_its_columns_width(database_url: str) -> None:
    wrong = []
    for model, table in REQUESTS.items():
        columns = widths(database_url, table)
        for name, field in model.model_fields.items():
            if (model, name) in CHOICES:
                continue
            found = [fits.chars for fits in fits_of(field.annotation)]
            width = columns.get(name)
            if width is not None and found != [width]:
                wrong.append(f"{model.__name__}.{name}: {found} != {width}")
            if width is None and takes_text(field.annotation) and not found:
                wrong.append(f"{model.__name__}.{name}: text without Fits")  # NUL would pass
    assert wrong == []
