"""Email events counted once per event, whatever the provider's retries change (issue 18): through
ingest on the real stack, and migration 0016 on a database holding the old duplicates."""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from psycopg.rows import dict_row

from schemas.email_event import EmailEvent
from tests.email_signing import MAILGUN_KEY, SVIX_SECRET, mailgun, sendgrid_sign, svix_headers
from tests.integration.conftest import Pipeline, database_before, drop_database
from tests.polling import poll
from zoomstream.migrate import migrate

pytestmark = pytest.mark.integration

T0 = 1_764_496_800


def insert_email(conn: psycopg.Connection[Any], recipient: str, provider_id: str) -> int:
    row = conn.execute(
        "INSERT INTO email_logs (uuid, recipient_email, email_type, subject, from_email,"
        " requested_at, message_id, provider_message_id, send_state, sent_at)"
        " VALUES (%s, %s, 'event_reminder_1h', 'Tomorrow', 'events@x.org', now(), %s, %s,"
        " 'sent', now()) RETURNING id",
        (uuid.uuid4(), recipient, f"{uuid.uuid4()}@zoomstream.local", provider_id),
    ).fetchone()
    assert row is not None
    return int(row[0])


def counters(database_url: str) -> dict[str, tuple[int, int, datetime | None, datetime | None]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        found = conn.execute(
            "SELECT recipient_email, open_count, click_count, opened_at, clicked_at"
            " FROM email_logs ORDER BY id"
        ).fetchall()
    return {
        r["recipient_email"]: (r["open_count"], r["click_count"], r["opened_at"], r["clicked_at"])
        for r in found
    }


def sendgrid_open(queued: str, recipient: str, at: int, sg_event_id: str) -> dict[str, Any]:
    return {
        "email": recipient,
        "event": "open",
        "sg_event_id": sg_event_id,
        "sg_message_id": f"{queued}.filter0001.16648.5515E0B88.0",
        "timestamp": at,
    }


def mailgun_click(message_id: str, at: float, url: str, event_id: str) -> dict[str, Any]:
    """A click as Mailgun posts it, signed now with a fresh token, as each retry is."""
    return {
        "signature": mailgun(timestamp=int(time.time()), token=uuid.uuid4().hex),
        "event-data": {
            "id": event_id,
            "event": "clicked",
            "timestamp": at,
            "recipient": "mg@x.org",
            "url": url,
            "message": {"headers": {"message-id": message_id}},
        },
    }


@pytest.mark.parametrize("order", [18, 81])
def test_provider_retries_count_once_and_distinct_events_each(
    pipeline: Pipeline,
    database_url: str,
    sendgrid_keys: tuple[ec.EllipticCurvePrivateKey, str],
    order: int,
) -> None:
    private, public = sendgrid_keys
    pipeline.env.update(
        RESEND_WEBHOOK_SECRET=SVIX_SECRET,
        SENDGRID_VERIFICATION_KEY=public,
        POSTMARK_WEBHOOK_USER="postmark",
        POSTMARK_WEBHOOK_PASSWORD="s3cret",
        MAILGUN_SIGNING_KEY=MAILGUN_KEY,
    )
    with psycopg.connect(database_url) as conn:
        insert_email(conn, "sg@x.org", "Q0001")
        mg_message = "20261130100000.1.mg@mg.example.org"
        mg_id = insert_email(conn, "mg@x.org", mg_message)
        insert_email(conn, "rs@x.org", "re-0001")
        insert_email(conn, "pm@x.org", "pm-0001")
    pipeline.start_ingest()
    pipeline.start_worker()

    def post(provider: str, body: bytes, headers: dict[str, str]) -> Callable[[], None]:
        def send() -> None:
            answer = httpx.post(
                f"{pipeline.url}/webhooks/email/{provider}", content=body, headers=headers
            )
            assert answer.status_code == 200, answer.text

        return send

    def sendgrid(event: dict[str, Any]) -> Callable[[], None]:
        body = json.dumps([event]).encode() + b"\r\n"
        stamp = str(int(time.time()))
        return post(
            "sendgrid",
            body,
            {
                "X-Twilio-Email-Event-Webhook-Signature": sendgrid_sign(private, stamp, body),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            },
        )

    def resend_open(svix_id: str) -> Callable[[], None]:
        body = json.dumps(
            {
                "type": "email.opened",
                "created_at": "2026-11-30T10:05:00.123Z",
                "data": {"email_id": "re-0001", "to": ["rs@x.org"]},
            }
        ).encode()
        return post("resend", body, svix_headers(body, msg_id=svix_id, ts=int(time.time())))

    postmark_open = json.dumps(
        {
            "RecordType": "Open",
            "MessageID": "pm-0001",
            "Recipient": "pm@x.org",
            "ReceivedAt": "2026-11-30T10:06:00.1234567Z",
        }
    ).encode()
    basic = {"Authorization": "Basic " + base64.b64encode(b"postmark:s3cret").decode()}
    link = "https://platform.example/e/7"
    sends = [
        # SendGrid: one open delivered three times, each time under a new sg_event_id ...
        *(sendgrid(sendgrid_open("Q0001", "sg@x.org", T0 + 5, f"sg-{n}")) for n in range(3)),
        # ... and a second, genuine open later
        sendgrid(sendgrid_open("Q0001", "sg@x.org", T0 + 65, "sg-later")),
        # Mailgun: one click, re-signed (fresh timestamp and token) on its retry ...
        post(
            "mailgun", json.dumps(mailgun_click(mg_message, T0 + 7.25, link, "ev-1")).encode(), {}
        ),
        post(
            "mailgun", json.dumps(mailgun_click(mg_message, T0 + 7.25, link, "ev-1")).encode(), {}
        ),
        # ... and a click on another link at the same moment
        post(
            "mailgun",
            json.dumps(mailgun_click(mg_message, T0 + 7.25, link + "/agenda", "ev-2")).encode(),
            {},
        ),
        # the other providers, interleaved: Resend retries keep their svix-id, Postmark has none
        resend_open("msg_open_1"),
        resend_open("msg_open_1"),
        post("postmark", postmark_open, basic),
        post("postmark", postmark_open, basic),
    ]
    random.Random(order).shuffle(sends)
    for send in sends:
        send()

    expected = {
        "sg@x.org": (2, 0, datetime.fromtimestamp(T0 + 5, tz=UTC), None),
        "mg@x.org": (0, 2, None, datetime.fromtimestamp(T0 + 7.25, tz=UTC)),
        "rs@x.org": (1, 0, datetime(2026, 11, 30, 10, 5, 0, 123000, tzinfo=UTC), None),
        "pm@x.org": (1, 0, datetime(2026, 11, 30, 10, 6, 0, 123456, tzinfo=UTC), None),
    }
    poll(
        lambda: counters(database_url),
        until=lambda found: found == expected,
        what="each event counted once",
        timeout=90,
        interval=0.5,
    )
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT provider, count(*), count(DISTINCT event_id) FROM email_events"
            " GROUP BY provider ORDER BY provider"
        ).fetchall()
        mailgun_ids = conn.execute(
            "SELECT event_id FROM email_events WHERE email_log_id = %s ORDER BY 1", (mg_id,)
        ).fetchall()
    assert stored == [("mailgun", 2, 2), ("postmark", 1, 1), ("resend", 1, 1), ("sendgrid", 2, 2)]
    assert mailgun_ids == [("ev-1",), ("ev-2",)]  # the provider's event id kept, for tracing


