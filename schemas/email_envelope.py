"""`email.events.raw`: one accepted email-provider webhook delivery, exactly as it arrived."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas._types import RawBytes
from schemas.email_event import Provider


class EmailWebhookEnvelope(BaseModel):
    """Value of `email.events.raw` (key: the delivery id). The body is kept byte for byte."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    provider: Provider
    delivery_id: str = Field(
        description=(
            "The provider's id of the delivery (svix-id, Mailgun's token) or, where it has none"
            " for the whole body (SendGrid batches, Postmark), the hex SHA-256 of the body"
        )
    )
    received_at: datetime
    headers: dict[str, str] = Field(description="A safe subset of the request headers")
    body: RawBytes = Field(description="The raw request body, base64")
