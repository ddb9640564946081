"""The SQLite membership runs (store/member_runs.py): runs, deletes and the v4 → v5 migration give exactly the
per-(account, window) rows of before, and login history reads them as before."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networkpulse.store import member_runs, open_store
from networkpulse.store.sqlite import SCHEMA_VERSION
from tests.store.helpers import window

_TABLES = """
CREATE TABLE windows (id INTEGER PRIMARY KEY);
CREATE TABLE clusters (window_id INTEGER PRIMARY KEY, members BLOB NOT NULL);
CREATE TABLE member_runs (account_id INTEGER NOT NULL, last_id INTEGER NOT NULL, first_id INTEGER NOT NULL,
  PRIMARY KEY (account_id, last_id)) WITHOUT ROWID;
""" + member_runs.VIEW


def _rows(con: sqlite3.Connection) -> set[tuple[int, int]]:
    rows = con.execute("SELECT account_id, window_id FROM membership").fetchall()
    assert len(rows) == len(set(rows)), "a membership twice"
    return set(rows)


pairs = st.sets(st.tuples(st.integers(0, 6), st.integers(1, 700)), max_size=300)
#: long stretches of consecutive windows per account, as sliding windows give
stretches = st.lists(st.tuples(st.integers(0, 6), st.integers(1, 700), st.integers(1, 400)), max_size=4)


@settings(max_examples=200, deadline=None)
@given(pairs, stretches, st.integers(0, 700), st.integers(1, 701),
       st.lists(st.tuples(st.integers(1, 700), st.integers(0, 300)), max_size=2))
def test_runs_then_deletes_keep_exactly_the_memberships(members, long, cut, tail, middle):
    """A retention cut (ids <= cut), then a dropped provisional tail (ids >= tail), then stretches in the middle
    leave exactly the memberships of the windows left."""
    members = members | {(a, w) for a, lo, n in long for w in range(lo, lo + n) if w <= 700}
    con = sqlite3.connect(":memory:")
    con.executescript(_TABLES)
    con.executemany("INSERT INTO windows VALUES (?)", [(w,) for w in range(1, 701)])
    in_window: dict[int, list[int]] = {}
    for a, w in sorted(members):
        in_window.setdefault(w, []).append(a)
    con.executemany("INSERT INTO clusters VALUES (?, ?)",
                    [(w, np.array(accounts, "<i4").tobytes()) for w, accounts in in_window.items()])
    ordered = sorted(members)
    acc = np.array([a for a, _ in ordered], np.int32)
    win = np.array([w for _, w in ordered], np.int64)
    con.executemany(member_runs.INSERT, member_runs.runs(acc, win))
    assert _rows(con) == members
    left = set(range(1, 701))
    for gone in [range(1, cut + 1), range(tail, 701), *(range(lo, lo + n) for lo, n in middle)]:
        ids = sorted(left & set(gone))
        member_runs.delete(con, ids)
        con.executemany("DELETE FROM windows WHERE id = ?", [(w,) for w in ids])
        con.executemany("DELETE FROM clusters WHERE window_id = ?", [(w,) for w in ids])
        left -= set(ids)
        assert _rows(con) == {(a, w) for a, w in members if w in left}


def test_a_repeated_or_unsorted_membership_is_an_integrity_error():
    for acc, win in (([1, 1], [5, 5]), ([2, 1], [5, 5])):
        with pytest.raises(sqlite3.IntegrityError):
            member_runs.runs(np.array(acc, np.int32), np.array(win, np.int64))


def test_runs_are_few_on_sliding_windows(tmp_path):
    # one cluster in 10 consecutive windows: one run per member, not ten rows
    url = f"sqlite:///{tmp_path}/s.db"
    with open_store(url) as store:
        store.write([window(i, [[1, 2, 3]]) for i in range(10)], [f"u{i}" for i in range(5)], {})
    with sqlite3.connect(tmp_path / "s.db") as con:
        assert con.execute("SELECT count(*) FROM member_runs").fetchone()[0] == 3
        assert con.execute("SELECT count(*) FROM membership").fetchone()[0] == 30


def test_a_v4_store_is_migrated_to_runs(tmp_path):
    path = tmp_path / "v4.db"
    logins = [f"u{i}" for i in range(6)]
    # ranks differ between windows: 'u5' is in the largest cluster of window 2 only
    windows = [window(0, [[1, 2, 3], [4, 5]]), window(1, [[1, 2, 3]]), window(2, [[5, 0, 4, 2], [1, 3]]),
               window(4, [[1, 2, 3]])]
    with open_store(f"sqlite:///{path}") as store:
        store.write(windows, logins, {})
        expected = {login: store.login_history(login) for login in logins}
    with sqlite3.connect(path) as con:  # the v4 layout: one row per (account, window) with its rank
        con.execute("CREATE TABLE m (account_id INTEGER NOT NULL, window_id INTEGER NOT NULL, rank INTEGER NOT "
                    "NULL, PRIMARY KEY (account_id, window_id)) WITHOUT ROWID")
        con.execute("INSERT INTO m SELECT account_id, window_id, 0 FROM membership")
        rows = con.execute("SELECT * FROM m ORDER BY 1, 2").fetchall()
        con.execute("DROP VIEW membership")
        con.execute("DROP TABLE member_runs")
        con.execute("ALTER TABLE m RENAME TO membership")
        con.execute("PRAGMA user_version = 4")
    with open_store(f"sqlite:///{path}") as store:
        assert {login: store.login_history(login) for login in logins} == expected
        assert [(h["window_id"], h["rank"]) for h in expected["u5"]] == [(3, 0), (1, 1)]
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        got = con.execute("SELECT account_id, window_id, 0 FROM membership ORDER BY 1, 2").fetchall()
        assert got == rows and len(rows) == 3 + 2 + 3 + 4 + 2 + 3


def test_retention_cuts_runs_and_history_follows(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    logins = [f"u{i}" for i in range(4)]
    with open_store(url, retention=4) as store:
        store.write([window(i, [[1, 2, 3]]) for i in range(6)], logins, {})  # trims windows 1, 2 in the write
        assert [h["window_id"] for h in store.login_history("u1")] == [6, 5, 4, 3]
        store.write([window(6, [[0, 1, 2]])], logins, {}, provisional=[window(7, [[1, 2, 3]])])
        store.write([window(7, [[0, 2, 3]])], logins, {})  # replaces the provisional window 8
        assert [h["window_id"] for h in store.login_history("u1")] == [7, 6, 5]  # 2 more trimmed, 8 replaced
        assert [h["window_id"] for h in store.login_history("u3", limit=2)] == [9, 6]
    with sqlite3.connect(tmp_path / "r.db") as con:
        got = con.execute("SELECT account_id, window_id FROM membership ORDER BY 2, 1").fetchall()
    assert {w for _, w in got} == {5, 6, 7, 9} and len(got) == 12