# Migration 0016 on a database the old code filled: its duplicates merged into the earliest, the
# affected emails recounted, and every key the same digest the Python rule gives.


@pytest.fixture
def database_before_0016() -> Iterator[str]:
    url = database_before("0016_email_content_keys")
    yield url
    drop_database(url)


OLD_EVENT = (
    "INSERT INTO email_events (provider, event_id, kind, provider_message_id, message_id,"
    " recipient, occurred_at, url, reason, email_log_id, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def test_migration_0016_merges_stored_duplicates_and_recounts(database_before_0016: str) -> None:
    url = database_before_0016
    at = datetime(2026, 11, 30, 10, 0, 5, 250001, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        sg = insert_email(conn, "sg@x.org", "Q0001")
        mg = insert_email(conn, "mg@x.org", "mg-1")
        events: list[tuple[Any, ...]] = []
        for n in range(3):  # one open, stored three times under new sg_event_ids
            events.append(("sendgrid", f"sg-{n}", "opened", "Q0001", None, "sg@x.org", at))
        events.append(
            ("sendgrid", "sg-later", "opened", "Q0001", None, "sg@x.org", at.replace(minute=9))
        )
        rows = [(*e, None, "", sg) for e in events]
        for token in ("tok-a", "tok-b"):  # one Mailgun click, re-signed: two tokens
            rows.append(
                ("mailgun", token, "clicked", "mg-1", "mg-1", "mg@x.org", at, "https://l/1", "", mg)
            )
        rows.append(
            ("mailgun", "tok-c", "clicked", "mg-1", "mg-1", "mg@x.org", at, "https://l/2", "", mg)
        )
        # an unmatched duplicate of a bounce whose earliest copy was never linked
        rows.append(
            ("sendgrid", "b-1", "bounced", "Q0002", None, "b@x.org", at, None, "550 gone", None)
        )
        rows.append(
            ("sendgrid", "b-2", "bounced", "Q0002", None, "b@x.org", at, None, "550 gone", sg)
        )
        # the key's text as PostgreSQL and Python each write it: an offset, non-ASCII, escapes
        elsewhere = datetime(2026, 11, 30, 5, 0, 5, 7, tzinfo=timezone(timedelta(hours=-5)))
        odd = ("mailgun", "m-9", "bounced", "<é@x>", "é@x", "šimon@x.org", elsewhere, None)
        rows.append((*odd, '550 boîte \\ "pleine"\t%s', None))
        for n, row in enumerate(rows):
            conn.execute(OLD_EVENT, (*row, at.replace(second=n)))
        conn.execute("UPDATE email_logs SET open_count = 4 WHERE id = %s", (sg,))
        conn.execute("UPDATE email_logs SET click_count = 3 WHERE id = %s", (mg,))
        stored_before = conn.execute("SELECT count(*) FROM email_events").fetchone()

    assert migrate(url, platform=True) == ["0016_email_content_keys"]

    with psycopg.connect(url, row_factory=dict_row) as conn:
        kept = conn.execute("SELECT * FROM email_events ORDER BY id").fetchall()
        logs = conn.execute(
            "SELECT id, open_count, click_count FROM email_logs ORDER BY id"
        ).fetchall()
    assert stored_before == (10,) and len(kept) == 6
    assert [(e["event_id"], e["email_log_id"]) for e in kept] == [
        ("sg-0", sg),  # the earliest of three
        ("sg-later", sg),
        ("tok-a", mg),
        ("tok-c", mg),
        ("b-1", sg),  # the earliest, linked as its duplicate was
        ("m-9", None),
    ]
    assert [(r["open_count"], r["click_count"]) for r in logs] == [(2, 0), (0, 2)]
    for event in kept:  # SQL and Python give the same key
        assert event["content_key"] == EmailEvent.model_validate(event).content_key
    assert len({event["uuid"] for event in kept}) == 6
