from streams import first_deliveries

WINDOW = 7200.0


def by_pair(item: tuple[str, float]) -> tuple[str, float]:
    return item


def test_duplicates_within_a_batch_are_dropped_keeping_the_first() -> None:
    items = [("a", 10.0), ("b", 11.0), ("a", 12.0)]
    assert first_deliveries(items, by_pair, {}, WINDOW) == [("a", 10.0), ("b", 11.0)]


def test_seen_within_the_window_is_a_duplicate() -> None:
    assert first_deliveries([("a", 100.0 + WINDOW - 1)], by_pair, {"a": 100.0}, WINDOW) == []


def test_seen_longer_ago_than_the_window_is_new_again() -> None:
    assert first_deliveries([("a", 100.0 + WINDOW)], by_pair, {"a": 100.0}, WINDOW) == [
        ("a", 100.0 + WINDOW)
    ]
