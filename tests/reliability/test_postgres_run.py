"""The PostgreSQL store under the installed `pulse`, on real GH Archive data: the same input gives exactly the SQLite
store's windows, a split run equals one run, a second writer is refused at once, and `kill -9` at random points then
the same command again ends with the undisturbed windows (issue 6 on top of issue 9's store semantics)."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from networkpulse.store import open_store
from tests.reliability.helpers import DATA, WINDOW, kill_at_random_points, pulse, stored, windows_of
from tests.reliability.helpers import start as _start

pytestmark = pytest.mark.postgres


def windows_via_api(url: str) -> list[tuple[object, ...]]:
    """Every window of the store at ``url``, read through the store API, in the form of
    :func:`tests.reliability.helpers.windows_of` (which reads a SQLite file's rows): the two are equal exactly when
    the stores hold the same windows, whatever their ids."""
    store = open_store(url, readonly=True)
    out: list[tuple[object, ...]] = []
    try:
        last = 0
        while page := store.windows_after(last, limit=500, max_clusters=1 << 30):
            for w in page:
                clusters = []
                for c in w["cluster_list"]:
                    names = c["members"]
                    tree = tuple(sorted(tuple(sorted((names[a], names[b]))) for a, b in c["edges"]))
                    clusters.append((tuple(names), tree))
                counts = [w[k] for k in ("events", "interactions", "vertices", "edges", "components", "largest")]
                out.append((w["start_ms"], w["end_ms"], *counts, w["late_events"], w["clusters"],
                            int(w["provisional"]), tuple(clusters)))
            last = page[-1]["id"]
    finally:
        store.close()
    return sorted(out, key=lambda w: (w[0], w[1]))


@pytest.mark.slow
def test_every_real_file_gives_the_sqlite_windows(store_url: str, tmp_path: Path) -> None:
    """All five GH Archive eras into both stores: the exports (ids, bounds, counts, every cluster's members and
    edges in stored order) are byte-identical, and so is the order-free comparison."""
    db = tmp_path / "all.db"
    files = sorted(DATA.glob("*.json.gz"))
    assert len(files) >= 5
    for url in (f"sqlite:///{db}", store_url):
        result = pulse("run", *files, "--store", url, *WINDOW)
        assert result.returncode == 0 and "late 0" in result.stderr, result.stderr
    exports = [pulse("export", "windows", "--clusters", "100000", "--store", u) for u in (f"sqlite:///{db}", store_url)]
    assert all(e.returncode == 0 for e in exports), [e.stderr for e in exports]
    assert exports[0].stdout.count("\n") > 100 and exports[0].stdout == exports[1].stdout
    assert windows_via_api(store_url) == windows_of(db)
    assert windows_via_api(f"sqlite:///{db}") == windows_of(db)  # the API reading is itself faithful


@pytest.mark.slow
def test_split_run_equals_one_run(day: Path, store_url: str, undisturbed: list[tuple[object, ...]]) -> None:
    """An hourly job into PostgreSQL: hours 0–11, then 12–23, equal one SQLite run over all 24 hours."""
    files = sorted(day.glob("*.json.gz"), key=lambda p: int(p.name.split("-")[3].split(".")[0]))
    for part in (files[:12], files[12:]):
        result = pulse("run", *part, "--store", store_url, *WINDOW)
        assert result.returncode == 0, result.stderr
    assert "continued the stream" in result.stderr
    assert windows_via_api(store_url) == undisturbed


@pytest.mark.slow
def test_a_second_writer_is_refused_at_once(day: Path, store_url: str) -> None:
    first = _start("run", day, "--store", store_url, *WINDOW, "--speed", "100000x")
    try:
        deadline = time.monotonic() + 60
        while not stored(store_url) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first.poll() is None, "the first run ended before the second started"
        started = time.monotonic()
        second = pulse("run", day, "--store", store_url, *WINDOW)
        assert time.monotonic() - started < 15
        assert second.returncode == 1
        assert f"another process (pid {first.pid} on " in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
        exported = pulse("export", "windows", "--store", store_url)  # readers stay welcome
        assert exported.returncode == 0 and exported.stdout.count("\n") >= 1
    finally:
        first.kill()
        first.communicate()


@pytest.mark.slow
def test_killed_runs_resume_to_the_undisturbed_windows(
    day: Path, store_url: str, undisturbed: list[tuple[object, ...]]
) -> None:
    """`kill -9` of `pulse run` (and its parsing workers) at random moments, then the same command to its end."""
    rng = random.Random(int(os.environ.get("PULSE_CHAOS_SEED", "6")))
    cmd = ("run", day, "--store", store_url, *WINDOW, "--workers", "2")
    landed = kill_at_random_points(cmd, 4, rng, store_url)
    assert landed >= 1, "no kill landed while windows were being written: the test proved nothing"
    assert windows_via_api(store_url) == undisturbed
