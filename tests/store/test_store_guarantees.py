"""Transactions, retention, schema versions, concurrent readers, login remapping and URL handling."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import networkpulse.store.sqlite as sqlite_mod
from networkpulse.errors import ConfigError, PulseError, StoreError
from networkpulse.store import open_store
from tests.store.helpers import window

LOGINS = [f"u{i}" for i in range(100)]


def _batch(first, n):
    # Two disjoint clusters per window, all vertex ids < 60.
    return [
        window(first + i, [[i % 20, 20 + i % 20, 59], [40 + i % 10, 50 + i % 4, 55, 56]]) for i in range(n)
    ]


def _count(path, table):
    with sqlite3.connect(path) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# -- all or nothing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["stats", "membership"])
def test_failed_write_leaves_nothing_visible(tmp_path, monkeypatch, where):
    path = str(tmp_path / "p.db")
    store = open_store(f"sqlite:///{path}")
    store.write(_batch(0, 3), LOGINS[:60], {"events": 1})
    before = (store.max_window_id(), store.windows(limit=100), store.stats())
    accounts = _count(path, "accounts")

    if where == "stats":  # fails after windows, clusters and membership rows were inserted

        def boom(stats):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(sqlite_mod, "_stats_json", boom)
        error = RuntimeError
    else:  # the membership insert itself fails halfway: a duplicate primary key in the middle of the batch
        real = sqlite_mod.encode_batch

        def duplicate(*args, **kw):
            b = real(*args, **kw)
            k = len(b.member_account) // 2
            b.member_account[k + 1], b.member_window[k + 1] = b.member_account[k], b.member_window[k]
            return b

        monkeypatch.setattr(sqlite_mod, "encode_batch", duplicate)
        error = StoreError  # the sqlite3.IntegrityError, said as what it means for the user
    with pytest.raises(error):
        store.write(_batch(3, 50), LOGINS, {"events": 2})  # also brings 40 new logins
    monkeypatch.undo()

    assert (store.max_window_id(), store.windows(limit=100), store.stats()) == before
    assert _count(path, "accounts") == accounts and _count(path, "clusters") == 3
    assert _count(path, "membership") == 3 * 7
    # The rolled-back logins must be mapped afresh: the next write resolves them to real accounts.
    ids = store.write([*_batch(3, 1), window(4, [[60, 70, 99]])], LOGINS, {"events": 2})
    assert ids == [4, 5]
    assert store.window(5)["cluster_list"][0]["members"] == ["u60", "u70", "u99"]
    store.close()


# -- retention ----------------------------------------------------------------------------------------------


def test_retention_keeps_newest(tmp_path):
    path = str(tmp_path / "r.db")
    store = open_store(f"sqlite:///{path}", retention=3)
    for first, n in [(0, 4), (4, 1), (5, 5)]:
        store.write(_batch(first, n), LOGINS, {})
    assert [w["id"] for w in store.windows()] == [10, 9, 8]
    assert store.stats()["windows"] == 3 and store.window(7) is None and store.cluster(7, 0) is None
    assert [h["window_id"] for h in store.login_history("u59")] == [10, 9, 8]
    assert _count(path, "clusters") == 3 and _count(path, "membership") == 3 * 7
    store.write(_batch(10, 1), LOGINS, {})
    assert store.windows_after(0)[0]["id"] == 9  # ids are never reused: a resume id stays meaningful
    store.close()


def test_retention_must_be_positive():
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ConfigError, match="retention"):
            open_store("sqlite:///:memory:", retention=bad)


# -- schema versions ----------------------------------------------------------------------------------------


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "v.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == sqlite_mod.SCHEMA_VERSION
        con.execute("PRAGMA user_version = 99")
    for readonly in (False, True):
        with pytest.raises(PulseError, match="version 99 was written by a newer networkpulse"):
            open_store(f"sqlite:///{path}", readonly=readonly)
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA user_version = 1")
    with pytest.raises(PulseError, match="too old to upgrade"):
        open_store(f"sqlite:///{path}")


def test_foreign_files_are_refused(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(PulseError, match="not a networkpulse store"):
        open_store(f"sqlite:///{other}")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(PulseError, match="not a usable networkpulse store"):
        open_store(f"sqlite:///{junk}")


# -- readers ------------------------------------------------------------------------------------------------


def test_readonly_store_sees_committed_windows_only(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/c.db"
    writer = open_store(url)
    writer.write(_batch(0, 2), LOGINS, {})
    reader = open_store(url, readonly=True)
    assert reader.max_window_id() == 2
    seen_mid_write = []
    real = sqlite_mod._stats_json

    def peek(stats):  # runs inside the writer's open transaction, after all its inserts
        seen_mid_write.append((reader.max_window_id(), reader.latest()["id"], reader.stats()["windows"]))
        return real(stats)

    monkeypatch.setattr(sqlite_mod, "_stats_json", peek)
    writer.write(_batch(2, 5), LOGINS, {})
    assert seen_mid_write == [(2, 2, 2)]
    assert reader.max_window_id() == 7 and reader.latest() == writer.latest()
    with pytest.raises(PulseError, match="readonly"):
        reader.write(_batch(0, 1), LOGINS, {})
    reader.close()
    writer.close()


def test_reader_in_another_process(tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    with open_store(url) as writer:
        writer.write(_batch(0, 3), LOGINS, {})
        code = (
            "import sys; from networkpulse.store import open_store; "
            "s = open_store(sys.argv[1], readonly=True); "
            "print(s.max_window_id(), s.latest()['cluster_list'][0]['members'][-1])"
        )
        out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["3", "u56"]


def test_threadpool_readers_see_whole_windows_while_writing(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    writer = open_store(url, retention=20)
    reader = open_store(url, readonly=True)
    writer.write(_batch(0, 1), LOGINS, {})
    stop = threading.Event()

    def read_loop():
        checked = 0
        while not stop.is_set():
            for w in reader.windows_after(0, limit=50):
                assert w["clusters"] == len(w["cluster_list"]) == 2
                checked += 1
            latest = reader.latest()
            assert len(latest["cluster_list"]) == 2
        return checked

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(read_loop) for _ in range(4)]
        for i in range(1, 60):
            writer.write(_batch(i * 3, 3), LOGINS, {})
        stop.set()
        assert all(f.result() > 0 for f in futures)
    reader.close()
    writer.close()


def test_readonly_needs_an_existing_file(tmp_path):
    with pytest.raises(PulseError, match="no networkpulse store there"):
        open_store(f"sqlite:///{tmp_path}/missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(ConfigError, match="readonly"):
        open_store("sqlite:///:memory:", readonly=True)


# -- logins across runs -------------------------------------------------------------------------------------


def test_logins_remap_across_opens_with_a_new_interner_order(tmp_path):
    url = f"sqlite:///{tmp_path}/l.db"
    with open_store(url) as first_run:
        first_run.write([window(0, [[0, 1, 2]])], ["ann", "ben", "cat", "dan"], {})
        first_run.write([window(1, [[1, 2, 3]])], ["ann", "ben", "cat", "dan"], {})
    second_order = ["dan", "eve", "cat", "ann", "fay"]  # a fresh interner: other ids, some new logins
    with open_store(url) as second_run:
        second_run.write([window(2, [[0, 1, 2, 3]])], second_order[:4], {})
        second_run.write([window(3, [[3, 4, 1]])], second_order, {})  # only "fay" is new in this call
        assert second_run.window(3)["cluster_list"][0]["members"] == ["dan", "eve", "cat", "ann"]
        assert second_run.window(4)["cluster_list"][0]["members"] == ["eve", "ann", "fay"]
        assert [h["window_id"] for h in second_run.login_history("ann")] == [4, 3, 1]
        assert [h["window_id"] for h in second_run.login_history("dan")] == [3, 2]
        with pytest.raises(PulseError, match="shrank"):
            second_run.write([], second_order[:2], {})
    assert _count(tmp_path / "l.db", "accounts") == 6


# -- URLs ---------------------------------------------------------------------------------------------------


def test_url_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///data/rel.db") as s:  # relative, parent folder created
        s.write(_batch(0, 1), LOGINS, {})
    assert (tmp_path / "data" / "rel.db").exists()
    with open_store(f"sqlite:///{tmp_path}/abs.db") as s:  # tmp_path is absolute: four slashes
        assert s.max_window_id() is None
    assert (tmp_path / "abs.db").exists()
    with open_store("sqlite:///:memory:") as s:
        assert s.write(_batch(0, 2), LOGINS, {}) == [1, 2]


@pytest.mark.parametrize(
    "url", ["postgresql://pulse:s3cret@db:5432/pulse", "postgres://h/db", "postgresql+psycopg://h/db"]
)
def test_postgres_is_not_built_yet(url):
    with pytest.raises(ConfigError, match="PostgreSQL store is not built yet") as err:
        open_store(url)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://h/db",
        "pulse.db",
        "sqlite://pulse.db",
        "sqlite:///",
        "sqlite:/x.db",
        "sqlite:///p.db?mode=ro",
        "",
    ],
)
def test_bad_urls_say_what_is_expected(url):
    with pytest.raises(ConfigError, match=r"sqlite:///relative/path\.db"):
        open_store(url)
