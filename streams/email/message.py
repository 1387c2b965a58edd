"""Outbound email, the pure part: the message built from a request, and what an SMTP answer means."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from schemas.columns import ErrorCode, clip
from schemas.email_send import EmailSendRequest


def message_id(request: EmailSendRequest, domain: str) -> str:
    """The Message-ID header without <>: derived from the request, so a send repeated after a
    crash carries the same id (receivers and providers can tell it is the same message), and
    known before sending, so provider events that arrive first can be matched."""
    return f"{request.request_id}@{domain}"


def build_message(request: EmailSendRequest, domain: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((request.from_name, str(request.from_email)))
    message["To"] = formataddr((request.recipient_name, str(request.recipient_email)))
    if request.reply_to:
        message["Reply-To"] = str(request.reply_to)
    message["Subject"] = request.subject
    message["Date"] = format_datetime(request.requested_at)
    message["Message-ID"] = f"<{message_id(request, domain)}>"
    message.set_content(request.body_text or "")
    if request.body_html:
        message.add_alternative(request.body_html, subtype="html")
    return message


QUEUED_AS = re.compile(r"queued as\s+<?([^\s>]+)>?", re.IGNORECASE)


def relay_message_id(response: str) -> str | None:
    """The relay's own id from its final answer ("250 Ok: queued as 4Xq…"), if it names one.

    SendGrid's SMTP relay answers with the X-Message-Id that prefixes its events' sg_message_id."""
    found = QUEUED_AS.search(response)
    return found.group(1) if found else None


@dataclass(frozen=True)
class SendFailure:
    """A failed attempt: `permanent` failures (5xx) are not tried again."""

    error: str
    code: ErrorCode
    permanent: bool


def classify(exc: Exception) -> SendFailure:
    return clip(_classify(exc))


def _classify(exc: Exception) -> SendFailure:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return SendFailure(
            f"recipients refused: {detail}", str(codes[0]), all(c >= 500 for c in codes)
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SendFailure(
            f"{type(exc).__name__}: {exc.code} {exc.message}", str(exc.code), exc.code >= 500
        )
    return SendFailure(f"{type(exc).__name__}: {exc}", "", False)
