"""Contract: natural window keys (idempotent writes), provisional windows, checkpoints, start over and one writer,
on SQLite and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from networkpulse.errors import StoreBusyError
from networkpulse.store import Checkpoint, InputPosition, open_store
from tests.store.helpers import window

LOGINS = [f"user{i}" for i in range(60)]


def _bounds(store) -> list[tuple[int, int, bool]]:
    return [(w["start_ms"], w["end_ms"], w["provisional"]) for w in store.windows_after(0, limit=1000)]


def test_rewriting_a_window_is_a_no_op(url):
    store = open_store(url)
    first = [window(i, [[i, i + 1, i + 2]]) for i in range(5)]
    assert store.write(first, LOGINS, {}) == [1, 2, 3, 4, 5]
    again = [window(i, [[i + 10, i + 11, i + 12, i + 13]]) for i in range(3, 8)]  # 3 and 4 are stored already
    assert store.write(again, LOGINS, {}) == [6, 7, 8]
    twice = window(9, [[1, 2, 3]])
    assert store.write([twice, *again[:2], twice], LOGINS, {}) == [9]  # one new window, twice in the batch
    details = store.windows_after(0, limit=100, max_clusters=5)
    assert [d["start_ms"] for d in details] == sorted({w.start_ms for w in [*first, *again, twice]})
    assert details[3]["cluster_list"][0]["members"] == ["user3", "user4", "user5"]  # the first write won
    assert store.stats()["windows"] == 9
    store.close()


def test_provisional_windows_are_replaced_by_the_next_write(backend, url):
    store = open_store(url)
    store.write([window(0, [[1, 2, 3]])], LOGINS, {}, provisional=[window(1, [[1, 2, 3]]), window(2, [[4, 5, 6]])])
    assert [p for _, _, p in _bounds(store)] == [False, True, True]
    store.close()
    store = open_store(url)  # another run on the same store
    store.write([window(1, [[1, 2, 3, 7]])], LOGINS, {}, provisional=[window(2, [[4, 5, 6, 8]])])
    assert [p for _, _, p in _bounds(store)] == [False, False, True]
    latest = store.windows_after(0, limit=10, max_clusters=1)
    assert [w["cluster_list"][0]["size"] for w in latest] == [3, 4, 4]
    assert store.stats()["windows"] == 3
    # A membership row per member of every stored window, none left behind by the replaced ones.
    assert backend.count(url, "membership") == 3 + 4 + 4
    assert backend.count(url, "clusters") == 3
    store.close()


def test_checkpoint_commits_with_its_windows(backend, url, monkeypatch):
    store = open_store(url)
    assert store.checkpoint() is None and store.inputs() == {}
    engine = {"a": np.arange(5, dtype=np.int64), "b": np.array([[1, 2]], np.int32)}
    first = {"f1": InputPosition(10, False, 100, 7), "f2": InputPosition(3, True, 30, 1_700_000_000_123_456_789)}
    store.write([window(0, [[1, 2, 3]])], LOGINS, {},
                checkpoint=Checkpoint({"size_ms": 1}, {"pos": 1, "n": np.int64(4)}, engine, first))

    def boom(stats):
        raise RuntimeError("crash after the windows")

    monkeypatch.setattr(backend.module, "stats_json", boom)
    with pytest.raises(RuntimeError):
        store.write([window(1, [[1, 2, 3]])], LOGINS, {},
                    checkpoint=Checkpoint({"size_ms": 1}, {"pos": 2}, {}, {"f1": InputPosition(20, True, 100, 7)}))
    monkeypatch.undo()
    store.close()
    store = open_store(url, readonly=True)
    got = store.checkpoint()
    assert got is not None and got.state == {"pos": 1, "n": 4} and got.config == {"size_ms": 1}
    assert set(got.engine) == {"a", "b"} and all(np.array_equal(got.engine[k], engine[k]) for k in engine)
    assert got.engine["b"].dtype == np.int32
    assert len(_bounds(store)) == 1
    assert store.inputs() == first
    assert all(type(p.done) is bool for p in store.inputs().values())
    store.close()
    # Only the positions that changed are passed; the others stay.
    with open_store(url) as again:
        again.write([], LOGINS, {}, checkpoint=Checkpoint({}, {}, {}, {"f1": InputPosition(11, True, 100, 7)}))
        assert again.inputs() == {**first, "f1": InputPosition(11, True, 100, 7)}


def test_start_over_keeps_accounts_and_ids_grow(url):
    store = open_store(url)
    store.write([window(i, [[1, 2, 3]]) for i in range(3)], LOGINS, {"events": 5},
                checkpoint=Checkpoint({}, {}, {}, {"f": InputPosition(1, True, 2, 3)}))
    store.start_over()
    assert store.checkpoint() is None and store.max_window_id() is None and store.stats()["events"] == 0
    assert store.inputs() == {} and store.stats()["windows"] == 0 and store.login_history("user1") == []
    assert store.logins() == LOGINS
    assert store.write([window(0, [[1, 2, 3]])], LOGINS, {}) == [4]
    store.close()


_OPEN_AND_REPORT = (
    "import sys; from networkpulse.store import open_store\n"
    "try:\n    open_store(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e); sys.exit(7)\n"
)


def test_a_second_writer_is_refused_at_once_readers_welcome(url):
    writer = open_store(url)
    writer.write([window(0, [[1, 2, 3]])], LOGINS, {})
    with pytest.raises(StoreBusyError, match="this process is writing this store already"):
        open_store(url)
    reader = open_store(url, readonly=True)
    assert reader.max_window_id() == 1
    reader.close()
    # Another process is refused too, and learns the writer's pid.
    other = subprocess.run([sys.executable, "-c", _OPEN_AND_REPORT, url], capture_output=True, text=True, timeout=60)
    assert other.returncode == 7 and "StoreBusyError" in other.stdout, other.stdout + other.stderr
    assert re.search(rf"another process \(pid {os.getpid()}\b[^)]*\) is writing this store", other.stdout)
    assert len(other.stdout.strip().splitlines()) == 1
    writer.close()
    open_store(url).close()  # released on close


def test_lock_dies_with_its_process(url):
    code = (
        "import sys, time; from networkpulse.store import open_store\n"
        "s = open_store(sys.argv[1])\nprint('ok', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ok"
        with pytest.raises(StoreBusyError, match=rf"another process \(pid {proc.pid}\b"):
            open_store(url)
    finally:
        proc.kill()
        proc.wait()
    open_store(url).close()  # kill -9 left no stale lock
