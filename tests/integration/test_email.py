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
from sinks import email as email_sink
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
    """An SMTP relay that refuses recipients (or messages, by `subject:…`) with the codes it
    is told, then accepts, and names each accepted message `queued as Q0001`, as SendGrid's
    relay does."""

    refusals: dict[str, list[int]] = field(default_factory=dict)
    received: list[Envelope] = field(default_factory=list)
    attempts: list[tuple[float, str, int]] = field(default_factory=list)
    """Each refused RCPT TO and each DATA: (monotonic time, address or `subject:…`, code)."""
    subjects: list[tuple[float, str]] = field(default_factory=list)
    """Each accepted message: (monotonic time, its Subject)."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        codes = self.refusals.get(address.lower())
        if codes:
            code = codes.pop(0)
            self.attempts.append((time.monotonic(), address.lower(), code))
            return f"{code} {'try again later' if code < 500 else 'no such user'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        subject = content.split(b"Subject: ", 1)[-1].split(b"\r\n", 1)[0].decode()
        codes = self.refusals.get(f"subject:{subject}")
        if codes:  # refused by message, not by address: the same recipient's others go
            code = codes.pop(0)
            self.attempts.append((time.monotonic(), f"subject:{subject}", code))
            return f"{code} try again later"
        self.attempts.append((time.monotonic(), f"subject:{subject}", 250))
        self.received.append(envelope)
        self.subjects.append((time.monotonic(), subject))
        return f"250 Ok: queued as Q{len(self.received):04d}"

    def attempts_at(self, address: str) -> list[tuple[float, int]]:
        return [(at, code) for at, to, code in self.attempts if to == address]

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


def send_states(database_url: str) -> dict[str, tuple[str, int]]:
    """Each email by its subject: (send_state, send_attempts)."""
    found = rows(database_url, "SELECT subject, send_state, send_attempts FROM email_logs")
    return {r["subject"]: (r["send_state"], r["send_attempts"]) for r in found}


def emails_counted(pipeline: Pipeline, outcome: str) -> float:
    """The worker's zoomstream_worker_emails_total for `outcome`."""
    text = httpx.get(pipeline.worker_metrics_url, timeout=5).text
    line = f'zoomstream_worker_emails_total{{outcome="{outcome}"}} '
    return next((float(x.split(" ")[-1]) for x in text.splitlines() if x.startswith(line)), 0.0)


def test_a_failing_email_holds_up_nothing_behind_it_and_is_retried_later(
    pipeline: Pipeline, database_url: str, topic_prefix: str, relay: tuple[Relay, int]
) -> None:
    """Issue 16.12: one attempt per message; the next is due on the row after the backoff,
    and the leader's sweep sends it through email.send-retry. Attempts never pass three and a
    permanent refusal is never tried again."""
    smtp, smtp_port = relay
    backoff = 3.0
    smtp.refusals = {
        "subject:first": [451, 451],  # accepted at the 3rd attempt
        "never@x.org": [451, 451, 451, 451],  # fails after three
        "gone@x.org": [550],  # permanent
    }
    pipeline.env.update(
        SMTP_PORT=str(smtp_port), EMAIL_SEND_BACKOFF_SECONDS=f"[{backoff}, {backoff}]"
    )
    pipeline.start_worker()
    # Same recipient, so the same partition: the second is behind the first.
    first = request("slow@x.org", subject="first", registration_id=70)
    second = request("slow@x.org", subject="second", registration_id=71)
    publish(
        f"{topic_prefix}{EMAIL_SEND}",
        [
            first,
            second,
            request("never@x.org", subject="never"),
            request("gone@x.org", subject="gone"),
        ],
    )
    done = {
        "first": ("sent", 3),
        "second": ("sent", 1),
        "never": ("failed", 3),
        "gone": ("failed", 1),
    }
    poll(
        lambda: send_states(database_url),
        until=lambda found: found == done,
        what=f"the emails to end as {done}",
        timeout=90,
        interval=0.25,
    )
    tries = smtp.attempts_at("subject:first")
    assert [code for _, code in tries] == [451, 451, 250], tries
    (tried, _), (retried, _), (first_sent, _) = tries
    [(second_sent, _)] = smtp.attempts_at("subject:second")
    assert second_sent - tried < backoff, "the second went out before the first's retry was due"
    assert retried - tried >= backoff - 0.1, "the retry came after the backoff"
    assert first_sent - retried >= backoff - 0.1
    assert [subject for _, subject in smtp.subjects] == ["second", "first"]

    # Nothing more comes, however long one waits past the backoff.
    later = poll(
        lambda: tuple(
            len(smtp.attempts_at(f"{name}@x.org") + smtp.attempts_at(f"subject:{name}"))
            for name in ("never", "gone")
        ),
        until=lambda counts: counts != (3, 1),
        what="a fourth attempt, or a second at a permanent refusal",
        timeout=backoff + 3,
        raise_on_timeout=False,
    )
    assert later == (3, 1)
    logs = {r["subject"]: r for r in rows(database_url, "SELECT * FROM email_logs")}
    assert (logs["never"]["delivery_status"], logs["never"]["error_code"]) == ("failed", "451")
    assert (logs["gone"]["delivery_status"], logs["gone"]["error_code"]) == ("failed", "550")
    assert all(r["next_attempt_at"] is None for r in logs.values())
    assert all(r["send_attempts"] <= 3 for r in logs.values())
    assert emails_counted(pipeline, "retry-scheduled") == 4  # first's and never's 1st and 2nd
    assert emails_counted(pipeline, "sent") == 2


