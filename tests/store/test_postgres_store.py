"""What only the PostgreSQL store has: the LISTEN/NOTIFY change feed, stores side by side in one database (one per
schema), schemas that do not exist, and connections the server drops."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator

import pytest

from networkpulse.errors import PulseError, StoreError
from networkpulse.store import open_store
from tests.store.conftest import POSTGRES_ENV, PostgresBackend
from tests.store.helpers import window

pytestmark = pytest.mark.postgres
LOGINS = [f"u{i}" for i in range(20)]


@pytest.fixture
def pg() -> Iterator[PostgresBackend]:
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"{POSTGRES_ENV} is unset: run `bash scripts/postgres.sh start` and export its last line")
    backend = PostgresBackend(admin_url)
    yield backend
    backend.close()


def _terminate(pg: PostgresBackend, application: str) -> int:
    """End the server sessions named ``application`` (what a server restart or an admin does to them)."""
    rows = pg._admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> pg_backend_pid()",
        (application,),
    ).fetchall()
    return len(rows)


def _terminate_writer(pg: PostgresBackend, store) -> None:
    """End the session of ``store``'s writer connection (its name is shared with this process's other writers)."""
    pid = store._con.info.backend_pid
    assert pg._admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def test_change_feed_follows_commits(pg):
    url = pg.new_url()
    writer = open_store(url)
    reader = open_store(url, readonly=True)
    assert reader.wait_for_change(5) is True  # the first call starts listening: read once before waiting
    started = time.monotonic()
    assert reader.wait_for_change(0.3) is False
    assert 0.25 < time.monotonic() - started < 3
    writer.write([window(0, [[1, 2, 3]])], LOGINS, {})
    assert reader.wait_for_change(5) is True and reader.max_window_id() == 1
    # Several commits while nobody waits: queued, then consumed by one True (one read covers them all).
    for i in range(1, 4):
        writer.write([window(i, [[1, 2, 3]])], LOGINS, {})
    assert reader.wait_for_change(5) is True and reader.max_window_id() == 4
    assert reader.wait_for_change(0.2) is False
    # A write that changes no window (a replay of stored bounds) and a rolled-back write notify nobody.
    writer.write([window(0, [[1, 2, 3]])], LOGINS, {})
    with pytest.raises(PulseError, match="outside the logins table"):
        writer.write([window(9, [[1, 2, 99]])], LOGINS, {})  # vertex 99 has no login: refused, rolled back
    assert reader.wait_for_change(0.5) is False
    writer.start_over()
    assert reader.wait_for_change(5) is True and reader.max_window_id() is None
    reader.close()
    writer.close()


def test_change_feed_wakes_a_waiting_thread_at_commit(pg):
    url = pg.new_url()
    writer = open_store(url)
    reader = open_store(url, readonly=True)
    reader.wait_for_change(0)
    woke: list[float] = []

    def wait() -> None:
        if reader.wait_for_change(30):
            woke.append(time.monotonic())

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.5)  # the thread is blocked in wait_for_change now
    committed = time.monotonic()
    writer.write([window(0, [[1, 2, 3]])], LOGINS, {})
    committed = (committed + time.monotonic()) / 2
    thread.join(30)
    assert woke and woke[0] - committed < 1.0, "the waiting reader was not woken by the commit"
    reader.close()
    writer.close()


def test_close_ends_a_wait(pg):
    url = pg.new_url()
    open_store(url).close()
    reader = open_store(url, readonly=True)
    reader.wait_for_change(0)
    ended: list[float] = []
    thread = threading.Thread(target=lambda: ended.append(reader.wait_for_change(30) and time.monotonic()))
    thread.start()
    time.sleep(0.5)
    closed = time.monotonic()
    reader.close()  # what a server shutting down does
    thread.join(30)
    assert ended and ended[0] - closed < 2.0, "close() left the waiting thread blocked"
    with pytest.raises(StoreError, match="closed"):
        reader.wait_for_change(0)


def test_notification_payload_names_store_and_newest_id(pg):
    import psycopg

    url = pg.new_url()
    with open_store(url) as writer, psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True) as listener:
        listener.execute("LISTEN pulse_windows")
        writer.write([window(0, [[1, 2, 3]]), window(1, [[1, 2, 3]])], LOGINS, {})
        ours: list[dict[str, object]] = []
        deadline = time.monotonic() + 10
        while not ours and time.monotonic() < deadline:  # other stores on the server notify the channel too
            notes = [json.loads(n.payload) for n in listener.notifies(timeout=1, stop_after=1)]
            ours += [n for n in notes if n["schema"] == writer.schema]
    assert ours == [{"schema": writer.schema, "max_window_id": 2}]


def test_stores_in_two_schemas_are_independent(pg):
    first, second = pg.new_url(), pg.new_url()
    a, b = open_store(first), open_store(second)  # one writer each: the lock is per store, not per database
    a_reader = open_store(first, readonly=True)
    a_reader.wait_for_change(0)
    b.write([window(0, [[1, 2, 3]])], ["x", "y", "z", "w"], {})
    assert a_reader.wait_for_change(0.5) is False  # the other store's commit is not ours
    a.write([window(5, [[1, 2, 3]])], LOGINS, {})
    assert a_reader.wait_for_change(5) is True
    assert [w["start_ms"] for w in a_reader.windows()] == [window(5, []).start_ms]
    assert b.latest()["cluster_list"][0]["members"] == ["y", "z", "w"]
    for store in (a, b, a_reader):
        store.close()


def test_a_schema_that_does_not_exist_is_refused(pg):
    url = pg.new_url().replace("pulse_test_", "pulse_missing_")
    for readonly in (False, True):
        with pytest.raises(StoreError, match=r"no schema to keep the store in.*CREATE SCHEMA") as raised:
            open_store(url, readonly=readonly)
        assert "\n" not in str(raised.value)


def test_dropped_connections_cost_one_call(pg):
    url = pg.new_url()
    with open_store(url) as writer:
        writer.write([window(0, [[1, 2, 3]])], LOGINS, {})
    reader = open_store(url, readonly=True)
    assert reader.max_window_id() == 1 and reader.wait_for_change(0) is True
    assert _terminate(pg, f"networkpulse change feed ({reader.schema})") == 1
    assert reader.wait_for_change(5) is True  # the listener was lost: anything may have changed
    assert reader.wait_for_change(5) is True  # and this call listens again
    assert reader.wait_for_change(0.2) is False
    assert _terminate(pg, f"networkpulse reader ({reader.schema})") == 1
    with pytest.raises(StoreError, match="reading the store failed"):
        reader.max_window_id()
    assert reader.max_window_id() == 1  # a new connection
    reader.close()


def test_a_writer_whose_session_ends_loses_the_store(pg):
    url = pg.new_url()
    writer = open_store(url)
    writer.write([window(0, [[1, 2, 3]])], LOGINS, {})
    _terminate_writer(pg, writer)
    with pytest.raises(StoreError, match="writing windows failed, nothing of this batch was stored"):
        writer.write([window(1, [[1, 2, 3]])], LOGINS, {})
    with open_store(url) as successor:  # the lock went with the session
        assert successor.write([window(1, [[1, 2, 3]])], LOGINS, {}) == [2]
    writer.close()
