"""Cluster identity and lineage: hand-built scenarios, and a property test against a naive matcher that
transcribes the documented rule with plain Python sets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from networkpulse.analytics import EVENTS, AnalyticsConfig, AnalyticsState, annotate
from networkpulse.engine.types import Cluster, Window

STEP = 60_000


def win(index: int, clusters: Sequence[Sequence[int]]) -> Window:
    """Window ``index`` with these clusters, put in the engine's rank order (largest, then smallest member)."""
    built = sorted((sorted(set(c)) for c in clusters), key=lambda m: (-len(m), m[0]))
    return Window.from_clusters(
        clusters=[Cluster(np.array(m, np.int32), np.array([(m[0], x) for x in m[1:]], np.int32).reshape(-1, 2))
                  for m in built],
        start_ms=index * STEP, end_ms=index * STEP + 10 * STEP, events=1, interactions=1, vertices=1, edges=1,
        components=1, largest=1, late_events=0,
    )


def life(frames: Sequence[Sequence[Sequence[int]]], config: AnalyticsConfig | None = None):
    """Per window: [(members, id, event, parents)] in rank order, and [(ended id, into)]."""
    _, notes = annotate(AnalyticsState(), [win(i, f) for i, f in enumerate(frames)], config or AnalyticsConfig())
    out = []
    for i, n in enumerate(notes):
        w = win(i, frames[i])
        m = n.lineage
        rows = [(tuple(c.members.tolist()), int(m.ids[r]), EVENTS[m.events[r]],
                 m.parents[m.parent_offsets[r]:m.parent_offsets[r + 1]].tolist()) for r, c in enumerate(w.clusters)]
        ended = [(int(e), m.into[m.into_offsets[k]:m.into_offsets[k + 1]].tolist()) for k, e in enumerate(m.ended)]
        out.append((rows, ended))
    return out


def by_members(rows):
    return {members: rest for members, *rest in rows}


def test_birth_growth_steady_shrink_death():
    frames = [[[1, 2, 3]], [[1, 2, 3, 4]], [[1, 2, 3, 4]], [[2, 3, 4]], []]
    got = life(frames)
    assert got[0] == ([((1, 2, 3), 1, "born", [])], [])
    assert got[1] == ([((1, 2, 3, 4), 1, "grew", [1])], [])
    assert got[2] == ([((1, 2, 3, 4), 1, "steady", [1])], [])
    assert got[3] == ([((2, 3, 4), 1, "shrank", [1])], [])
    assert got[4] == ([], [(1, [])])  # died


def test_merge_of_three_keeps_the_largest_share_and_ends_the_others_into_it():
    frames = [[[1, 2, 3, 4], [5, 6, 7], [8, 9, 10]], [[*range(1, 11)]]]
    first, second = life(frames)
    assert [r[1] for r in first[0]] == [1, 2, 3]
    assert second == ([(tuple(range(1, 11)), 1, "merged", [1, 2, 3])], [(2, [1]), (3, [1])])


def test_merge_of_three_equal_clusters_goes_to_the_oldest_id():
    frames = [[[1, 2, 3]], [[1, 2, 3], [4, 5, 6]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[*range(1, 10)]]]
    got = life(frames)
    assert by_members(got[2][0]) == {(1, 2, 3): [1, "steady", [1]], (4, 5, 6): [2, "steady", [2]],
                                     (7, 8, 9): [3, "born", []]}
    assert got[3] == ([(tuple(range(1, 10)), 1, "merged", [1, 2, 3])], [(2, [1]), (3, [1])])


def test_split_into_two_the_larger_part_keeps_the_id():
    frames = [[[*range(1, 9)]], [[1, 2, 3, 4, 5], [6, 7, 8]]]
    _, second = life(frames)
    assert second == ([((1, 2, 3, 4, 5), 1, "split", [1]), ((6, 7, 8), 2, "split", [1])], [])


def test_split_into_equal_halves_the_lower_rank_keeps_the_id():
    frames = [[[*range(1, 7)]], [[4, 5, 6], [1, 2, 3]]]
    _, second = life(frames)
    assert second[0] == [((1, 2, 3), 1, "split", [1]), ((4, 5, 6), 2, "split", [1])]  # rank 0 holds account 1


def test_death_and_rebirth_gets_a_new_id():
    frames = [[[1, 2, 3]], [], [[1, 2, 3]]]
    got = life(frames)
    assert got[1] == ([], [(1, [])])
    assert got[2] == ([((1, 2, 3), 2, "born", [])], [])


def test_a_small_remainder_of_a_vanished_cluster_is_born_with_its_parent_named():
    frames = [[[*range(1, 11)]], [[10, 11, 12]]]
    _, second = life(frames)
    # One shared account of ten: less than half of the smaller cluster (3), so no inheritance.
    assert second == ([((10, 11, 12), 2, "born", [1])], [(1, [2])])


def test_ties_between_two_parents_go_to_the_older_id_and_parents_are_ordered():
    frames = [[[1, 2, 3]], [[1, 2, 3], [4, 5, 6]], [[2, 3, 5, 6, 7]]]
    third = life(frames)[2]
    assert third == ([((2, 3, 5, 6, 7), 1, "merged", [1, 2])], [(2, [1])])


