"""In-memory stand-ins for sink functions, for unit tests of the handlers that call them.

A fake keeps its rows in dicts and lists and does what the sink's docstring and SQL say, as far
as a handler's decisions depend on it; it proves nothing about the SQL itself (the integration
tests do, on PostgreSQL). `replace` installs a fake's methods over a sink module's functions and
refuses one whose parameters differ from the function it replaces.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any, cast

import pytest
from psycopg import AsyncConnection

from sinks import email as email_sink

NO_CONNECTION = cast(AsyncConnection, object())
"""What a handler gets as its connection: the fakes never touch it."""


def replace(monkeypatch: pytest.MonkeyPatch, module: ModuleType, fake: object, *names: str) -> None:
    """Put `fake`'s methods in place of `module`'s functions of the same names for one test."""
    for name in names:
        real, stand_in = getattr(module, name), getattr(fake, name)
        expected = list(inspect.signature(real).parameters)
        assert list(inspect.signature(stand_in).parameters) == expected, (
            f"{type(fake).__name__}.{name} takes other parameters than {module.__name__}.{name}"
        )
        monkeypatch.setattr(module, name, stand_in)


EMAIL_SINK = (
    "lock_recipient",
    "find_log",
    "duplicate_of",
    "insert_log",
    "take_attempt",
    "record_sent",
    "record_failed",
    "due_for_retry",
    "postpone_attempts",
    "insert_event",
    "match_log",
    "attach_events",
    "link_event",
    "load_log",
    "write_fields",
    "suppress_address",
    "suppress_if_reported",
)


class EmailStore:
    """email_logs, email_events and contacts in dicts: sinks.email without PostgreSQL."""

    def __init__(self) -> None:
        self.logs: dict[int, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.contacts: list[dict[str, Any]] = []
        self.refreshed: list[int] = []
        """The log ids whose delivery fields were written, in order."""
        self.locked: list[str] = []
        self.suppressions: list[str] = []
        """The addresses `suppress_address` was asked to suppress."""

    def install(self, monkeypatch: pytest.MonkeyPatch) -> EmailStore:
        replace(monkeypatch, email_sink, self, *EMAIL_SINK)
        return self

    def add_log(self, **columns: Any) -> dict[str, Any]:
        """A row as the table's defaults make it, with `columns` over them."""
        log_id = len(self.logs) + 1
        row: dict[str, Any] = {
            "id": log_id,
            "uuid": None,
            "requested_at": None,
            "recipient_email": "",
            "email_type": "other",
            **dict.fromkeys(email_sink.RELATED),
            "message_id": f"m{log_id}@mail.example",
            "provider_message_id": "",
            "delivery_status": "pending",
            "send_state": "pending",
            "send_attempts": 0,
            "last_attempt_at": None,
            "next_attempt_at": None,
            "sent_at": None,
            "failed_at": None,
            "send_error": "",
            "error_code": "",
            **columns,
        }
        self.logs[log_id] = row
        return row

    def add_contact(self, email: str, bounced: bool = False) -> None:
        self.contacts.append({"email": email, "email_bounced": bounced})

    def bounced(self) -> list[str]:
        return [c["email"] for c in self.contacts if c["email_bounced"]]

    # sinks.email, the sender's steps

    async def lock_recipient(self, conn: AsyncConnection, recipient: str) -> None:
        self.locked.append(recipient)

    async def find_log(self, conn: AsyncConnection, request_uuid: Any) -> dict[str, Any] | None:
        return next((dict(r) for r in self.logs.values() if r["uuid"] == request_uuid), None)

    async def duplicate_of(
        self,
        conn: AsyncConnection,
        row: dict[str, Any],
        window: timedelta,
        live: Sequence[str],
    ) -> Any | None:
        since = row["requested_at"] - window
        for log in sorted(self.logs.values(), key=lambda r: r["requested_at"]):
            if (
                log["recipient_email"] == row["recipient_email"]
                and log["email_type"] == row["email_type"]
                and log["delivery_status"] in live
                and since <= log["requested_at"] <= row["requested_at"]
                and all(log[c] == row.get(c) for c in email_sink.RELATED)
            ):
                return log["uuid"]
        return None

    async def insert_log(self, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
        return dict(self.add_log(**{c: row[c] for c in email_sink.LOG_COLUMNS}))

    async def take_attempt(
        self, conn: AsyncConnection, log_id: int, attempt: int, at: datetime, stuck_at: datetime
    ) -> bool:
        log = self.logs[log_id]
        if log["send_state"] != "pending" or log["send_attempts"] != attempt - 1:
            return False
        log.update(send_attempts=attempt, last_attempt_at=at, next_attempt_at=stuck_at)
        return True

    async def record_sent(
        self, conn: AsyncConnection, log_id: int, at: datetime, provider_message_id: str
    ) -> None:
        self.logs[log_id].update(
            send_state="sent",
            sent_at=at,
            provider_message_id=provider_message_id,
            send_error="",
            error_code="",
            next_attempt_at=None,
        )

    async def record_failed(
        self,
        conn: AsyncConnection,
        log_id: int,
        at: datetime,
        error: str,
        code: str,
        retry_at: datetime | None,
    ) -> None:
        self.logs[log_id].update(send_error=error, error_code=code, next_attempt_at=retry_at)
        if retry_at is None:
            self.logs[log_id].update(send_state="failed", failed_at=at)

    async def due_for_retry(
        self, conn: AsyncConnection, now: datetime, limit: int
    ) -> list[dict[str, Any]]:
        due = [
            r
            for r in self.logs.values()
            if r["send_state"] == "pending"
            and r["next_attempt_at"] is not None
            and r["next_attempt_at"] <= now
        ]
        due.sort(key=lambda r: r["next_attempt_at"])
        return [dict(r) for r in due[:limit]]

    async def postpone_attempts(
        self, conn: AsyncConnection, log_ids: Sequence[int], until: datetime
    ) -> None:
        for log_id in log_ids:
            self.logs[log_id]["next_attempt_at"] = until

    # sinks.email, the provider events

    async def insert_event(self, conn: AsyncConnection, event: dict[str, Any]) -> bool:
        key = event["content_key"]
        if key in self.events:
            return False
        self.events[key] = {c: event[c] for c in email_sink.EVENT_COLUMNS} | {"email_log_id": None}
        return True

    async def match_log(
        self, conn: AsyncConnection, provider_message_id: str, message_id: str | None
    ) -> tuple[int, str] | None:
        for log_id in sorted(self.logs):
            log = self.logs[log_id]
            if (provider_message_id and log["provider_message_id"] == provider_message_id) or (
                log["message_id"] == message_id
            ):
                return log_id, log["recipient_email"]
        return None

    async def attach_events(
        self, conn: AsyncConnection, log_id: int, provider_message_id: str, message_id: str
    ) -> int:
        attached = 0
        for event in self.events.values():
            if event["email_log_id"] is None and (
                (provider_message_id and event["provider_message_id"] == provider_message_id)
                or event["message_id"] == message_id
            ):
                event["email_log_id"] = log_id
                attached += 1
        return attached

    def event(self, provider: str, event_id: str) -> dict[str, Any]:
        """The stored event the provider sent under `event_id` (the store keys by content)."""
        [found] = [
            e
            for e in self.events.values()
            if (e["provider"], e["event_id"]) == (provider, event_id)
        ]
        return found

    async def link_event(self, conn: AsyncConnection, content_key: str, log_id: int) -> None:
        self.events[content_key]["email_log_id"] = log_id

    async def load_log(
        self, conn: AsyncConnection, log_id: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        events = [
            {c: e[c] for c in email_sink.EVENT_COLUMNS}
            for e in self.events.values()
            if e["email_log_id"] == log_id
        ]
        return dict(self.logs[log_id]), events

    async def write_fields(
        self, conn: AsyncConnection, log_id: int, fields: dict[str, Any]
    ) -> None:
        self.logs[log_id].update(fields)
        self.refreshed.append(log_id)

    async def suppress_address(self, conn: AsyncConnection, address: str) -> int:
        self.suppressions.append(address)
        return self._suppress(address)

    async def suppress_if_reported(self, conn: AsyncConnection, log_id: int) -> int:
        reported = any(
            e["email_log_id"] == log_id
            and (
                e["kind"] == "complained" or (e["kind"] == "bounced" and e["bounce_type"] != "soft")
            )
            for e in self.events.values()
        )
        return self._suppress(self.logs[log_id]["recipient_email"]) if reported else 0

    def _suppress(self, address: str) -> int:
        changed = [
            c
            for c in self.contacts
            if c["email"].lower() == address.lower() and not c["email_bounced"]
        ]
        for contact in changed:
            contact["email_bounced"] = True
        return len(changed)
