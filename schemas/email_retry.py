"""`email.send-retry` (internal): an email whose next attempt is due."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class EmailSendRetry(BaseModel):
    """Value of `email.send-retry`. Key: the recipient address, lower-cased, as its request's.

    Published by the worker group's leader when `email_logs.next_attempt_at` has come; the
    message is rebuilt from the email's row. Only the first message for an attempt makes it: one
    for an attempt already made (published twice, redelivered) changes nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1
    request_id: UUID = Field(description="The email's request id (`email_logs.uuid`)")
    attempt: int = Field(ge=2, description="The attempt this message is for, counted from 1")
    due_at: datetime = Field(description="When the attempt became due")
