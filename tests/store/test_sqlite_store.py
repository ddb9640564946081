"""What only the SQLite store has: files and folders, ``:memory:``, the v2 migration, bytes that are not SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

import networkpulse.store.sqlite as sqlite_mod
from networkpulse.errors import ConfigError, PulseError, StoreError
from networkpulse.store import open_store
from tests.store.helpers import MINUTE, T0, window

LOGINS = [f"u{i}" for i in range(60)]
V2_SCHEMA = Path(__file__).with_name("schema_v2.sql")


def test_url_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///data/rel.db") as s:  # relative, parent folder created
        s.write([window(0, [[1, 2, 3]])], LOGINS, {})
    assert (tmp_path / "data" / "rel.db").exists()
    with open_store(f"sqlite:///{tmp_path}/abs.db") as s:  # tmp_path is absolute: four slashes
        assert s.max_window_id() is None
    assert (tmp_path / "abs.db").exists()
    with open_store("sqlite:///:memory:") as s:
        assert s.write([window(0, [[1, 2, 3]]), window(1, [[1, 2, 3]])], LOGINS, {}) == [1, 2]
        assert s.latest()["id"] == 2


def test_memory_cannot_be_read_only(tmp_path):
    with pytest.raises(ConfigError, match="readonly"):
        open_store("sqlite:///:memory:", readonly=True)
    with pytest.raises(PulseError, match="no networkpulse store there"):
        open_store(f"sqlite:///{tmp_path}/missing.db", readonly=True)


def test_bytes_that_are_not_sqlite_are_refused(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(PulseError, match="not a usable networkpulse store"):
        open_store(f"sqlite:///{junk}")


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
    bounds = [(w["start_ms"], w["provisional"]) for w in store.windows_after(0)]
    assert bounds == [(T0 + i * MINUTE, False) for i in range(3)]
    assert store.stats() == {**store.stats(), "events": 10, "windows": 3}
    assert [h["window_id"] for h in store.login_history("b")] == [5, 2, 1]
    assert store.window(1)["cluster_list"][0]["members"] == ["a", "b", "c"]
    # Window 0 is stored already; ids go on after the largest ever used.
    assert store.write([window(0, [[0, 1, 2]]), window(9, [[0, 1, 2]])], ["a", "b", "c"], {}) == [6]
    store.close()
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == sqlite_mod.SCHEMA_VERSION
        assert con.execute("SELECT count(*) FROM membership").fetchone()[0] == 4 * 3
