"""Fuzz through the whole embedded pipeline: mixes of mutated and untouched real lines from every GH Archive file
(the generator of tests/events/test_events_fuzz.py) run through ``Pipeline`` into SQLite.

Cases: 5 files × 3 seeds = 15 mixes of 600 lines (~150 mutated). Checked for each: the run never raises; every
skipped line is reported with this file and a line number and quarantined; and the stored windows are exactly
those of a clean file holding only the lines the reader accepted — so nothing but the reported lines was lost.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from networkpulse.engine import WindowConfig
from networkpulse.pipeline import Pipeline
from networkpulse.settings import Settings
from tests.events.test_events_fuzz import BOM, FILES, MAX_LINE_BYTES, build, read
from tests.reliability.helpers import windows_of


def _run(path: Path, db: Path, quarantine: Path | None = None):  # type: ignore[no-untyped-def]
    settings = Settings(sources=(str(path),), window=WindowConfig(size_ms=10 * 60_000, slide_ms=60_000),
                        store_url=f"sqlite:///{db}", quarantine=str(quarantine) if quarantine else None,
                        max_line_bytes=MAX_LINE_BYTES)
    return Pipeline(settings).run()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", FILES)
def test_mutated_lines_through_the_pipeline_lose_only_what_is_reported(tmp_path: Path, name: str, seed: int) -> None:
    lines, _ = build(name, 100 + seed)
    mix = tmp_path / "mix.json"
    mix.write_bytes(b"\n".join(lines) + b"\n")
    result = _run(mix, tmp_path / "mix.db", tmp_path / "q.jsonl")
    assert all(e.source == str(mix) and e.line is not None and 1 <= e.line <= len(lines)
               for e in result.report.errors)
    assert result.report.skipped == len(result.report.errors) or len(result.report.errors) == 100
    quarantined = (tmp_path / "q.jsonl").read_text().count("\n")
    assert quarantined == result.report.skipped - result.report.by_reason.get("bad_login", 0)

    _, accepted, _, _ = read(mix)  # what the reader takes from the mix, line by line
    text_of = {n: line for n, line in enumerate(lines, 1)}
    text_of[1] = lines[0].removeprefix(BOM)
    clean = tmp_path / "clean.json"
    clean.write_bytes(b"".join(text_of[n] + b"\n" for n in accepted))
    _run(clean, tmp_path / "clean.db")
    assert windows_of(tmp_path / "mix.db") == windows_of(tmp_path / "clean.db")
    assert windows_of(tmp_path / "mix.db"), "no window stored"
