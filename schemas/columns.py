"""Column widths, in one place: a string field of a row (or of a message) is annotated with its
column's limit, and `clip` cuts a row's values to their limits. A request body's field says
`Fits(column)` instead: what a caller sends is refused past the width, never cut.

A row is clipped where it is made (`clip(FileRecord(...))`), so the value the worker holds in
memory, the one in the table and the one published are the same. The rows are dataclasses and
`clip` reads their annotations once per class; in a pydantic model the same annotation cuts the
value when the model is built. A value within its limit is returned as it is (no copy).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema


@dataclass(frozen=True)
class Limit:
    """At most `chars` characters: the first ones, or for a traceback the last ones."""

    chars: int
    keep: Literal["start", "end"] = "start"

    def __call__(self, value: str) -> str:
        if len(value) <= self.chars:
            return value
        return value[: self.chars] if self.keep == "start" else value[-self.chars :]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self, handler(source))


EventType = Annotated[str, Limit(50)]
MeetingId = Annotated[str, Limit(20)]
"""zoom_meeting_id: Zoom's numeric meeting id as text."""
ZoomId = Annotated[str, Limit(100)]
"""An id Zoom gives (an occurrence's or recording's UUID, a file id, a participant's session,
user or registrant id) or a customer key."""
Topic = Annotated[str, Limit(300)]
ErrorText = Annotated[str, Limit(1000)]
"""An error message: of a log row, a dead letter, a retry request."""
Traceback = Annotated[str, Limit(5000, keep="end")]
"""A traceback: its end, where the error is."""
ErrorCode = Annotated[str, Limit(50)]
"""An email's error code (the relay's SMTP code)."""
ShortCode = Annotated[str, Limit(20)]
"""A file type or a processing status as Zoom names it."""
RecordingType = Annotated[str, Limit(50)]
FileName = Annotated[str, Limit(255)]
FileExtension = Annotated[str, Limit(10)]
ZoomPassword = Annotated[str, Limit(50)]
PersonName = Annotated[str, Limit(255)]
Email = Annotated[str, Limit(254)]
Url = Annotated[str, Limit(2000)]
Title = Annotated[str, Limit(200)]
"""A recording's title as its organizer sets it (Zoom's own is the topic)."""
Description = Annotated[str, Limit(2000)]
"""A recording's description: `text` in PostgreSQL, so the bound is the API's own."""
ThumbnailUrl = Annotated[str, Limit(200)]
ApiService = Annotated[str, Limit(20)]
"""An external service the pipeline calls (external_api_calls.service: 'zoom')."""
ApiOperation = Annotated[str, Limit(50)]
"""What a call to an external service does, by our name ('get_meeting_recordings')."""
HttpMethod = Annotated[str, Limit(10)]
RequestId = Annotated[str, Limit(200)]
"""An external service's id of one request (Zoom's x-zm-trackingid)."""
AccessPassword = Annotated[str, Limit(50)]
"""A recording's platform password: the spec's plain column's width (only its hash is kept)."""


@dataclass(frozen=True)
class Fits:
    """A request's value must fit its column (`Annotated[str, Fits(Title)]`): longer than the
    column's width (a URL counts in its normalised form, the one stored), or holding what
    PostgreSQL's text cannot store (NUL, a lone surrogate), it is a validation error naming the
    field (a 422), never cut. Its JSON Schema says the width (`maxLength`)."""

    column: Any
    """A column type of this module."""

    @property
    def chars(self) -> int:
        (limit,) = _limits_of(self.column)
        return limit.chars

    def check(self, value: Any) -> Any:
        text = str(value)
        if len(text) > self.chars:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": self.chars},
            )
        if "\x00" in text:
            raise PydanticCustomError(
                "string_nul", "String should not contain NUL (\\u0000): PostgreSQL cannot store it"
            )
        try:
            text.encode()
        except UnicodeEncodeError as exc:  # JSON's "\\ud800": a lone surrogate is no character
            raise PydanticCustomError(
                "string_unicode", "String should be Unicode text, not a lone surrogate"
            ) from exc
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["maxLength"] = self.chars
        return json_schema


R = TypeVar("R")

_LIMITS: dict[type, tuple[tuple[str, Limit], ...]] = {}


def limits(cls: type) -> tuple[tuple[str, Limit], ...]:
    """(field, limit) of each limited field of a dataclass, read once per class."""
    found = _LIMITS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        found = tuple(
            (field.name, limit)
            for field in dataclasses.fields(cls)
            for limit in _limits_of(hints[field.name])
        )
        _LIMITS[cls] = found
    return found


def _limits_of(hint: Any) -> list[Limit]:
    """The Limit of an annotated type, also inside `X | None`."""
    if typing.get_origin(hint) is Annotated:
        return [m for m in typing.get_args(hint)[1:] if isinstance(m, Limit)]
    return [limit for arg in typing.get_args(hint) for limit in _limits_of(arg)]


def clip(row: R) -> R:
    """The row with each limited string cut to its limit; the row itself when none is over."""
    changes = {}
    for name, limit in limits(type(row)):
        value = getattr(row, name)
        if value is not None and len(value) > limit.chars:
            changes[name] = limit(value)
    return dataclasses.replace(row, **changes) if changes else row  # type: ignore[type-var]
