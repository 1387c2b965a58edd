"""Email end to end: send requests through a real SMTP server (aiosmtpd), then signed webhooks
from four providers through ingest → email.events.raw → email_logs and contact suppression."""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from confluent_kafka import Producer
from cryptography.hazmat.primitives.asymmetric import ec
from psycopg.rows import dict_row

from schemas.email_send import EmailSendRequest
from schemas.topics import EMAIL_SEND
from tests.email_signing import (
    MAILGUN_KEY,
    SVIX_SECRET,
    mailgun,
    sendgrid_sign,
    svix_headers,
)
from tests.integration.conftest import BOOTSTRAP, Pipeline, free_port
from tests.polling import poll

pytestmark = pytest.mark.integration
DOMAIN = "zoomstream.local"


@dataclass
class Relay:
    """An SMTP relay that refuses recipients with the codes it is told, then accepts, and names
    each accepted message `queued as Q0001`, as SendGrid's relay does."""

    refusals: dict[str, list[int]] = field(default_factory=dict)
    received: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        codes = self.refusals.get(address.lower())
        if codes:
            code = codes.pop(0)
            return f"{code} {'try again later' if code < 500 else 'no such user'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return f"250 Ok: queued as Q{len(self.received):04d}"

    def recipients(self) -> list[str]:
        return [address.lower() for e in self.received for address in e.rcpt_tos]


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def request(recipient: str, **overrides: Any) -> EmailSendRequest:
    values: dict[str, Any] = {
        "request_id": uuid.uuid4(),
        "requested_at": datetime.now(tz=UTC),
        "email_type": "registration_confirmation",
        "recipient_email": recipient,
        "subject": "You are registered",
        "body_text": "See you there.",
        "from_email": "events@platform.example",
        "event_id": 7,
        "registration_id": 70,
        "sent_by_id": 1,
    }
    values.update(overrides)
    return EmailSendRequest(**values)


def publish(topic: str, requests: list[EmailSendRequest]) -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    for item in requests:
        producer.produce(
            topic, key=str(item.recipient_email).lower().encode(), value=item.model_dump_json()
        )
    assert producer.flush(30) == 0


