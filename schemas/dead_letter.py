"""Dead-letter topics: a message that could not be processed, with why."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas._types import RawBytes
from schemas.columns import ErrorText, Traceback


class DeadLetter(BaseModel):
    """Value of `zoom.webhooks.dead-letter`, `email.dead-letter` and
    `recordings.view-events.dead-letter`."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    source_topic: str
    partition: int
    offset: int
    value: RawBytes = Field(description="The original message value, byte for byte, base64.")
    error: ErrorText = Field(description="What was wrong, one line (1,000 characters at most).")
    traceback: Traceback = ""
    attempts: int = 1
    failed_at: datetime
