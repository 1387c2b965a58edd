"""`email.events.raw` normalised: one delivery event of one email, in one vocabulary."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Provider = Literal["resend", "sendgrid", "postmark", "mailgun"]
EventKind = Literal[
    "sent",
    "delivered",
    "deferred",
    "bounced",
    "opened",
    "clicked",
    "complained",
    "unsubscribed",
    "dropped",
    "failed",
]


class InvalidEmailWebhook(ValueError):
    """An email provider's body does not have the shape that provider sends (ingest refuses
    it with 400; the worker dead-letters an event it cannot read)."""


class EmailEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: Provider
    event_id: str = Field(description="The provider's id of this event: the dedup key")
    kind: EventKind
    bounce_type: Literal["hard", "soft"] | None = None
    provider_message_id: str = Field(description="Matches email_logs.provider_message_id")
    message_id: str | None = Field(
        default=None,
        description="The RFC 5322 Message-ID without <>, when the event carries it: matches email_logs.message_id",
    )
    recipient: str | None = Field(description="Lower-cased address, when the provider says")
    occurred_at: datetime
    url: str | None = Field(default=None, description="The link clicked")
    reason: str = Field(default="", description="Bounce, drop or failure reason, as sent")
