"""``runs``: how a batch is cut into runs sealed under one scope each."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from ledger._keys import runs


def test_examples() -> None:
    assert list(runs(["a", "a", "b", "a"])) == [(0, 2), (2, 3), (3, 4)]
    assert list(runs([("s",)] * 3)) == [(0, 3)]
    assert list(runs([])) == []


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=40))
def test_runs_cover_the_values_in_order_each_maximal_and_equal(values: list[str]) -> None:
    cut = list(runs(values))
    assert [i for start, end in cut for i in range(start, end)] == list(range(len(values)))
    for start, end in cut:
        assert start < end
        assert set(values[start:end]) == {values[start]}
    for (_, end), (start, _) in itertools.pairwise(cut):
        assert values[end - 1] != values[start]
