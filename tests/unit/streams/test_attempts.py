from streams.runtime.attempts import MAX_ATTEMPTS, is_final, wait_after


def test_three_attempts_unless_the_failure_is_permanent() -> None:
    assert MAX_ATTEMPTS == 3
    assert [is_final(attempt) for attempt in (1, 2, 3, 4)] == [False, False, True, True]
    assert is_final(1, permanent=True)


def test_each_wait_in_turn_then_the_last_one_again() -> None:
    backoff = (5.0, 30.0)
    assert [wait_after(attempt, backoff) for attempt in (1, 2, 3)] == [5.0, 30.0, 30.0]
    assert wait_after(2, (7.0,)) == 7.0
