"""Provider webhook bodies into EmailEvents: pure, one function per provider.

The mapping follows django-anymail's normalisation and the shared research (webhook formats,
section 2). Events outside the vocabulary (Resend's email.scheduled, SendGrid's processed and
group_resubscribe, Mailgun's accepted) are not delivery facts and give no EmailEvent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from schemas.email_event import EmailEvent, EventKind, InvalidEmailWebhook


def _address(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not value:
        return None
    return parseaddr(value)[1].lower() or None


def _epoch(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidEmailWebhook(f"not a timestamp: {value!r}")
    return datetime.fromtimestamp(float(value), tz=UTC)


FRACTION = re.compile(r"\.(\d+)")


def _iso(value: Any) -> datetime:
    """ISO-8601 with any number of fractional digits (Postmark sends 7); naive means UTC."""
    if not isinstance(value, str):
        raise InvalidEmailWebhook(f"not a time: {value!r}")
    text = FRACTION.sub(lambda m: "." + m.group(1)[:6], value.replace("Z", "+00:00"), count=1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidEmailWebhook(f"not a time: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _object(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEmailWebhook(f"not JSON: {exc}") from exc


RESEND_KINDS: dict[str, EventKind] = {
    "email.sent": "sent",
    "email.delivered": "delivered",
    "email.delivery_delayed": "deferred",
    "email.delivered_delayed": "deferred",
    "email.bounced": "bounced",
    "email.complained": "complained",
    "email.opened": "opened",
    "email.clicked": "clicked",
    "email.failed": "failed",
    "email.suppressed": "dropped",
}


def resend(body: bytes, svix_id: str) -> list[EmailEvent]:
    event = _object(body)
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise InvalidEmailWebhook("a Resend body is an object with data")
    kind = RESEND_KINDS.get(str(event.get("type")))
    if kind is None:
        return []
    data = event["data"]
    bounce = _dict(data.get("bounce"))
    bounce_type = None
    if kind == "bounced":  # Resend documents bounced as permanent; SES words when present
        bounce_type = "soft" if bounce.get("type") in ("Transient", "Undetermined") else "hard"
    click = _dict(data.get("click"))
    failed = _dict(data.get("failed"))
    return [
        EmailEvent(
            provider="resend",
            event_id=svix_id,
            kind=kind,
            bounce_type=bounce_type,
            provider_message_id=str(data.get("email_id") or ""),
            message_id=_message_id(data.get("message_id")),
            recipient=_address(data.get("to")),
            occurred_at=_iso(event.get("created_at")),
            url=click.get("link"),
            reason=str(bounce.get("message") or failed.get("reason") or ""),
        )
    ]


SENDGRID_KINDS: dict[str, EventKind] = {
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounced",
    "dropped": "dropped",
    "open": "opened",
    "click": "clicked",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}


def sendgrid(body: bytes) -> list[EmailEvent]:
    events = _object(body)
    if not isinstance(events, list):
        raise InvalidEmailWebhook("a SendGrid body is a JSON array")
    found = []
    for event in events:
        if not isinstance(event, dict):
            raise InvalidEmailWebhook("a SendGrid event is an object")
        kind = SENDGRID_KINDS.get(str(event.get("event")))
        if kind is None:
            continue
        bounce_type = None
        if kind == "bounced":  # "blocked" is a temporary rejection
            bounce_type = "soft" if event.get("type") == "blocked" else "hard"
        message_id = str(event.get("sg_message_id") or "").split(".", 1)[0]
        found.append(
            EmailEvent(
                provider="sendgrid",
                event_id=str(event.get("sg_event_id") or _digest(event)),
                kind=kind,
                bounce_type=bounce_type,
                provider_message_id=message_id,
                message_id=_message_id(event.get("smtp-id")),
                recipient=_address(event.get("email")),
                occurred_at=_epoch(event.get("timestamp")),
                url=event.get("url"),
                reason=str(event.get("reason") or event.get("response") or ""),
            )
        )
    return found


POSTMARK_HARD = frozenset(
    {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "SpamNotification"}
)
POSTMARK_TIME_FIELDS = ("DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt")


def postmark(body: bytes) -> list[EmailEvent]:
    event = _object(body)
    if not isinstance(event, dict) or "RecordType" not in event:
        raise InvalidEmailWebhook("a Postmark body is an object with RecordType")
    record = event["RecordType"]
    bounce_type = None
    kind: EventKind | None
    if record == "Delivery":
        kind = "delivered"
    elif record == "Bounce":
        if event.get("Type") == "Unsubscribe":
            kind = "unsubscribed"
        else:
            kind, bounce_type = "bounced", "hard" if event.get("Type") in POSTMARK_HARD else "soft"
    elif record == "SpamComplaint":
        kind = "complained"
    elif record == "Open":
        kind = "opened"
    elif record == "Click":
        kind = "clicked"
    elif record == "SubscriptionChange":
        kind = "unsubscribed" if event.get("SuppressSending") else None
    else:
        kind = None
    if kind is None:
        return []
    moment = next((event[f] for f in POSTMARK_TIME_FIELDS if event.get(f)), None)
    return [
        EmailEvent(
            provider="postmark",
            # Postmark sends no event id: the record's identity is its type, message, recipient, time
            event_id=str(
                event.get("ID")
                or _digest(
                    {
                        k: event.get(k)
                        for k in (
                            "RecordType",
                            "MessageID",
                            "Recipient",
                            "Email",
                            *POSTMARK_TIME_FIELDS,
                        )
                    }
                )
            ),
            kind=kind,
            bounce_type=bounce_type,
            provider_message_id=str(event.get("MessageID") or ""),
            recipient=_address(event.get("Recipient") or event.get("Email")),
            occurred_at=_iso(moment),
            url=event.get("OriginalLink"),
            reason=str(event.get("Description") or event.get("SuppressionReason") or ""),
        )
    ]


MAILGUN_KINDS: dict[str, EventKind] = {
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
    "unsubscribed": "unsubscribed",
    "complained": "complained",
    "rejected": "dropped",
}


def mailgun(body: bytes) -> list[EmailEvent]:
    document = _object(body)
    if not isinstance(document, dict) or not isinstance(document.get("event-data"), dict):
        raise InvalidEmailWebhook("a Mailgun body is an object with event-data")
    data: Mapping[str, Any] = document["event-data"]
    name = str(data.get("event"))
    bounce_type = None
    kind: EventKind | None
    if name == "failed":  # permanent failures bounce; temporary ones are deferred
        if data.get("severity") == "permanent":
            kind, bounce_type = "bounced", "hard"
        else:
            kind = "deferred"
    else:
        kind = MAILGUN_KINDS.get(name)
    if kind is None:
        return []
    signature = _dict(document.get("signature"))
    message = _dict(data.get("message"))
    headers = _dict(message.get("headers"))
    status = _dict(data.get("delivery-status"))
    return [
        EmailEvent(
            provider="mailgun",
            # event-data.id names the event (unique within a day); the signature's token is
            # made anew for each delivery. Neither is the dedup key (EmailEvent.content_key).
            event_id=str(data.get("id") or signature.get("token") or _digest(dict(data))),
            kind=kind,
            bounce_type=bounce_type,
            provider_message_id=str(headers.get("message-id") or "").strip("<>"),
            message_id=_message_id(headers.get("message-id")),
            recipient=_address(data.get("recipient")),
            occurred_at=_epoch(data.get("timestamp")),
            url=data.get("url"),
            # The receiving server's answer says more than Mailgun's category ("bounce")
            reason=str(
                status.get("message") or status.get("description") or data.get("reason") or ""
            ),
        )
    ]


def _message_id(value: Any) -> str | None:
    """An RFC Message-ID as email_logs keeps it: without the angle brackets."""
    if not isinstance(value, str):
        return None
    return value.strip().strip("<>") or None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _digest(value: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
