"""The split components stage (forest workers' pane parts + the merger) against the embedded engine on real data:
same windows (bounds, counts, memberships), whatever the origins, their interleaving, the message boundaries and
checkpoint/restore points; late parts counted; idle origins stop holding the watermark back."""

from __future__ import annotations

import itertools
import random
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networkpulse.components import Merger, PaneParts, reduce_panes, window_record
from networkpulse.engine import Interner, Window, WindowConfig, WindowEngine
from networkpulse.events import InputReport
from networkpulse.venturi import FilterStats, InteractionBatch, read_interactions

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "gharchive"
HOUR = DATA / "2015-01-01-12.json.gz"
CONFIG = WindowConfig(size_ms=10 * 60_000, slide_ms=60_000)


def _batches(path: Path = HOUR, lines: int = 500) -> list[InteractionBatch]:
    return list(read_interactions([str(path)], InputReport(), FilterStats(), batch_lines=lines))


def _embedded(batches: list[InteractionBatch], config: WindowConfig) -> list[tuple[object, ...]]:
    interner, engine = Interner(), WindowEngine(config)
    out: list[Window] = []
    for b in batches:
        out += engine.add(interner.ids(b.src), interner.ids(b.dst), b.created_at_ms, b.event_times_ms)
    return _shape(out + engine.flush(), interner.logins)


def _shape(windows: list[Window], logins: list[str]) -> list[tuple[object, ...]]:
    """Bounds, counts and memberships (as login sets); the order of clusters of equal size and the spanning trees
    depend on account numbering, which differs between the two modes."""
    out = []
    for w in windows:
        r = window_record(w, logins)
        bounds = r.window.offsets.tolist()
        clusters = sorted(tuple(sorted(r.logins[a:b])) for a, b in itertools.pairwise(bounds))
        out.append((w.start_ms, w.end_ms, w.events, w.interactions, w.vertices, w.edges, w.components, w.largest,
                    w.late_events, tuple(clusters)))
    return out


def _split(batch: InteractionBatch, origins: int) -> list[InteractionBatch]:
    """A batch cut by origin as the firehose keys events (by actor login): each origin stays in time order."""
    origin = np.array([zlib.crc32(s.lower().encode()) % origins for s in batch.src], np.int64)
    # Events without interactions go to origin 0 (their actor is unknown here): they only count.
    out = []
    for o in range(origins):
        rows = np.flatnonzero(origin == o)
        out.append(InteractionBatch(
            src=[batch.src[i] for i in rows], dst=[batch.dst[i] for i in rows], kind=[batch.kind[i] for i in rows],
            event_type=[batch.event_type[i] for i in rows], created_at_ms=batch.created_at_ms[rows],
            event_id=[batch.event_id[i] for i in rows],
            event_times_ms=batch.event_times_ms if o == 0 else np.empty(0, np.int64), origin=o, origins=origins))
    return out


def _merged(batches: list[InteractionBatch], config: WindowConfig, origins: int, rng: random.Random,
            restore_every: int = 0) -> list[tuple[object, ...]]:
    """Run the split stage: per origin a queue of parts (1–3 batches per message), interleaved at random."""
    queues: list[list[PaneParts]] = [[] for _ in range(origins)]
    pending: list[list[InteractionBatch]] = [[] for _ in range(origins)]
    for b in batches:
        for part in _split(b, origins):
            pending[part.origin].append(part)
            if len(pending[part.origin]) >= rng.randint(1, 3):
                queues[part.origin].append(reduce_panes(pending[part.origin], config.slide_ms, part.origin, origins))
                pending[part.origin] = []
    for o in range(origins):
        if pending[o]:
            queues[o].append(reduce_panes(pending[o], config.slide_ms, o, origins))
    merger = Merger(config, idle_timeout_s=1e9)
    windows: list[tuple[object, ...]] = []
    step = 0
    while any(queues):
        o = rng.choice([i for i in range(origins) if queues[i]])
        windows += _shape(merger.add(queues[o].pop(0), now_s=0.0), merger.interner.logins)
        step += 1
        if restore_every and step % restore_every == 0:
            merger = Merger.restore(config, merger.snapshot(), idle_timeout_s=1e9)
    return windows + _shape(merger.provisional(), merger.interner.logins)


