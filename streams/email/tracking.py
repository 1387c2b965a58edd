"""Provider events applied to email_logs: stored once as facts, then the status recomputed."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from psycopg import AsyncConnection

from schemas.email_envelope import EmailWebhookEnvelope
from schemas.email_event import EmailEvent
from sinks import email as store
from streams.email import events as email_events
from streams.email.status import Sending, delivery_fields, suppresses


def normalise(envelope: EmailWebhookEnvelope) -> list[EmailEvent]:
    """The delivery's events in our vocabulary; InvalidEmailWebhook if the body is not the
    provider's."""
    match envelope.provider:
        case "resend":
            return email_events.resend(envelope.body, envelope.delivery_id)
        case "sendgrid":
            return email_events.sendgrid(envelope.body)
        case "postmark":
            return email_events.postmark(envelope.body)
        case "mailgun":
            return email_events.mailgun(envelope.body)


async def refresh_log(conn: AsyncConnection, log_id: int) -> None:
    """Recompute one email's delivery columns from its sender state and all its events."""
    log, rows = await store.load_log(conn, log_id)
    sending = Sending(log["send_state"], log["sent_at"], log["failed_at"], log["send_error"])
    fields = delivery_fields(sending, (EmailEvent.model_validate(row) for row in rows))
    await store.write_fields(conn, log_id, dataclasses.asdict(fields))


@dataclass
class Applied:
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    suppressed: int = 0
    logs: set[int] = field(default_factory=set)


async def apply_events(conn: AsyncConnection, events: Sequence[EmailEvent]) -> Applied:
    """Store each new event, link it to its email, suppress the address where it must, and
    recompute the emails touched. A redelivered event changes nothing."""
    applied = Applied()
    for event in events:
        if not await store.insert_event(conn, event.model_dump()):
            applied.duplicates += 1
            continue
        applied.stored += 1
        match = await store.match_log(conn, event.provider_message_id, event.message_id)
        address = event.recipient
        if match is None:
            applied.unmatched += 1  # linked when its email's ids are recorded
        else:
            log_id, address = match
            await store.link_event(conn, event.content_key, log_id)
            applied.logs.add(log_id)
        if suppresses(event) and address:
            applied.suppressed += await store.suppress_address(conn, address)
    for log_id in sorted(applied.logs):
        await refresh_log(conn, log_id)
    return applied
