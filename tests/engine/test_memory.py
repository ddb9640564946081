"""Memory on endless streams: the engine's slots follow the window, the interner forgets accounts nobody holds, and
a checkpoint that renumbers the held ids continues exactly (windows compared by login)."""

from __future__ import annotations

import numpy as np
import pytest

from networkpulse.engine import Interner, Window, WindowConfig, WindowEngine
from networkpulse.engine.windows import VERTEX_ARRAYS, renumber

CONFIG = WindowConfig(size_ms=5 * 60_000, slide_ms=60_000, min_size=2)


def churn_batches(minutes: int, per_minute: int, seed: int) -> list[tuple[list[str], list[str], np.ndarray]]:
    """Each minute: interactions among a small core and accounts born in the last two minutes."""
    rng = np.random.default_rng(seed)
    out = []
    for minute in range(minutes):
        def pick(n: int, minute: int = minute) -> list[str]:
            born = rng.integers(max(0, minute - 1), minute + 1, n)
            return [f"core{c}" if rng.random() < 0.3 else f"u{b}_{x}"
                    for b, c, x in zip(born, rng.integers(0, 20, n), rng.integers(0, 40, n), strict=True)]
        src, dst = pick(per_minute), pick(per_minute)
        keep = [i for i in range(per_minute) if src[i] != dst[i]]
        times = np.sort(rng.integers(0, 60_000, len(keep))).astype(np.int64) + minute * 60_000
        out.append(([src[i] for i in keep], [dst[i] for i in keep], times))
    return out


def by_login(windows: list[Window], logins: list[list[str]]) -> list[tuple]:
    return [(w.start_ms, w.end_ms, w.vertices, w.edges, w.components, w.largest, tuple(names),
             w.offsets.tolist()) for w, names in zip(windows, logins, strict=True)]


def feed(engine: WindowEngine, interner: Interner, batch: tuple, out: list, names: list) -> None:
    src, dst, times = batch
    windows = engine.add(interner.ids(src), interner.ids(dst), times, times)
    out += windows
    names += [[interner.logins[v] for v in w.members.tolist()] for w in windows]


def test_slots_and_interner_stay_bounded_under_churn() -> None:
    engine, interner = WindowEngine(CONFIG), Interner()
    out: list[Window] = []
    names: list[list[str]] = []
    capacity = []
    for minute, batch in enumerate(churn_batches(120, 300, seed=1)):
        feed(engine, interner, batch, out, names)
        if minute % 10 == 9:
            held = engine.live_ids()
            assert interner.retain(held, persisted=len(interner)) > 0 or minute < 10
            capacity.append(len(engine._slots.gid))
            # every held id still has its login; a forgotten one raises
            assert all(interner.logins[int(v)] for v in held[:50])
    assert len(interner) > 6 * interner.held  # ids handed out keep growing, logins held do not
    assert max(capacity) == capacity[1]  # the slot arrays stopped growing after the first windows
    assert engine.live_ids().size == len(np.unique(engine.live_ids()))


def test_forgotten_login_gets_a_new_id_and_cannot_be_read() -> None:
    interner = Interner()
    a, b = interner.ids(["Alice", "bob"]).tolist()
    assert interner.retain(np.array([b], np.int32), persisted=2) == 1
    with pytest.raises(LookupError, match="forgotten"):
        interner.logins[a]
    assert interner.logins[b] == "bob" and len(interner.logins) == 2
    assert interner.ids(["ALICE"]).tolist() == [2]  # seen again: a fresh id after every held one
    assert interner.logins[2:] == ["ALICE"]
    assert interner.retain(np.empty(0, np.int32), persisted=2) == 1  # bob; ALICE is not persisted yet


def test_renumbered_checkpoint_continues_exactly() -> None:
    """Cut anywhere, forget what nobody holds, renumber: the rest of the windows, by login, are those of a run
    that was not cut (which forgets at the same point)."""
    batches = churn_batches(40, 200, seed=5)
    for cut in (3, 11, 26):
        engine, interner = WindowEngine(CONFIG, cluster_pairs=True), Interner()
        want: list[Window] = []
        want_names: list[list[str]] = []
        got: list[Window] = []
        got_names: list[list[str]] = []
        for batch in batches[:cut]:
            feed(engine, interner, batch, want, want_names)
        arrays, held = renumber(engine.snapshot(), VERTEX_ARRAYS)
        arrays.update(interner.table_arrays(held))
        interner.retain(engine.live_ids(), persisted=len(interner))
        restored = Interner.from_table_arrays({k: v.copy() for k, v in arrays.items()})
        assert restored is not None and len(restored) == len(held)
        resumed = WindowEngine.restore(CONFIG, arrays, len(held), cluster_pairs=True)
        for batch in batches[cut:]:
            feed(engine, interner, batch, want, want_names)
            feed(resumed, restored, batch, got, got_names)
        want, want_names = want[-len(got):] if got else [], want_names[-len(got):] if got else []
        assert len(got) > 5
        assert by_login(got, got_names) == by_login(want, want_names)
