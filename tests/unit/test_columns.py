from dataclasses import dataclass

from pydantic import BaseModel

from schemas.columns import ErrorText, MeetingId, Traceback, ZoomId, clip, limits
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
