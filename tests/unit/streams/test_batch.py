from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ingest import build_envelope
from schemas import DeadLetter, parse_zoom_event
from schemas.retry import RetryRequest
from streams import Delivery, Item, ItemResult, Ports, log_row, process_batch, process_retry
from streams.webhooks.apply import Failure
from streams.webhooks.outcome import Outcome
from zoomstream.samples import dumps, meeting_object, zoom_event

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 30, 9, 59, tzinfo=UTC)


def delivery(body: bytes | dict[str, object], offset: int = 0, partition: int = 3) -> Delivery:
    raw = body if isinstance(body, bytes) else dumps(body)
    value = build_envelope(raw, {"x-zm-signature": "v0=ab"}, RECEIVED).model_dump_json().encode()
    return Delivery("zoom.webhooks.raw", partition, offset, value)


class Fakes:
    """Handles every event as completed, except types listed as failing."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.seen: dict[str, float] = {}
        self.marked: list[tuple[str, int]] = []
        self.applied: list[Item] = []
        self.letters: list[DeadLetter] = []
        self.retries: list[RetryRequest] = []
        self.failing = failing or set()
        self.ports = Ports(self.apply, self.send, self.retry, backoff=(5.0, 30.0))

    async def apply(self, items: Sequence[Item]) -> list[ItemResult]:
        results = []
        for item in items:
            if item.event.event in self.failing:
                results.append(
                    ItemResult(item, failure=Failure("DataError: out of range", "Traceback ..."))
                )
            else:
                self.applied.append(item)
                results.append(ItemResult(item, outcome=Outcome("completed")))
        return results

    async def send(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    async def retry(self, request: RetryRequest) -> None:
        self.retries.append(request)

    def mark(self, deliveries: Sequence[tuple[str, float, int, int]]) -> None:
        for key, received, partition, _offset in deliveries:
            self.seen[key] = received
            self.marked.append((key, partition))

    async def run(self, deliveries: list[Delivery]) -> None:
        await process_batch(
            deliveries,
            seen=self.seen,
            window_seconds=7200,
            now=NOW,
            ports=self.ports,
            mark_seen=self.mark,
        )


async def test_each_distinct_delivery_is_applied_once_and_marked_after() -> None:
    fakes = Fakes()
    started = zoom_event("meeting.started", meeting_object("123"), 1_764_496_740_000)
    ended = zoom_event("meeting.ended", meeting_object("123"))
    await fakes.run([delivery(started, 0), delivery(started, 1), delivery(ended, 2)])
    assert [i.event.event for i in fakes.applied] == ["meeting.started", "meeting.ended"]
    assert [p for _, p in fakes.marked] == [3, 3]
    await fakes.run([delivery(started, 3)])  # redelivered later: already seen
    assert len(fakes.applied) == 2


async def test_not_envelopes_and_not_webhooks_are_dead_lettered_and_the_rest_applied() -> None:
    fakes = Fakes()
    await fakes.run(
        [
            Delivery("zoom.webhooks.raw", 0, 7, b"not an envelope"),
            delivery(b"not json", 8),
            delivery(zoom_event("meeting.started", meeting_object("1")), 9),
        ]
    )
    assert [i.event.event for i in fakes.applied] == ["meeting.started"]
    assert [(letter.offset, letter.error.split(":")[0]) for letter in fakes.letters] == [
        (7, "not a raw webhook envelope"),
        (8, "InvalidZoomEvent"),
    ]
    assert fakes.letters[0].value == b"not an envelope"


async def test_a_failed_webhook_is_retried_with_backoff_then_dead_lettered_after_three_attempts() -> (
    None
):
    fakes = Fakes(failing={"recording.completed"})
    poison = delivery(zoom_event("recording.completed", {"id": 1, "uuid": "u"}), 5)
    await fakes.run([poison, delivery(zoom_event("meeting.started", meeting_object("1")), 6)])
    assert [i.event.event for i in fakes.applied] == ["meeting.started"], (
        "the rest of the batch lands"
    )
    [second] = fakes.retries
    assert (second.attempt, second.not_before, second.offset) == (2, NOW + timedelta(seconds=5), 5)
    assert len(fakes.marked) == 2

    await process_retry(second, poison, NOW, fakes.ports)
    third = fakes.retries[-1]
    assert (third.attempt, third.not_before) == (3, NOW + timedelta(seconds=30))
    await process_retry(third, poison, NOW, fakes.ports)
    [letter] = fakes.letters
    assert (letter.attempts, letter.offset, letter.value) == (3, 5, poison.value)
    assert "DataError" in letter.error and letter.traceback


def test_log_row_of_attempts() -> None:
    envelope = build_envelope(
        dumps(
            zoom_event("recording.completed", {"id": 85392858403, "uuid": "u"}, 1_764_496_740_000)
        ),
        {},
        RECEIVED,
    )
    item = Item(delivery(b"{}"), envelope, parse_zoom_event(envelope.body), attempt=2)
    pending = log_row(item, NOW, failure=Failure("boom", "tb"))
    assert (pending.processing_status, pending.processing_attempts, pending.processed_at) == (
        "pending",
        2,
        None,
    )
    assert pending.error_message.startswith("attempt 2 failed, retrying")
    final = log_row(
        Item(item.delivery, envelope, item.event, attempt=3), NOW, failure=Failure("boom", "tb")
    )
    assert (final.processing_status, final.error_message, final.error_traceback) == (
        "failed",
        "boom",
        "tb",
    )
    done = log_row(item, NOW, outcome=Outcome("skipped", "no event found"))
    assert (done.processing_status, done.error_message, done.zoom_meeting_id) == (
        "skipped",
        "no event found",
        "85392858403",
    )
    assert done.event_timestamp == datetime(2025, 11, 30, 9, 59, tzinfo=UTC)


def test_event_time_falls_back_to_receive_time_and_nul_is_kept_out_of_jsonb() -> None:
    body = b'{"event":"meeting.started","payload":{"object":{"id":"1","topic":"a\\u0000b"}}}'
    envelope = build_envelope(body, {}, RECEIVED)
    row = log_row(
        Item(delivery(body), envelope, parse_zoom_event(body)), NOW, outcome=Outcome("completed")
    )
    assert row.event_timestamp == RECEIVED
    assert '"ab"' in row.payload


async def test_a_permanent_error_is_dead_lettered_without_retries() -> None:
    class Permanent(Fakes):
        async def apply(self, items: Sequence[Item]) -> list[ItemResult]:
            return [
                ItemResult(i, failure=Failure("RecordingEventError: no uuid", "tb", permanent=True))
                for i in items
            ]

    fakes = Permanent()
    fakes.ports = Ports(fakes.apply, fakes.send, fakes.retry)
    await fakes.run([delivery(zoom_event("recording.completed", {"id": 1}), 4)])
    assert fakes.retries == []
    [letter] = fakes.letters
    assert (letter.attempts, letter.error) == (1, "RecordingEventError: no uuid")