def test_duplicate_window_and_a_failed_send(
    pipeline: Pipeline, database_url: str, topic_prefix: str, relay: tuple[Relay, int]
) -> None:
    """Issue 16.12: a request like a live email requested within the hour before it is a
    duplicate; one after the hour, or after the earlier one failed, goes out. An email
    waiting for its retry is still live."""
    smtp, smtp_port = relay
    smtp.refusals = {"gone@x.org": [550], "never@x.org": [451, 451, 451]}
    pipeline.env.update(SMTP_PORT=str(smtp_port), EMAIL_SEND_BACKOFF_SECONDS="[3, 0.5]")
    pipeline.start_worker()
    topic = f"{topic_prefix}{EMAIL_SEND}"
    t = datetime.now(tz=UTC)
    # The window is on the requests' own times (a replay decides the same way).
    publish(
        topic,
        [
            request("ok@x.org", subject="ok", requested_at=t),
            request("ok@x.org", subject="ok +59 min", requested_at=t + timedelta(minutes=59)),
            request("ok@x.org", subject="ok +61 min", requested_at=t + timedelta(minutes=61)),
            request("gone@x.org", subject="gone", requested_at=t),
            request("never@x.org", subject="never", requested_at=t),
        ],
    )
    poll(
        lambda: send_states(database_url),
        until=lambda found: (
            found.get("gone") == ("failed", 1) and found.get("never") == ("pending", 1)
        ),
        what="gone@ to fail and never@ to wait for its retry",
        timeout=60,
        interval=0.1,
    )
    # Inside the window of an email that failed: goes out. Of one waiting for a retry: does not.
    publish(
        topic,
        [
            request("gone@x.org", subject="gone again", requested_at=t + timedelta(minutes=1)),
            request("never@x.org", subject="never, retrying", requested_at=t),
        ],
    )
    poll(
        lambda: send_states(database_url).get("never"),
        until=lambda state: state == ("failed", 3),
        what="never@ to fail after three attempts",
        timeout=60,
        interval=0.25,
    )
    publish(topic, [request("never@x.org", subject="never again", requested_at=t)])
    expected = {
        "ok": ("sent", 1),
        "ok +61 min": ("sent", 1),
        "gone": ("failed", 1),
        "gone again": ("sent", 1),
        "never": ("failed", 3),
        "never again": ("sent", 1),
    }
    # Each duplicate was handled before a later request on its partition (same recipient).
    poll(
        lambda: send_states(database_url),
        until=lambda found: found == expected,
        what=f"exactly {sorted(expected)}",
        timeout=60,
        interval=0.25,
    )
    assert sorted(smtp.recipients()) == sorted(
        ["ok@x.org", "ok@x.org", "gone@x.org", "never@x.org"]
    )
    assert emails_counted(pipeline, "duplicate") == 2


def test_the_retry_sweep_reads_only_emails_owed_an_attempt(database_url: str) -> None:
    """The leader's sweep every second is index-backed: done emails are not read."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO email_logs (uuid, recipient_email, email_type, subject, from_email,"
            " requested_at, send_state, send_attempts, message_id)"
            " SELECT gen_random_uuid(), 'a' || n || '@x.org', 'other', 's', 'f@x.org', now(),"
            " 'sent', 1, n || '@m' FROM generate_series(1, 5000) AS n"
        )
        conn.execute(
            "INSERT INTO email_logs (uuid, recipient_email, email_type, subject, from_email,"
            " requested_at, send_attempts, next_attempt_at, message_id) VALUES"
            " (gen_random_uuid(), 'due@x.org', 'other', 's', 'f@x.org', now(), 1,"
            " now() - interval '1 second', 'due@m')"
        )
        conn.execute("ANALYZE email_logs")
        row = conn.execute(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {email_sink.DUE_FOR_RETRY}",
            {"now": datetime.now(tz=UTC), "limit": 100},
        ).fetchone()
    assert row is not None
    plan = row[0][0]["Plan"]
    assert "email_logs_next_attempt_idx" in json.dumps(plan), plan
    assert float(plan["Actual Rows"]) == 1
    assert int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0)) < 10


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
