"""Outbound messages and what SMTP answers mean."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
import pytest
from pydantic import ValidationError

from schemas.email_send import EmailSendRequest
from streams.email.message import build_message, classify, message_id, relay_message_id
from streams.email.sender import email_log_row


def send_request(**overrides: Any) -> EmailSendRequest:
    values: dict[str, Any] = {
        "request_id": uuid.UUID("0b6f3c1e-8d1f-4b8e-9a57-2f4f1d0c9e11"),
        "requested_at": datetime(2026, 11, 30, 10, tzinfo=UTC),
        "email_type": "registration_confirmation",
        "recipient_email": "Jan.Simonek@Example.org",
        "recipient_name": "Jan Šimonek",
        "subject": "You are registered: Ethics in Practice",
        "body_text": "See you there.",
        "body_html": "<p>See you there.</p>",
        "from_email": "events@platform.example",
        "from_name": "Events",
        "event_id": 7,
        "registration_id": 70,
    }
    values.update(overrides)
    return EmailSendRequest(**values)


def test_message_carries_our_message_id_and_both_bodies() -> None:
    request = send_request()
    message = build_message(request, "mail.example")
    assert message["Message-ID"] == f"<{request.request_id}@mail.example>"
    assert message_id(request, "mail.example") == f"{request.request_id}@mail.example"
    assert "Jan.Simonek@example.org" in message["To"]  # pydantic normalises the domain
    assert message.get_body(("plain",)) is not None
    assert message.get_body(("html",)) is not None


def test_log_row_lower_cases_the_recipient_and_keeps_the_request_id() -> None:
    row = email_log_row(send_request(), "sendgrid", "mail.example")
    assert row["recipient_email"] == "jan.simonek@example.org"
    assert row["uuid"] == send_request().request_id
    assert (row["provider"], row["reply_to"], row["registration_id"]) == ("sendgrid", "", 70)


def test_bad_requests_are_refused_with_the_field() -> None:
    with pytest.raises(ValidationError, match="recipient_email"):
        send_request(recipient_email="not an address")
    with pytest.raises(ValidationError, match="email_type"):
        send_request(email_type="newsletter")
    with pytest.raises(ValidationError, match="subject"):
        send_request(subject="")


@pytest.mark.parametrize(
    ("response", "found"),
    [
        ("250 Ok: queued as Ix6pbVM8SHmC4sQGmJB5xg", "Ix6pbVM8SHmC4sQGmJB5xg"),
        ("250 2.0.0 Ok: queued as <abc.def@relay>", "abc.def@relay"),
        ("250 Great success", None),
    ],
)
def test_relay_message_id(response: str, found: str | None) -> None:
    assert relay_message_id(response) == found


def test_classify_permanent_and_transient() -> None:
    assert classify(aiosmtplib.SMTPResponseException(550, "no such user")).permanent
    assert not classify(aiosmtplib.SMTPResponseException(451, "try later")).permanent
    assert not classify(aiosmtplib.SMTPConnectError("refused")).permanent
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@x.org")]
    )
    failure = classify(refused)
    assert (failure.permanent, failure.code) == (True, "550")
