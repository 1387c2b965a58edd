"""Delivery deduplication over a window: pure functions over a `seen` mapping.

`seen` maps a delivery id to the receive time (epoch seconds) of its first delivery. The agent
passes the Faust table; unit tests pass a dict. The window is a first line of defence that keeps
redeliveries from costing a database round trip; the unique key in PostgreSQL is what makes the
result exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

T = TypeVar("T")


class SeenLookup(Protocol):
    """Where first receive times are looked up: a dict, or the Faust table's adapter."""

    def get(self, key: str, /) -> float | None: ...


def first_deliveries(
    items: Iterable[T],
    delivery: Callable[[T], tuple[str, float]],
    seen: SeenLookup,
    window_seconds: float,
) -> list[T]:
    """The items whose delivery id was not seen within the window before them, in order.

    `delivery(item)` gives (delivery id, receive time). Duplicates inside `items` count too.
    """
    kept: list[T] = []
    in_batch: set[str] = set()
    for item in items:
        delivery_id, received = delivery(item)
        if delivery_id in in_batch:
            continue
        first = seen.get(delivery_id)
        if first is not None and abs(received - first) < window_seconds:
            continue
        in_batch.add(delivery_id)
        kept.append(item)
    return kept
