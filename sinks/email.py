"""email_logs and email_events: the sender's steps and the provider events, each idempotent.

Rows go in and out as dicts; the stream layer owns their meaning (streams/email/status.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

LOG_COLUMNS = (
    "uuid",
    "requested_at",
    "recipient_email",
    "recipient_name",
    "recipient_user_id",
    "email_type",
    "subject",
    "body_text",
    "body_html",
    "event_id",
    "registration_id",
    "certificate_id",
    "invitation_id",
    "sent_by_id",
    "from_email",
    "from_name",
    "reply_to",
    "provider",
    "message_id",
)
RELATED = ("event_id", "registration_id", "certificate_id", "invitation_id")


async def lock_recipient(conn: AsyncConnection, recipient: str) -> None:
    """Serialise requests for one recipient until the transaction ends.

    Requests are keyed by recipient, so one worker sees them in order; the lock also holds
    while partitions move between workers (defect 18: the check and the insert cannot race)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (recipient,))


async def find_log(conn: AsyncConnection, request_uuid: Any) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM email_logs WHERE uuid = %s", (request_uuid,))
        return await cur.fetchone()


async def duplicate_of(
    conn: AsyncConnection, row: dict[str, Any], window: timedelta, live: Sequence[str]
) -> Any | None:
    """The uuid of a live email of the same type to the same recipient about the same objects,
    requested within `window` before this one."""
    related = " AND ".join(f"{c} IS NOT DISTINCT FROM %({c})s::bigint" for c in RELATED)
    cur = await conn.execute(
        "SELECT uuid FROM email_logs WHERE recipient_email = %(recipient_email)s"
        " AND email_type = %(email_type)s AND delivery_status = ANY(%(live)s)"
        " AND requested_at >= %(since)s AND requested_at <= %(requested_at)s"
        f" AND {related} ORDER BY requested_at LIMIT 1",
        {**row, "live": list(live), "since": row["requested_at"] - window},
    )
    found = await cur.fetchone()
    return found[0] if found else None


async def insert_log(conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    columns = ", ".join(LOG_COLUMNS)
    values = ", ".join(f"%({c})s" for c in LOG_COLUMNS)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"INSERT INTO email_logs ({columns}) VALUES ({values}) RETURNING *", row)
        inserted = await cur.fetchone()
    assert inserted is not None
    return inserted


async def take_attempt(
    conn: AsyncConnection, log_id: int, attempt: int, at: datetime, stuck_at: datetime
) -> bool:
    """Count `attempt` as made, if it is the email's next one and the sender is not done with
    it; False otherwise (another message made it, or the email is sent or failed). Until its
    outcome is recorded the email is due again at `stuck_at`: a crash mid-attempt is retried."""
    cur = await conn.execute(
        "UPDATE email_logs SET send_attempts = %(attempt)s, last_attempt_at = %(at)s,"
        " next_attempt_at = %(stuck_at)s, updated_at = now()"
        " WHERE id = %(id)s AND send_state = 'pending' AND send_attempts = %(attempt)s - 1",
        {"id": log_id, "attempt": attempt, "at": at, "stuck_at": stuck_at},
    )
    return cur.rowcount == 1


async def record_sent(
    conn: AsyncConnection, log_id: int, at: datetime, provider_message_id: str
) -> None:
    await conn.execute(
        "UPDATE email_logs SET send_state = 'sent', sent_at = %s, provider_message_id = %s,"
        " send_error = '', error_code = '', next_attempt_at = NULL, updated_at = now()"
        " WHERE id = %s",
        (at, provider_message_id, log_id),
    )


async def record_failed(
    conn: AsyncConnection,
    log_id: int,
    at: datetime,
    error: str,
    code: str,
    retry_at: datetime | None,
) -> None:
    """Keep the attempt's error; the next attempt is due at `retry_at`, or, when None, the
    sender is done with this email: it failed."""
    await conn.execute(
        "UPDATE email_logs SET send_error = %(error)s, error_code = %(code)s,"
        " next_attempt_at = %(retry_at)s, updated_at = now(),"
        " send_state = CASE WHEN %(final)s THEN 'failed' ELSE send_state END,"
        " failed_at = CASE WHEN %(final)s THEN %(at)s ELSE failed_at END WHERE id = %(id)s",
        {
            "error": error,
            "code": code,
            "retry_at": retry_at,
            "final": retry_at is None,
            "at": at,
            "id": log_id,
        },
    )


DUE_FOR_RETRY = (
    "SELECT id, uuid, recipient_email, send_attempts, next_attempt_at FROM email_logs"
    " WHERE send_state = 'pending' AND next_attempt_at <= %(now)s"
    " ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
)
"""Read through email_logs_next_attempt_idx (0014), which holds only the emails still owed an
attempt; rows another transaction holds (a second leader, for a moment) are skipped."""


