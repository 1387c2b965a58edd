from streams.gaps import Gap, find_gaps


def test_contiguous_offsets_have_no_gaps_and_advance_expectation() -> None:
    expected = {0: 10}
    assert find_gaps(expected, [(0, 10), (0, 11), (1, 5)]) == []
    assert expected == {0: 12, 1: 6}


def test_a_jump_is_a_gap_per_partition() -> None:
    expected = {0: 10, 3: 62}
    assert find_gaps(expected, [(3, 68), (0, 10), (0, 15), (3, 69)]) == [
        Gap(0, 11, 15),
        Gap(3, 62, 68),
    ]
    assert expected == {0: 16, 3: 70}


def test_offsets_read_again_after_a_seek_back_are_not_gaps() -> None:
    expected = {0: 20}
    assert find_gaps(expected, [(0, 12), (0, 13)]) == []
    assert expected == {0: 20}
