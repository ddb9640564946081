"""The open-addressing pair multiset against collections.Counter, through growth and deletions."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from networkpulse.engine.forest import PairCounter


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(st.integers(0, 300), max_size=80, unique=True)), max_size=40))
def test_distinct_count_matches_counter(ops: list[tuple[bool, list[int]]]) -> None:
    counter = PairCounter(capacity=8)
    reference: Counter[int] = Counter()
    for add, keys in ops:
        if not add:  # remove only what is there, as the engine does when a pane leaves the window
            keys = [k for k in keys if reference[k] > 0]
        counter.update(np.array(keys, np.int64) * 7919 + (1 << 40), 1 if add else -1)
        for k in keys:
            reference[k] += 1 if add else -1
        reference = +reference
        assert len(counter) == len(reference)
    assert sorted(counter.keys.tolist()) == sorted(k * 7919 + (1 << 40) for k in reference)
