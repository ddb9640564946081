"""The analytics stage inside ``pulse run``'s pipeline: stopped and resumed runs, and a stream continued with its
next files, store the very same cluster ids, lineage and brokers as one undisturbed run; on the real files every
id follows the documented rule (the naive matcher of test_lineage.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from networkpulse.engine import WindowConfig
from networkpulse.pipeline import Pipeline
from networkpulse.settings import Settings
from networkpulse.store import open_store
from tests.analytics.test_lineage import naive
from tests.reliability.helpers import day_folder
from tests.store.test_contract_lives import rows_of

WINDOW = WindowConfig(size_ms=10 * 60_000, slide_ms=60_000)


@pytest.fixture(scope="module")
def hours(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = day_folder(tmp_path_factory.mktemp("day") / "d", range(3))
    return sorted(folder.glob("*.json.gz"), key=lambda p: int(p.name.split("-")[3].split(".")[0]))


def run(sources: list[Path], url: str, *, stop_after: int | None = None) -> None:
    pipeline = Pipeline(Settings(sources=tuple(map(str, sources)), window=WINDOW, store_url=url), flush_windows=7)
    if stop_after is not None:
        def stop(progress) -> None:
            if progress.windows >= stop_after:
                pipeline.stop()
        pipeline.on_progress = stop
    pipeline.run()


def export(url: str) -> list[tuple[object, ...]]:
    with open_store(url, readonly=True) as store:
        rows = rows_of(store)
    def tup(x):
        return None if x is None else tuple(tuple(v) if isinstance(v, list) else v for v in x)

    return [(r["start_ms"], r["end_ms"], r["provisional"], r["rank"], r["cluster_id"], tuple(r["members"]), r["event"],
             tup(r["parents"]), tup(r["articulation_points"]), tup(r["bridges"]), r["activity"], r["trend"])
            for r in rows]


@pytest.fixture(scope="module")
def undisturbed(hours: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[tuple[object, ...]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('ref')}/ref.db"
    run(hours, url)
    rows = export(url)
    assert rows and all(r[4] is not None for r in rows)
    return rows


def test_stopped_and_resumed_runs_store_the_same_lives(hours, tmp_path, undisturbed) -> None:
    url = f"sqlite:///{tmp_path}/stopped.db"
    for stop_after in (20, 60, 100):
        run(hours, url, stop_after=stop_after)
    run(hours, url)
    assert export(url) == undisturbed


def test_a_continued_stream_stores_the_same_lives(hours, tmp_path, undisturbed) -> None:
    url = f"sqlite:///{tmp_path}/split.db"
    run(hours[:1], url)
    run(hours[1:], url)
    assert export(url) == undisturbed


def test_analytics_off_then_on_continues_without_reusing_ids(hours, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/off.db"
    run(hours[:1], url)
    Pipeline(Settings(sources=(str(hours[1]),), window=WINDOW, store_url=url), analytics=False).run()
    run(hours[2:], url)
    rows = export(url)
    ids = [r[4] for r in rows if r[4] is not None]
    first_run = {r[4] for r in rows if r[0] < rows[0][0] + 3_600_000 - 600_000 and r[4] is not None}
    later = {r[4] for r in rows if r[0] > rows[0][0] + 2 * 3_600_000 and r[4] is not None}
    assert ids and not first_run & later  # the gap ended every cluster; ids were not handed out twice
    assert any(r[4] is None for r in rows)  # the run without analytics stored plain windows


def test_real_ids_follow_the_rule(undisturbed) -> None:
    """Window by window, the stored ids, events and parents are the naive matcher's (final windows only)."""
    by_window: dict[tuple[int, int], list[tuple[object, ...]]] = {}
    for r in undisturbed:
        if not r[2]:
            by_window.setdefault((r[0], r[1]), []).append(r)
    prev: list[tuple[int, set[str]]] = []
    next_id = 1
    last_end = None
    for (_, end), rows in sorted(by_window.items()):
        if last_end is not None and end - last_end > WINDOW.slide_ms:
            prev = []
        cur = [set(r[5]) for r in rows]
        ids, events, parents, _, next_id = naive(prev, cur, next_id, 0.5)
        assert [r[4] for r in rows] == ids
        assert [r[6] for r in rows] == events
        assert [list(r[7]) for r in rows] == parents
        prev, last_end = list(zip(ids, cur, strict=True)), end
