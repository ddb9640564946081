"""The embedded pipeline: parallel parsing gives exactly what in-process parsing gives, bad input included."""

from __future__ import annotations

import gzip
from pathlib import Path

from networkpulse.engine import WindowConfig
from networkpulse.pipeline import Pipeline
from networkpulse.settings import Settings
from networkpulse.store import open_store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gharchive"


def stored(url: str) -> list[dict]:
    store = open_store(url, readonly=True)
    try:
        return store.windows_after(0, limit=10_000, max_clusters=1_000)
    finally:
        store.close()


def test_parallel_parsing_equals_in_process(tmp_path: Path) -> None:
    real = sorted(DATA.glob("*.json.gz"))
    bad = tmp_path / "bad.json.gz"
    # Real 2011 lines moved to 2026, so that the bad file (read last) is also the latest: nothing is late.
    lines = gzip.decompress(real[0].read_bytes()).replace(b'"created_at":"2011-', b'"created_at":"2026-')
    lines = lines.splitlines(keepends=True)[:30]
    bad.write_bytes(gzip.compress(b"".join(lines[:10]) + b"{not json\n" + b"".join(lines[10:]))[:-40])
    sources = (*map(str, real), str(bad))
    results = {}
    for workers in (1, 2):
        url = f"sqlite:///{tmp_path}/w{workers}.db"
        settings = Settings(sources=sources, window=WindowConfig(), store_url=url, workers=workers)
        result = Pipeline(settings).run()
        results[workers] = (stored(url), result.report.skipped, sorted(result.report.messages),
                            result.filters.as_dict(), result.progress.windows)
    assert results[1][0], "no window stored"
    assert results[1][1] == 2  # the malformed line and the truncation
    assert any(":11: malformed_json" in m for m in results[2][2])
    assert results[2] == results[1]


def test_one_file_replayed_parses_in_a_worker_and_equals_in_process(tmp_path: Path, monkeypatch) -> None:
    """One file with --loops: a worker parses each loop (the next one ahead) while the run applies; same result."""
    from networkpulse.venturi.parallel import ParallelReader

    submitted: list[tuple[str, int]] = []
    real_submit = ParallelReader.submit

    def spy(self, source, skip_line=0):
        submitted.append((source, skip_line))
        return real_submit(self, source, skip_line)

    monkeypatch.setattr(ParallelReader, "submit", spy)
    source = str(DATA / "2015-01-01-12.json.gz")
    results = {}
    for workers in (1, 2):
        url = f"sqlite:///{tmp_path}/loops{workers}.db"
        settings = Settings(sources=(source,), window=WindowConfig(), store_url=url, workers=workers, loops=3)
        result = Pipeline(settings).run()
        results[workers] = (stored(url), result.report.summary(), result.filters.as_dict(), result.progress.windows)
        with open_store(url, readonly=True) as store:
            results[workers] += (store.inputs(), store.checkpoint().state["totals"])
    assert submitted == [(source, 0)] * 3  # one job per loop, none for the in-process run
    assert len(results[1][0]) > 150 and results[2] == results[1]
