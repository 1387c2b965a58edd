from dataclasses import dataclass
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, HttpUrl, ValidationError

from schemas.columns import (
    ErrorText,
    Fits,
    MeetingId,
    ThumbnailUrl,
    Title,
    Traceback,
    ZoomId,
    clip,
    limits,
)
from schemas.dead_letter import DeadLetter


@dataclass(frozen=True)
class Row:
    meeting_id: MeetingId
    trace: Traceback
    registrant_id: ZoomId | None
    count: int
    free: str


def test_each_limited_string_is_cut_to_its_column() -> None:
    row = clip(Row("8" * 25, "x" * 6000 + "Error: at the end", "r" * 101, 7, "y" * 9000))
    assert row.meeting_id == "8" * 20
    assert len(row.trace) == 5000 and row.trace.endswith("Error: at the end")
    assert row.registrant_id == "r" * 100
    assert (row.count, row.free) == (7, "y" * 9000)


def test_a_row_within_its_limits_is_the_same_object() -> None:
    row = Row("86", "trace", None, 1, "")
    assert clip(row) is row
    assert [name for name, _ in limits(Row)] == ["meeting_id", "trace", "registrant_id"]


def test_a_model_cuts_its_limited_strings_when_built() -> None:
    class Message(BaseModel):
        error: ErrorText

    assert Message(error="e" * 1500).error == "e" * 1000
    letter = DeadLetter.model_validate(
        {
            "source_topic": "t",
            "partition": 0,
            "offset": 1,
            "value": "",
            "error": "e" * 2000,
            "traceback": "t" * 9000 + "!",
            "failed_at": "2026-12-01T00:00:00Z",
        }
    )
    assert len(letter.error) == 1000 and len(letter.traceback) == 5000
    assert letter.traceback.endswith("!")


class Request(BaseModel):
    title: Annotated[str, Fits(Title)] | None = None
    thumbnail_url: Annotated[HttpUrl | Literal[""], Fits(ThumbnailUrl)] | None = None


def refusal(**body: object) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as raised:
        Request.model_validate(body)
    return [(error["loc"], error["type"]) for error in raised.value.errors()]


def test_a_request_string_that_does_not_fit_its_column_is_refused_not_cut() -> None:
    assert Request(title="t" * 200).title == "t" * 200
    assert refusal(title="t" * 201) == [(("title",), "string_too_long")]
    assert refusal(title="a\x00b") == [(("title",), "string_nul")]
    assert refusal(title="\ud800") == [(("title",), "string_unicode")]  # JSON's "\ud800"


def test_a_url_is_measured_as_it_is_stored() -> None:
    """Normalised: "é" is stored as "%C3%A9", three times as long."""
    assert len(str(Request(thumbnail_url="https://x.org/" + "a" * 186).thumbnail_url)) == 200
    assert refusal(thumbnail_url="https://x.org/" + "é" * 40) == [
        (("thumbnail_url",), "string_too_long")
    ]
    assert Request(thumbnail_url="").thumbnail_url == ""


def test_a_request_strings_schema_says_its_columns_width() -> None:
    properties = Request.model_json_schema()["properties"]
    assert properties["title"]["anyOf"][0] == {"type": "string", "maxLength": 200}
    assert properties["thumbnail_url"]["anyOf"][0]["maxLength"] == 200