def test_a_gap_ends_every_cluster():
    frames = [[[1, 2, 3]], [[1, 2, 3]]]
    config = AnalyticsConfig(step_ms=STEP)
    windows = [win(0, frames[0]), win(5, frames[1])]  # four empty windows skipped between them
    _, notes = annotate(AnalyticsState(), windows, config)
    assert notes[1].lineage.ids.tolist() == [2] and notes[1].lineage.ended.tolist() == [1]
    _, notes = annotate(AnalyticsState(), [win(0, frames[0]), win(1, frames[1])], config)
    assert notes[1].lineage.ids.tolist() == [1]


# ---------------------------------------------------------------------------------------------- naive matcher


def naive(prev: list[tuple[int, set[int]]], cur: list[set[int]], next_id: int, min_share: float):
    """The rule of docs/analytics.md, transcribed plainly: returns ids, events, parents, ended, next id."""
    cands = []
    for i, c in enumerate(cur):
        for pid, p in prev:
            shared = len(c & p)
            if shared >= 1:
                cands.append((shared, pid, i, len(c), len(p)))
    ids: dict[int, int] = {}
    used: set[int] = set()
    for shared, pid, i, size_c, size_p in sorted(cands, key=lambda t: (-t[0], t[1], t[2])):
        if shared >= min_share * min(size_c, size_p) and i not in ids and pid not in used:
            ids[i] = pid
            used.add(pid)
    for i in range(len(cur)):
        if i not in ids:
            ids[i] = next_id
            next_id += 1
    parents = {i: [p for _, p in sorted((-s, p) for s, p, j, *_ in cands if j == i)] for i in range(len(cur))}
    children = {pid: sum(1 for _, p, *_ in cands if p == pid) for pid, _ in prev}
    size_of = dict(prev)
    events = []
    for i, c in enumerate(cur):
        ps = parents[i]
        if not ps:
            events.append("born")
        elif len(ps) >= 2:
            events.append("merged")
        elif children[ps[0]] >= 2:
            events.append("split")
        elif ids[i] == ps[0]:
            before = len(size_of[ps[0]])
            events.append("grew" if len(c) > before else "shrank" if len(c) < before else "steady")
        else:
            events.append("born")
    ended = []
    for pid, _ in prev:
        if pid not in used:
            into = sorted((-s, ids[i]) for s, p, i, *_ in cands if p == pid)
            ended.append((pid, [x for _, x in into]))
    return [ids[i] for i in range(len(cur))], events, [parents[i] for i in range(len(cur))], ended, next_id


@st.composite
def sequences(draw: st.DrawFn) -> list[list[list[int]]]:
    frames = []
    for _ in range(draw(st.integers(1, 8))):
        accounts = draw(st.lists(st.integers(0, 25), unique=True, max_size=25))
        labels = draw(st.lists(st.integers(0, 5), min_size=len(accounts), max_size=len(accounts)))
        groups: dict[int, list[int]] = {}
        for a, g in zip(accounts, labels, strict=True):
            groups.setdefault(g, []).append(a)
        frames.append(list(groups.values()))
    return frames


@settings(max_examples=400, deadline=None)
@given(sequences(), st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0]))
def test_annotate_equals_the_naive_matcher(frames, min_share) -> None:
    windows = [win(i, f) for i, f in enumerate(frames)]
    _, notes = annotate(AnalyticsState(), windows, AnalyticsConfig(min_share=min_share))
    prev: list[tuple[int, set[int]]] = []
    next_id = 1
    for w, n in zip(windows, notes, strict=True):
        cur = [set(c.members.tolist()) for c in w.clusters]
        ids, events, parents, ended, next_id = naive(prev, cur, next_id, min_share)
        m = n.lineage
        assert m.ids.tolist() == ids
        assert [EVENTS[e] for e in m.events] == events
        assert [m.parents[m.parent_offsets[r]:m.parent_offsets[r + 1]].tolist() for r in range(len(cur))] == parents
        got_ended = [(int(e), m.into[m.into_offsets[k]:m.into_offsets[k + 1]].tolist()) for k, e in enumerate(m.ended)]
        assert got_ended == ended
        assert len(set(ids)) == len(ids)  # no two clusters of a window share an id
        prev = list(zip(ids, cur, strict=True))


@settings(max_examples=150, deadline=None)
@given(sequences(), st.data())
def test_state_round_trips_through_arrays_at_any_point(frames, data) -> None:
    windows = [win(i, f) for i, f in enumerate(frames)]
    config = AnalyticsConfig(step_ms=STEP)
    _, whole = annotate(AnalyticsState(), windows, config)
    cut = data.draw(st.integers(0, len(windows)))
    state, first = annotate(AnalyticsState(), windows[:cut], config)
    restored = AnalyticsState.from_arrays({"other": np.zeros(1), **state.to_arrays()})
    assert restored is not None
    _, rest = annotate(restored, windows[cut:], config)
    for a, b in zip(whole, first + rest, strict=True):
        assert a.lineage.ids.tolist() == b.lineage.ids.tolist()
        assert a.lineage.events.tolist() == b.lineage.events.tolist()
        assert a.lineage.ended.tolist() == b.lineage.ended.tolist()
        assert a.slope.tolist() == b.slope.tolist() and a.trend.tolist() == b.trend.tolist()
    assert AnalyticsState.from_arrays({}) is None
