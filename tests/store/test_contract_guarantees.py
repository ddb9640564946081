"""Contract: transactions, retention, schema versions, foreign data, concurrent readers and login remapping, on
SQLite and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from networkpulse.errors import ConfigError, PulseError, StoreError
from networkpulse.store import open_store
from tests.store.helpers import window

LOGINS = [f"u{i}" for i in range(100)]


def _batch(first, n):
    # Two disjoint clusters per window, all vertex ids < 60.
    return [
        window(first + i, [[i % 20, 20 + i % 20, 59], [40 + i % 10, 50 + i % 4, 55, 56]]) for i in range(n)
    ]


# -- all or nothing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["stats", "membership"])
def test_failed_write_leaves_nothing_visible(backend, url, monkeypatch, where):
    store = open_store(url)
    store.write(_batch(0, 3), LOGINS[:60], {"events": 1})
    before = (store.max_window_id(), store.windows(limit=100), store.stats())
    accounts = backend.count(url, "accounts")

    if where == "stats":  # fails after windows, clusters and membership rows were inserted

        def boom(stats):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(backend.module, "stats_json", boom)
        error = RuntimeError
    else:  # the membership insert itself fails halfway: a duplicate primary key in the middle of the batch
        real = backend.module.encode_batch

        def duplicate(*args, **kw):
            b = real(*args, **kw)
            k = len(b.member_account) // 2
            b.member_account[k + 1], b.member_window[k + 1] = b.member_account[k], b.member_window[k]
            return b

        monkeypatch.setattr(backend.module, "encode_batch", duplicate)
        error = StoreError  # the database's integrity error, said as what it means for the user
    with pytest.raises(error) as raised:
        store.write(_batch(3, 50), LOGINS, {"events": 2})  # also brings 40 new logins
    monkeypatch.undo()
    if error is StoreError:
        assert "nothing of this batch was stored" in str(raised.value) and "\n" not in str(raised.value)

    assert (store.max_window_id(), store.windows(limit=100), store.stats()) == before
    assert backend.count(url, "accounts") == accounts and backend.count(url, "clusters") == 3
    assert backend.count(url, "membership") == 3 * 7
    # The rolled-back logins must be mapped afresh, and the rolled-back ids handed out again.
    ids = store.write([*_batch(3, 1), window(4, [[60, 70, 99]])], LOGINS, {"events": 2})
    assert ids == [4, 5]
    assert store.window(5)["cluster_list"][0]["members"] == ["u60", "u70", "u99"]
    store.close()


# -- retention ----------------------------------------------------------------------------------------------


def test_retention_keeps_newest(backend, url):
    store = open_store(url, retention=3)
    for first, n in [(0, 4), (4, 1), (5, 5)]:
        store.write(_batch(first, n), LOGINS, {})
    assert [w["id"] for w in store.windows()] == [10, 9, 8]
    assert store.stats()["windows"] == 3 and store.window(7) is None and store.cluster(7, 0) is None
    assert [h["window_id"] for h in store.login_history("u59")] == [10, 9, 8]
    assert backend.count(url, "clusters") == 3 and backend.count(url, "membership") == 3 * 7
    store.write(_batch(10, 1), LOGINS, {})
    assert store.windows_after(0)[0]["id"] == 9  # ids are never reused: a resume id stays meaningful
    store.close()


def test_retention_must_be_positive(url):
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ConfigError, match="retention"):
            open_store(url, retention=bad)


# -- schema versions and foreign data -----------------------------------------------------------------------


def test_newer_and_unknown_older_versions_are_refused(backend, url):
    open_store(url).close()
    assert backend.version(url) == backend.module.SCHEMA_VERSION
    backend.set_version(url, 99)
    for readonly in (False, True):
        with pytest.raises(StoreError, match="version 99 was written by a newer networkpulse"):
            open_store(url, readonly=readonly)
    backend.set_version(url, backend.unmigratable_version)
    with pytest.raises(StoreError, match="too old to upgrade"):
        open_store(url)


def test_another_applications_data_is_refused_and_left_untouched(backend, url):
    backend.make_foreign(url)
    before = backend.fingerprint(url)
    for readonly in (False, True):
        with pytest.raises(StoreError, match="not a networkpulse store") as raised:
            open_store(url, readonly=readonly)
        assert "\n" not in str(raised.value)
    assert backend.fingerprint(url) == before  # not even a journal mode, lock file or table of ours


def test_readonly_never_creates_a_store(backend, url):
    with pytest.raises(StoreError, match="networkpulse store") as raised:
        open_store(url, readonly=True)
    assert "run the pipeline first" in str(raised.value)
    assert not backend.exists(url)
    open_store(url).close()  # the writer creates it
    with open_store(url, readonly=True) as reader:
        assert reader.max_window_id() is None and reader.stats()["windows"] == 0


# -- readers ------------------------------------------------------------------------------------------------


def test_readonly_store_sees_committed_windows_only(backend, url, monkeypatch):
    writer = open_store(url)
    writer.write(_batch(0, 2), LOGINS, {})
    reader = open_store(url, readonly=True)
    assert reader.max_window_id() == 2
    seen_mid_write = []
    real = backend.module.stats_json

    def peek(stats):  # runs inside the writer's open transaction, after all its inserts
        seen_mid_write.append((reader.max_window_id(), reader.latest()["id"], reader.stats()["windows"]))
        # The writing store's own read methods never share its write transaction either.
        seen_mid_write.append((writer.max_window_id(), writer.latest()["id"], len(writer.windows_after(0))))
        return real(stats)

    monkeypatch.setattr(backend.module, "stats_json", peek)
    writer.write(_batch(2, 5), LOGINS, {})
    assert seen_mid_write == [(2, 2, 2), (2, 2, 2)]
    assert reader.max_window_id() == 7 and reader.latest() == writer.latest()
    with pytest.raises(PulseError, match="readonly"):
        reader.write(_batch(0, 1), LOGINS, {})
    with pytest.raises(PulseError, match="readonly"):
        reader.start_over()
    reader.close()
    writer.close()


def test_reader_in_another_process(url):
    with open_store(url) as writer:
        writer.write(_batch(0, 3), LOGINS, {})
        code = (
            "import sys; from networkpulse.store import open_store; "
            "s = open_store(sys.argv[1], readonly=True); "
            "print(s.max_window_id(), s.latest()['cluster_list'][0]['members'][-1])"
        )
        out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["3", "u56"]


def test_threadpool_readers_see_whole_windows_while_writing(url):
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
            history = reader.login_history("u59", limit=5)
            assert all(h["size"] == 3 for h in history)
        return checked

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(read_loop) for _ in range(4)]
        for i in range(1, 60):
            writer.write(_batch(i * 3, 3), LOGINS, {})
        stop.set()
        assert all(f.result() > 0 for f in futures)
    reader.close()
    writer.close()


def test_closed_store_refuses_reads_and_writes(url):
    store = open_store(url)
    store.close()
    store.close()  # idempotent
    for call in (store.max_window_id, store.latest, lambda: store.write([], LOGINS, {})):
        with pytest.raises(StoreError, match="closed"):
            call()


# -- logins across runs -------------------------------------------------------------------------------------


def test_logins_remap_across_opens_with_a_new_interner_order(backend, url):
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
        # New accounts are numbered in interner order, so logins() rebuilds an interner that continues.
        assert second_run.logins() == ["ann", "ben", "cat", "dan", "eve", "fay"]
    assert backend.count(url, "accounts") == 6
