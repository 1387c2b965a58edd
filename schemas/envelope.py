"""`zoom.webhooks.raw`: one accepted delivery, exactly as it arrived."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas._types import RawBytes

SCHEMA_VERSION = 1
"""Of `zoom.webhooks.raw` values written now."""


class RawWebhookEnvelope(BaseModel):
    """Value of `zoom.webhooks.raw` (key: the Zoom meeting id as text, absent when there is none).

    The body is the request body byte for byte, so its signature can be checked again on replay.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = Field(
        default=SCHEMA_VERSION, description="Bumped on an incompatible change."
    )
    webhook_id: str = Field(
        description=(
            "Delivery id: hex SHA-256 of the raw body. An exact redelivery has the same id; "
            "Zoom sends no event id and x-zm-trackingid is not always present."
        ),
        min_length=64,
        max_length=64,
    )
    received_at: datetime = Field(description="When ingest accepted the request (UTC).")
    headers: dict[str, str] = Field(
        description="A safe subset of the request headers (nothing secret), lower-cased names."
    )
    body: RawBytes = Field(description="The raw request body, base64.")
