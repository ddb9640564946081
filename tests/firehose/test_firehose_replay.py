"""The firehose replays batches with time shifted per loop; where each event came from travels with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from networkpulse.events import InputReport
from networkpulse.firehose.replay import replay, shifted
from networkpulse.venturi import FilterStats, InteractionBatch, read_interactions

DATA = Path(__file__).resolve().parents[3] / "shared/data/gharchive"


def test_shifted_keeps_source_and_lines() -> None:
    batch = InteractionBatch(
        src=["a"], dst=["b"], kind=["repo_owner"], event_type=["WatchEvent"],
        created_at_ms=np.array([5_000], np.int64), event_id=["1"],
        event_times_ms=np.array([4_000, 5_000], np.int64), source="x.json", event_lines=np.array([3, 5], np.int64),
    )
    out = shifted(batch, 60_000)
    assert out.created_at_ms.tolist() == [65_000] and out.event_times_ms.tolist() == [64_000, 65_000]
    assert out.source == "x.json" and out.event_lines.tolist() == [3, 5]


def test_every_loop_of_a_real_replay_says_file_and_line() -> None:
    path = str(DATA / "2025-01-01-15.first2048.json.gz")

    def read(loop: int = 0) -> list[InteractionBatch]:
        return list(read_interactions([path], InputReport(), FilterStats(), batch_lines=500))

    loops = list(replay(read, loops=3, align_ms=60_000))
    assert len(loops) == 3 * 5
    for i, batch in enumerate(loops):
        first = read()[i % 5]
        assert batch.source == path and batch.event_lines.tolist() == first.event_lines.tolist()
        assert len(batch.event_lines) == len(batch.event_times_ms)
    lines = np.concatenate([b.event_lines for b in loops])
    assert lines.tolist() == 3 * list(range(1, 2049))


def test_a_continued_replay_shifts_its_loops_as_one_run_would() -> None:
    """A run that stopped in loop 2 goes on with loop 2 shifted by the span the first run found."""
    path = str(DATA / "2025-01-01-15.first2048.json.gz")

    def read(loop: int) -> list[InteractionBatch]:
        return list(read_interactions([path], InputReport(), FilterStats(), batch_lines=500))

    spans: list[int] = []
    whole = list(replay(read, loops=4, align_ms=60_000, on_span=spans.append))
    assert len(spans) == 1
    rest = list(replay(read, loops=4, align_ms=60_000, first_loop=2, span_ms=spans[0]))
    assert [b.event_times_ms.tolist() for b in rest] == [b.event_times_ms.tolist() for b in whole[10:]]
    assert list(replay(lambda loop: [], loops=0, align_ms=60_000, first_loop=3, span_ms=spans[0])) == []
