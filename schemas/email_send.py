"""`email.send-requests`: the platform asks zoomstream to send one email."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field

EmailType = Literal[
    "verification",
    "password_reset",
    "welcome",
    "registration_confirmation",
    "event_reminder_24h",
    "event_reminder_1h",
    "event_cancelled",
    "event_updated",
    "waitlist_confirmation",
    "waitlist_promoted",
    "certificate_issued",
    "event_invitation",
    "other",
]


class EmailSendRequest(BaseModel):
    """Value of `email.send-requests`. Key: the recipient address, lower-cased, so that every
    request for one recipient is handled in order by one worker (the duplicate check needs it).

    `request_id` is the request's identity: it becomes `email_logs.uuid`, so a request delivered
    or replayed twice is one row and one send."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    request_id: UUID
    requested_at: datetime = Field(
        description="When the platform asked; the duplicate window's clock"
    )
    email_type: EmailType
    recipient_email: EmailStr
    recipient_name: str = Field(default="", max_length=255)
    recipient_user_id: int | None = None
    subject: str = Field(min_length=1, max_length=500)
    body_text: str = ""
    body_html: str = ""
    from_email: EmailStr
    from_name: str = Field(default="", max_length=255)
    reply_to: EmailStr | None = None
    sent_by_id: int | None = Field(default=None, description="The user who triggered a manual send")
    event_id: int | None = None
    registration_id: int | None = None
    certificate_id: int | None = None
    invitation_id: int | None = None