async def due_for_retry(conn: AsyncConnection, now: datetime, limit: int) -> list[dict[str, Any]]:
    """At most `limit` emails whose next attempt is due, the longest due first, locked until
    the transaction ends."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(DUE_FOR_RETRY, {"now": now, "limit": limit})
        return await cur.fetchall()


async def postpone_attempts(conn: AsyncConnection, log_ids: Sequence[int], until: datetime) -> None:
    """The emails are not due again before `until` (their retry is on its way)."""
    await conn.execute(
        "UPDATE email_logs SET next_attempt_at = %s, updated_at = now() WHERE id = ANY(%s)",
        (until, list(log_ids)),
    )


EVENT_COLUMNS = (
    "provider",
    "event_id",
    "kind",
    "bounce_type",
    "provider_message_id",
    "message_id",
    "recipient",
    "occurred_at",
    "url",
    "reason",
    "content_key",
)


async def insert_event(conn: AsyncConnection, event: dict[str, Any]) -> bool:
    """Store one provider event; False when it was stored before (the same event by its
    content key: a redelivery, or the provider's own retry under a new id)."""
    columns = ", ".join(EVENT_COLUMNS)
    values = ", ".join(f"%({c})s" for c in EVENT_COLUMNS)
    cur = await conn.execute(
        f"INSERT INTO email_events ({columns}) VALUES ({values})"
        " ON CONFLICT (content_key) DO NOTHING",
        event,
    )
    return cur.rowcount == 1


async def match_log(
    conn: AsyncConnection, provider_message_id: str, message_id: str | None
) -> tuple[int, str] | None:
    """The email an event is about: by the provider's id, else by our Message-ID."""
    cur = await conn.execute(
        "SELECT id, recipient_email FROM email_logs"
        " WHERE (provider_message_id = %(pmid)s AND %(pmid)s <> '') OR message_id = %(mid)s"
        " ORDER BY id LIMIT 1",
        {"pmid": provider_message_id, "mid": message_id},
    )
    row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def attach_events(
    conn: AsyncConnection, log_id: int, provider_message_id: str, message_id: str
) -> int:
    """Link the events that arrived before their email's ids were known; return how many."""
    cur = await conn.execute(
        "UPDATE email_events SET email_log_id = %(log)s, updated_at = now() WHERE email_log_id IS NULL"
        " AND ((provider_message_id = %(pmid)s AND %(pmid)s <> '') OR message_id = %(mid)s)",
        {"log": log_id, "pmid": provider_message_id, "mid": message_id},
    )
    return cur.rowcount


async def link_event(conn: AsyncConnection, content_key: str, log_id: int) -> None:
    await conn.execute(
        "UPDATE email_events SET email_log_id = %s, updated_at = now() WHERE content_key = %s",
        (log_id, content_key),
    )


async def load_log(
    conn: AsyncConnection, log_id: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The email (locked for this transaction) and all its events."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM email_logs WHERE id = %s FOR UPDATE", (log_id,))
        log = await cur.fetchone()
        assert log is not None
        columns = ", ".join(EVENT_COLUMNS)
        await cur.execute(f"SELECT {columns} FROM email_events WHERE email_log_id = %s", (log_id,))
        events = await cur.fetchall()
    return log, events


async def write_fields(conn: AsyncConnection, log_id: int, fields: dict[str, Any]) -> None:
    assignments = ", ".join(f"{c} = %({c})s" for c in fields)
    await conn.execute(
        f"UPDATE email_logs SET {assignments}, updated_at = now() WHERE id = %(id)s",
        {**fields, "id": log_id},
    )


async def suppress_address(conn: AsyncConnection, address: str) -> int:
    """Mark the address bounced in every contact list that holds it; return how many changed.

    Every list, not only the sender's (spec defect 17): a hard bounce or a complaint is a fact
    about the address, and system emails have no sender at all."""
    cur = await conn.execute(
        "UPDATE contacts SET email_bounced = true, updated_at = now()"
        " WHERE lower(email) = lower(%s) AND NOT email_bounced",
        (address,),
    )
    return cur.rowcount


async def suppress_if_reported(conn: AsyncConnection, log_id: int) -> int:
    """Suppress the email's recipient if any of its events is a hard bounce or a complaint
    (for events that arrived before their email's ids were known)."""
    cur = await conn.execute(
        "UPDATE contacts SET email_bounced = true, updated_at = now()"
        " WHERE lower(email) = (SELECT recipient_email FROM email_logs WHERE id = %(log)s)"
        " AND NOT email_bounced AND EXISTS (SELECT 1 FROM email_events WHERE email_log_id = %(log)s"
        "  AND (kind = 'complained' OR (kind = 'bounced' AND bounce_type IS DISTINCT FROM 'soft')))",
        {"log": log_id},
    )
    return cur.rowcount