def rows(database_url: str, sql: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(sql).fetchall()


def by_recipient(database_url: str) -> dict[str, dict[str, Any]]:
    found = rows(database_url, "SELECT * FROM email_logs ORDER BY id")
    return {f"{r['recipient_email']}#{r['registration_id']}": r for r in found}


def test_send_then_signed_provider_events(
    pipeline: Pipeline,
    database_url: str,
    topic_prefix: str,
    relay: tuple[Relay, int],
    sendgrid_keys: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    smtp, smtp_port = relay
    smtp.refusals = {"flaky@x.org": [451, 451], "gone@x.org": [550]}
    private, public = sendgrid_keys
    pipeline.env.update(
        SMTP_PORT=str(smtp_port),
        EMAIL_PROVIDER="sendgrid",
        EMAIL_SEND_BACKOFF_SECONDS="[0.2, 0.4]",
        RESEND_WEBHOOK_SECRET=SVIX_SECRET,
        SENDGRID_VERIFICATION_KEY=public,
        POSTMARK_WEBHOOK_USER="postmark",
        POSTMARK_WEBHOOK_PASSWORD="s3cret",
        MAILGUN_SIGNING_KEY=MAILGUN_KEY,
    )
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) VALUES (1, 'org@x.org', 'Organizer')")
        conn.execute("INSERT INTO contact_lists (id, owner_id) VALUES (1, 1), (2, NULL)")
        conn.execute(
            "INSERT INTO contacts (contact_list_id, email) VALUES (1, 'Bounce@X.org'),"
            " (2, 'bounce@x.org'), (1, 'soft@x.org'), (2, 'complain@x.org'), (1, 'ok@x.org')"
        )
    pipeline.start_ingest()
    pipeline.start_worker()

    def post(provider: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        response = httpx.post(
            f"{pipeline.url}/webhooks/email/{provider}", content=body, headers=headers or {}
        )
        assert response.status_code == 200, response.text

    def resend(kind: str, data: dict[str, Any]) -> None:
        body = json.dumps({"type": kind, "created_at": now_iso(), "data": data}).encode()
        post(
            "resend",
            body,
            svix_headers(body, msg_id=f"msg_{uuid.uuid4().hex}", ts=int(time.time())),
        )

    # An event can arrive before its email is sent: kept, and applied once the email is known.
    late = request("late@x.org", email_type="event_reminder_1h")
    resend(
        "email.delivered",
        {"email_id": "e-late", "message_id": f"<{late.request_id}@{DOMAIN}>", "to": ["late@x.org"]},
    )

    now = datetime.now(tz=UTC)
    ok = request("ok@x.org", requested_at=now)
    requests = [
        ok,
        ok,  # the same request delivered twice: one row, one message
        request("ok@x.org", requested_at=now + timedelta(minutes=10)),  # duplicate in the window
        request("ok@x.org", registration_id=71),  # about another registration: not a duplicate
        request("flaky@x.org"),
        request("gone@x.org"),
        request(
            "bounce@x.org",
            email_type="password_reset",
            sent_by_id=None,
            event_id=None,
            registration_id=None,
        ),
        request("soft@x.org"),
        request("complain@x.org"),
        late,
    ]
    publish(f"{topic_prefix}{EMAIL_SEND}", requests)
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    producer.produce(f"{topic_prefix}{EMAIL_SEND}", key=b"x", value=b'{"subject": "no recipient"}')
    assert producer.flush(30) == 0
    poll(
        lambda: len(rows(database_url, "SELECT id FROM email_logs WHERE send_state <> 'pending'")),
        until=lambda done: done == 8,
        what="8 emails to be sent or failed",
        timeout=90,
        interval=0.5,
    )
    logs = by_recipient(database_url)
    assert sorted(logs) == sorted(
        [
            "ok@x.org#70",
            "ok@x.org#71",
            "flaky@x.org#70",
            "gone@x.org#70",
            "bounce@x.org#None",
            "soft@x.org#70",
            "complain@x.org#70",
            "late@x.org#70",
        ]
    )
    assert sorted(smtp.recipients()) == sorted(
        [
            "ok@x.org",
            "ok@x.org",
            "flaky@x.org",
            "bounce@x.org",
            "soft@x.org",
            "complain@x.org",
            "late@x.org",
        ]
    )
    assert (logs["flaky@x.org#70"]["send_attempts"], logs["flaky@x.org#70"]["delivery_status"]) == (
        3,
        "sent",
    )
    gone = logs["gone@x.org#70"]
    assert (gone["delivery_status"], gone["send_attempts"], gone["error_code"]) == (
        "failed",
        1,
        "550",
    )
    assert logs["late@x.org#70"]["delivery_status"] == "delivered"  # the early event, attached
    assert logs["ok@x.org#70"]["uuid"] == ok.request_id
    assert logs["ok@x.org#70"]["provider_message_id"].startswith("Q")
    message_ids = {
        e.original_content.split(b"Message-ID: <")[1].split(b">")[0].decode()
        for e in smtp.received
        if e.original_content
    }
    assert {r["message_id"] for r in logs.values() if r["send_state"] == "sent"} == message_ids

    # SendGrid: one email's events in two signed batches, shuffled, each delivered twice.
    q_ok = logs["ok@x.org#70"]["provider_message_id"]
    t0 = int(time.time())
    events = [
        sg_event("delivered", q_ok, t0 + 1, "d1"),
        sg_event("open", q_ok, t0 + 5, "o1"),
        sg_event("open", q_ok, t0 + 9, "o2"),
        sg_event("click", q_ok, t0 + 12, "c1", url="https://platform.example/e/7"),
        sg_event("delivered", q_ok, t0 + 30, "d2"),  # a late delivered must not regress
    ]
    random.Random(7).shuffle(events)
    batches = [events[:2], events[2:]]
    for batch in [*batches, *reversed(batches)]:
        body = "".join(json.dumps(e) + "\r\n" for e in batch).encode()
        body = b"[" + body.replace(b"}\r\n{", b"},\r\n{").rstrip(b"\r\n") + b"]\r\n"
        stamp = str(int(time.time()))
        post(
            "sendgrid",
            body,
            {
                "X-Twilio-Email-Event-Webhook-Signature": sendgrid_sign(private, stamp, body),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            },
        )
    # Mailgun: a permanent failure of a system email (no sender), matched by our Message-ID.
    bounce = logs["bounce@x.org#None"]
    post(
        "mailgun",
        json.dumps(
            {
                "signature": mailgun(timestamp=int(time.time()), token=uuid.uuid4().hex),
                "event-data": {
                    "event": "failed",
                    "severity": "permanent",
                    "reason": "bounce",
                    "timestamp": time.time(),
                    "recipient": "bounce@x.org",
                    "delivery-status": {"message": "550 5.1.1 no such user"},
                    "message": {"headers": {"message-id": bounce["message_id"]}},
                },
            }
        ).encode(),
    )
    # Resend: a transient bounce, matched by the provider's id.
    resend(
        "email.bounced",
        {
            "email_id": logs["soft@x.org#70"]["provider_message_id"],
            "to": ["soft@x.org"],
            "bounce": {"type": "Transient", "message": "452 mailbox full"},
        },
    )
    # Postmark: a complaint, and a delivery posted twice.
    auth = {"Authorization": "Basic " + base64.b64encode(b"postmark:s3cret").decode()}
    post(
        "postmark",
        json.dumps(
            {
                "RecordType": "SpamComplaint",
                "MessageID": logs["complain@x.org#70"]["provider_message_id"],
                "Email": "complain@x.org",
                "BouncedAt": now_iso(),
            }
        ).encode(),
        auth,
    )
    delivery = json.dumps(
        {
            "RecordType": "Delivery",
            "MessageID": logs["flaky@x.org#70"]["provider_message_id"],
            "Recipient": "flaky@x.org",
            "DeliveredAt": now_iso(),
        }
    ).encode()
    post("postmark", delivery, auth)
    post("postmark", delivery, auth)

    def statuses() -> list[str]:
        current = by_recipient(database_url)
        return [
            current[k]["delivery_status"]
            for k in (
                "ok@x.org#70",
                "bounce@x.org#None",
                "soft@x.org#70",
                "complain@x.org#70",
                "flaky@x.org#70",
            )
        ]

    poll(
        statuses,
        until=lambda found: found == ["clicked", "bounced", "bounced", "spam", "delivered"],
        what="provider events to be applied",
        timeout=90,
        interval=0.5,
    )
    time.sleep(2)  # let any redelivered batch land: nothing may change after this
    logs = by_recipient(database_url)
    opened = logs["ok@x.org#70"]
    assert (opened["open_count"], opened["click_count"]) == (2, 1)
    assert opened["delivered_at"] == datetime.fromtimestamp(t0 + 1, tz=UTC)
    assert opened["opened_at"] == datetime.fromtimestamp(t0 + 5, tz=UTC)
    assert opened["clicked_at"] == datetime.fromtimestamp(t0 + 12, tz=UTC)
    assert (
        logs["bounce@x.org#None"]["bounce_type"],
        logs["bounce@x.org#None"]["error_message"],
    ) == ("hard", "550 5.1.1 no such user")
    assert (logs["soft@x.org#70"]["bounce_type"], logs["soft@x.org#70"]["error_message"]) == (
        "soft",
        "452 mailbox full",
    )
    contacts = {
        (r["contact_list_id"], r["email"]): r["email_bounced"]
        for r in rows(database_url, "SELECT * FROM contacts")
    }
    assert contacts == {
        (1, "Bounce@X.org"): True,  # a system email's hard bounce suppresses in every list
        (2, "bounce@x.org"): True,
        (1, "soft@x.org"): False,  # soft bounces do not
        (2, "complain@x.org"): True,
        (1, "ok@x.org"): False,
    }
    stored = rows(
        database_url, "SELECT provider, count(*) AS n FROM email_events GROUP BY provider"
    )
    assert {r["provider"]: r["n"] for r in stored} == {
        "sendgrid": 5,
        "mailgun": 1,
        "resend": 2,
        "postmark": 2,
    }


def sg_event(kind: str, queued: str, timestamp: int, event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "email": "ok@x.org",
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": f"{queued}.filter0001.16648.5515E0B88.0",
        "timestamp": timestamp,
        **extra,
    }


def now_iso() -> str:
    return datetime.now(tz=UTC).isoformat()
