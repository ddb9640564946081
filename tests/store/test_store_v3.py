"""Schema v3: natural window keys (idempotent writes), provisional windows, checkpoints, the v2 migration, one
writer, and a foreign file left untouched."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import networkpulse.store.sqlite as sqlite_mod
from networkpulse.errors import StoreBusyError, StoreError
from networkpulse.store import Checkpoint, InputPosition, open_store
from tests.store.helpers import MINUTE, T0, window

LOGINS = [f"user{i}" for i in range(60)]
V2_SCHEMA = Path(__file__).with_name("schema_v2.sql")


def _bounds(store) -> list[tuple[int, int, bool]]:
    return [(w["start_ms"], w["end_ms"], w["provisional"]) for w in store.windows_after(0, limit=1000)]


def test_rewriting_a_window_is_a_no_op(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/k.db")
    first = [window(i, [[i, i + 1, i + 2]]) for i in range(5)]
    assert store.write(first, LOGINS, {}) == [1, 2, 3, 4, 5]
    again = [window(i, [[i + 10, i + 11, i + 12, i + 13]]) for i in range(3, 8)]  # 3 and 4 are stored already
    assert store.write(again, LOGINS, {}) == [6, 7, 8]
    details = store.windows_after(0, limit=100, max_clusters=5)
    assert [d["start_ms"] for d in details] == sorted({w.start_ms for w in first + again})
    assert details[3]["cluster_list"][0]["members"] == ["user3", "user4", "user5"]  # the first write won
    assert store.stats()["windows"] == 8
    store.close()


def test_provisional_windows_are_replaced_by_the_next_write(tmp_path):
    url = f"sqlite:///{tmp_path}/p.db"
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
    with sqlite3.connect(tmp_path / "p.db") as con:
        assert con.execute("SELECT count(*) FROM membership").fetchone()[0] == 3 + 4 + 4
    store.close()


def test_checkpoint_commits_with_its_windows(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/c.db"
    store = open_store(url)
    assert store.checkpoint() is None
    engine = {"a": np.arange(5, dtype=np.int64), "b": np.array([[1, 2]], np.int32)}
    first = {"f1": InputPosition(10, False, 100, 7), "f2": InputPosition(3, True, 30, 8)}
    store.write([window(0, [[1, 2, 3]])], LOGINS, {},
                checkpoint=Checkpoint({"size_ms": 1}, {"pos": 1}, engine, first))

    def boom(stats):
        raise RuntimeError("crash after the windows")

    monkeypatch.setattr(sqlite_mod, "_stats_json", boom)
    with pytest.raises(RuntimeError):
        store.write([window(1, [[1, 2, 3]])], LOGINS, {},
                    checkpoint=Checkpoint({"size_ms": 1}, {"pos": 2}, {}, {"f1": InputPosition(20, True, 100, 7)}))
    monkeypatch.undo()
    store.close()
    store = open_store(url, readonly=True)
    got = store.checkpoint()
    assert got is not None and got.state == {"pos": 1} and got.config == {"size_ms": 1}
    assert set(got.engine) == {"a", "b"} and all(np.array_equal(got.engine[k], engine[k]) for k in engine)
    assert len(_bounds(store)) == 1
    assert store.inputs() == first
    store.close()


def test_start_over_keeps_accounts_and_ids_grow(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    store.write([window(i, [[1, 2, 3]]) for i in range(3)], LOGINS, {"events": 5},
                checkpoint=Checkpoint({}, {}, {}))
    store.start_over()
    assert store.checkpoint() is None and store.max_window_id() is None and store.stats()["events"] == 0
    assert store.logins() == LOGINS
    assert store.write([window(0, [[1, 2, 3]])], LOGINS, {}) == [4]
    store.close()


def _v2_store(path: Path) -> None:
    """A store as networkpulse 0.1 (schema v2) wrote it, with the copies its reruns appended."""
    with sqlite3.connect(path) as con:
        con.executescript(V2_SCHEMA.read_text())
        con.execute(f"PRAGMA application_id = {sqlite_mod.APPLICATION_ID}")
        con.execute("PRAGMA user_version = 2")
        con.executemany("INSERT INTO accounts (id, login) VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
        members = np.array([1, 2, 3], "<i4").tobytes()
        for wid, i in [(1, 0), (2, 1), (3, 0), (4, 1), (5, 2)]:  # 3 and 4 are copies of 1 and 2
            start = T0 + i * MINUTE
            con.execute("INSERT INTO windows VALUES (?,?,?,10,5,3,2,1,3,0,1)", (wid, start, start + 10 * MINUTE))
            con.execute("INSERT INTO clusters VALUES (?,?,?,?)",
                        (wid, np.array([3], "<i4").tobytes(), members, np.array([0, 1, 1, 2], "<u2").tobytes()))
            con.executemany("INSERT INTO membership VALUES (?,?,0)", [(a, wid) for a in (1, 2, 3)])
        con.execute("""INSERT INTO stats VALUES (1, '{"events": 10, "windows": 5}')""")


def test_v2_store_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    _v2_store(path)
    with pytest.raises(StoreError, match=r"older networkpulse.*pulse run"):
        open_store(f"sqlite:///{path}", readonly=True)  # a reader never rewrites a file
    store = open_store(f"sqlite:///{path}")
    assert [(s, p) for s, _, p in _bounds(store)] == [(T0 + i * MINUTE, False) for i in range(3)]
    assert store.stats() == {**store.stats(), "events": 10, "windows": 3}
    assert [h["window_id"] for h in store.login_history("b")] == [5, 2, 1]
    assert store.window(1)["cluster_list"][0]["members"] == ["a", "b", "c"]
    # Window 0 is stored already; ids go on after the largest ever used.
    assert store.write([window(0, [[0, 1, 2]]), window(9, [[0, 1, 2]])], ["a", "b", "c"], {}) == [6]
    store.close()
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == sqlite_mod.SCHEMA_VERSION
        assert con.execute("SELECT count(*) FROM membership").fetchone()[0] == 4 * 3


def test_a_second_writer_is_refused_at_once_readers_welcome(tmp_path):
    url = f"sqlite:///{tmp_path}/one.db"
    writer = open_store(url)
    writer.write([window(0, [[1, 2, 3]])], LOGINS, {})
    with pytest.raises(StoreBusyError, match="is writing this store already"):
        open_store(url)
    reader = open_store(url, readonly=True)
    assert reader.max_window_id() == 1
    reader.close()
    # Another process is refused too, and learns the writer's pid.
    code = (
        "import sys; from networkpulse.store import open_store\n"
        "try:\n    open_store(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e); sys.exit(7)\n"
    )
    other = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, timeout=60)
    assert other.returncode == 7 and "StoreBusyError" in other.stdout, other.stdout + other.stderr
    assert f"another process (pid {os.getpid()}) is writing this store" in other.stdout
    writer.close()
    open_store(url).close()  # released on close


def test_lock_dies_with_its_process(tmp_path):
    url = f"sqlite:///{tmp_path}/k9.db"
    code = (
        "import sys, time; from networkpulse.store import open_store\n"
        "s = open_store(sys.argv[1])\nprint('ok', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ok"
        with pytest.raises(StoreBusyError):
            open_store(url)
    finally:
        proc.kill()
        proc.wait()
    open_store(url).close()


def test_foreign_sqlite_file_is_not_touched(tmp_path):
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
        con.execute("INSERT INTO t VALUES (1)")
    before = hashlib.sha256(other.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="not a networkpulse store"):
        open_store(f"sqlite:///{other}")
    assert hashlib.sha256(other.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]  # no -wal, -shm or lock file either