@pytest.mark.parametrize("origins", [1, 3])
@pytest.mark.parametrize("config", [CONFIG, WindowConfig(size_ms=15 * 60_000, slide_ms=60_000, rolling=True),
                                    WindowConfig(size_ms=5 * 60_000, slide_ms=5 * 60_000, min_size=2)],
                         ids=["sliding", "rolling", "tumbling"])
def test_the_split_stage_gives_the_embedded_windows(origins: int, config: WindowConfig) -> None:
    batches = _batches()
    expected = _embedded(batches, config)
    assert len(expected) >= 4 and sum(len(w[-1]) for w in expected) > 100
    assert _merged(batches, config, origins, random.Random(origins)) == expected


@pytest.mark.parametrize("path", sorted(DATA.glob("*.json.gz")), ids=lambda p: p.name.split(".")[0])
def test_every_era_with_restores(path: Path) -> None:
    """Every real file, four origins, the merger checkpointed and restored every few messages."""
    batches = _batches(path, 300)
    assert _merged(batches, CONFIG, 4, random.Random(7), restore_every=3) == _embedded(batches, CONFIG)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), origins=st.integers(1, 5), restore_every=st.integers(0, 6))
def test_any_interleaving_and_restore_points(seed: int, origins: int, restore_every: int) -> None:
    batches = _batches(lines=2000)[:6]
    expected = _embedded(batches, CONFIG)
    assert _merged(batches, CONFIG, origins, random.Random(seed), restore_every) == expected


def test_a_snapshot_keeps_only_the_accounts_the_open_state_holds() -> None:
    merger = Merger(CONFIG, idle_timeout_s=1e9)
    for b in _batches():
        merger.add(reduce_panes([b], CONFIG.slide_ms, 0, 1), now_s=0.0)
    state = merger.snapshot()
    assert 0 < int(state["n_logins"][0]) < len(merger.interner) // 2


def test_parts_behind_the_watermark_are_late_and_counted() -> None:
    b = _batches()[:4]
    merger = Merger(CONFIG, idle_timeout_s=1e9)
    late_part = reduce_panes(b[:1], CONFIG.slide_ms, 1, 2)
    merger.add(reduce_panes(b, CONFIG.slide_ms, 0, 2), now_s=0.0)
    merger.add(reduce_panes(b[3:], CONFIG.slide_ms, 1, 2), now_s=0.0)  # origin 1 jumps ahead: panes close
    before = merger.engine.late_events
    merger.add(late_part, now_s=0.0)  # then goes back in time: behind the watermark
    assert merger.engine.late_events - before == int(late_part.events[late_part.pane < merger.closed].sum()) > 0


def test_an_idle_origin_stops_holding_the_watermark_back() -> None:
    b = _batches()
    merger = Merger(CONFIG, idle_timeout_s=30.0, now_s=0.0)
    assert merger.add(reduce_panes(b, CONFIG.slide_ms, 0, 2), now_s=1.0) == []  # origin 1 never spoke: wait
    assert merger.watermark_ms(29.0) is None
    closed = merger.tick(30.5)  # 30 s after start it no longer holds the watermark back (origin 0 is live)
    assert len(closed) > 40


def test_a_snapshot_in_brief_names_the_watermarks_and_the_closed_time() -> None:
    merger = Merger(CONFIG, idle_timeout_s=1e9)
    batches = _batches()
    for origin, b in enumerate(batches[:2]):
        merger.add(reduce_panes([b], CONFIG.slide_ms, origin, 2), now_s=0.0)
    brief = Merger.describe(merger.snapshot())
    assert brief["origins"] == 2 and brief["watermarks_ms"] == merger.watermarks
    assert brief["closed_until_ms"] == merger.closed * CONFIG.slide_ms
    assert (brief["events"], brief["slide_ms"]) == (merger.events, CONFIG.slide_ms)
