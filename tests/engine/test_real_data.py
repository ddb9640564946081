"""Every window of every real GH Archive file equals networkx over exactly that window's accepted edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from networkpulse.engine import Interner, WindowConfig
from networkpulse.events import InputReport
from networkpulse.venturi import FilterStats, read_interactions
from tests.engine.reference import Batch, assert_same, expected_windows
from tests.engine.test_windows import run

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "gharchive"
FILES = sorted(DATA.glob("*.json.gz"))


def real_batches(paths: list[Path]) -> list[Batch]:
    interner = Interner()
    report = InputReport()
    out = [
        Batch(interner.ids(b.src), interner.ids(b.dst), b.created_at_ms, b.event_times_ms)
        for b in read_interactions([str(p) for p in paths], report, FilterStats(), batch_lines=1000)
    ]
    assert report.skipped == 0
    return out


def test_data_is_there() -> None:
    assert len(FILES) == 5, f"expected the five GH Archive samples in {DATA}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.split(".")[0])
@pytest.mark.parametrize(
    "config",
    [
        WindowConfig(size_ms=10 * 60_000, slide_ms=60_000),
        WindowConfig(size_ms=5 * 60_000, slide_ms=5 * 60_000, lateness_ms=0, min_size=2),
        WindowConfig(size_ms=15 * 60_000, slide_ms=60_000, rolling=True),
        WindowConfig(size_ms=60_000, slide_ms=10_000, lateness_ms=5_000),
    ],
    ids=["10m-1m", "tumbling-5m", "rolling-15m", "1m-10s-late5s"],
)
def test_real_file_windows_equal_networkx(path: Path, config: WindowConfig) -> None:
    batches = real_batches([path])
    got, engine = run(batches, config)
    want, late = expected_windows(batches, config)
    assert got, "no window emitted"
    assert_same(got, want)
    assert engine.late_events == late


def test_all_eras_in_one_stream() -> None:
    """2011 → 2025 in one run: years-long gaps are skipped, not iterated."""
    batches = real_batches(FILES)
    config = WindowConfig(size_ms=10 * 60_000, slide_ms=60_000, lateness_ms=10**13)
    got, _ = run(batches, config)
    want, _ = expected_windows(batches, config)
    assert_same(got, want)
    assert sum(b.event_times.size for b in batches) == 1639 + 6851 + 7119 + 8273 + 2048
