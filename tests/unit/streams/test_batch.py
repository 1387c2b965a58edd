from collections.abc import Sequence
from datetime import UTC, datetime

from ingest import build_envelope
from schemas import DeadLetter
from sinks import WebhookLogRow
from streams import Delivery, process_batch
from zoomstream.samples import dumps, meeting_object, zoom_event

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 30, 9, 59, tzinfo=UTC)


def delivery(
    body: bytes | dict[str, object],
    offset: int = 0,
    partition: int = 3,
    received: datetime = RECEIVED,
) -> Delivery:
    raw = body if isinstance(body, bytes) else dumps(body)
    value = build_envelope(raw, {"x-zm-signature": "v0=ab"}, received).model_dump_json().encode()
    return Delivery("zoom.webhooks.raw", partition, offset, value)


class Fakes:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.seen: dict[str, float] = {}
        self.marked: list[tuple[str, int]] = []
        self.rows: list[WebhookLogRow] = []
        self.letters: list[DeadLetter] = []
        self.refuse = refuse or set()

    async def write_rows(self, rows: Sequence[WebhookLogRow]) -> Sequence[WebhookLogRow]:
        refused = [r for r in rows if r.event_type in self.refuse]
        self.rows.extend(r for r in rows if r.event_type not in self.refuse)
        return refused

    async def send(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    def mark(self, key: str, received: float, partition: int) -> None:
        self.seen[key] = received
        self.marked.append((key, partition))

    async def run(self, deliveries: list[Delivery]) -> None:
        await process_batch(
            deliveries,
            seen=self.seen,
            window_seconds=7200,
            now=NOW,
            write_rows=self.write_rows,
            send_dead_letter=self.send,
            mark_seen=self.mark,
        )


async def test_each_distinct_delivery_gives_one_row_and_is_marked_after_writing() -> None:
    fakes = Fakes()
    started = zoom_event("meeting.started", meeting_object("123"), 1_764_496_740_000)
    ended = zoom_event("meeting.ended", meeting_object("123"))
    await fakes.run([delivery(started, 0), delivery(started, 1), delivery(ended, 2)])
    assert [r.event_type for r in fakes.rows] == ["meeting.started", "meeting.ended"]
    assert [p for _, p in fakes.marked] == [3, 3]
    assert fakes.letters == []

    await fakes.run([delivery(started, 3)])  # redelivered later: already seen
    assert len(fakes.rows) == 2


async def test_rows_are_skipped_with_a_reason_and_event_time_is_a_datetime() -> None:
    fakes = Fakes()
    await fakes.run(
        [delivery(zoom_event("meeting.started", meeting_object("123"), 1_764_496_740_000))]
    )
    [row] = fakes.rows
    assert row.processing_status == "skipped"
    assert "no handler" in row.error_message
    assert row.event_timestamp == datetime(2025, 11, 30, 9, 59, tzinfo=UTC)
    assert row.zoom_meeting_id == "123"
    assert row.processing_attempts == 1


async def test_event_time_falls_back_to_receive_time() -> None:
    fakes = Fakes()
    await fakes.run([delivery(zoom_event("meeting.started", meeting_object("123")))])
    assert fakes.rows[0].event_timestamp == RECEIVED


async def test_poison_messages_go_to_dead_letters_and_others_still_land() -> None:
    fakes = Fakes(refuse={"refused.by.database"})
    good = zoom_event("meeting.started", meeting_object("1"))
    await fakes.run(
        [
            Delivery("zoom.webhooks.raw", 0, 7, b"not an envelope"),
            delivery(b"not json", 8),
            delivery(zoom_event("refused.by.database", {}), 9),
            delivery(good, 10),
        ]
    )
    assert [r.event_type for r in fakes.rows] == ["meeting.started"]
    assert [(letter.offset, letter.error.split(":")[0]) for letter in fakes.letters] == [
        (7, "not a raw webhook envelope"),
        (8, "InvalidZoomEvent"),
        (9, "PostgreSQL refused the row (see worker log)"),
    ]
    assert fakes.letters[0].value == b"not an envelope"
    assert len(fakes.marked) == 1


async def test_nul_characters_are_kept_out_of_jsonb_payload() -> None:
    fakes = Fakes()
    await fakes.run(
        [
            delivery(
                b'{"event":"meeting.started","payload":{"object":{"id":"1","topic":"a\\u0000b"}}}'
            )
        ]
    )
    assert '"ab"' in fakes.rows[0].payload
