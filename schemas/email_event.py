"""`email.events.raw` normalised: one delivery event of one email, in one vocabulary."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

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


REASON_KINDS = frozenset({"bounced", "dropped", "failed", "deferred"})
"""Kinds whose reason is part of what the event is (two bounces of one email differ by it)."""
KEY_SEPARATOR = "\x1f"


class EmailEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: Provider
    event_id: str = Field(
        description="The provider's id of this delivery of the event, kept for tracing; not"
        " the dedup key: SendGrid's sg_event_id and Mailgun's signature token change when the"
        " provider retries"
    )
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

    @computed_field(description="What the event is, not how it was delivered: the dedup key")  # type: ignore[prop-decorator]
    @property
    def content_key(self) -> str:
        """sha256 (hex) of provider, kind, the message's ids, the recipient, the event's time as
        the provider stamped it (UTC, microseconds), the link of a click and the reason of a
        bounce, drop, failure or deferral, joined by U+001F. Migration 0016 computes the same
        from the stored columns (docs/design.md, "Email")."""
        parts = (
            self.provider,
            self.kind,
            self.provider_message_id,
            self.message_id or "",
            self.recipient or "",
            self.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
            (self.url or "") if self.kind == "clicked" else "",
            self.reason if self.kind in REASON_KINDS else "",
        )
        return hashlib.sha256(KEY_SEPARATOR.join(parts).encode()).hexdigest()
