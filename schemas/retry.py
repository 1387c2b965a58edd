"""`zoom.webhooks.retry` (internal): a webhook whose handling failed, due again at `not_before`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas._types import RawBytes
from schemas.columns import ErrorText


class RetryRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    attempt: int = Field(ge=2, description="The attempt this message is for")
    not_before: datetime
    source_topic: str
    partition: int
    offset: int
    envelope: RawBytes = Field(description="The original message value (a raw webhook envelope)")
    last_error: ErrorText
