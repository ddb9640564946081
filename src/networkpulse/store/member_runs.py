"""The SQLite store's membership index as *runs*: one row per run of consecutive windows an account was in a
stored cluster of, instead of one row per (account, window).

Why: with sliding windows (W/S = 10) an account that is in a cluster stays in it for ~10 consecutive windows, so
on the GH Archive replay of ``benchmarks/end_to_end.py`` the per-(account, window) rows were 9.6× the runs
(157,684 rows, 16,378 runs over 609 windows). Each row was a random insert into a b-tree keyed by account, ~5 µs
apiece once the table outgrew the page cache: 21.5 % of the end-to-end CPU time (py-spy, 121 loops, 1.9 M rows),
the largest single cost of the run. Runs cut the rows ~9× and retention deletes them by window-id range instead
of one key at a time.

Layout (schema v5): ``member_runs (account_id, last_id, first_id)``, primary key ``(account_id, last_id)`` for
"which windows was this login in, newest first". No second index: measured here, an index on ``last_id`` made each
insert 1.6× as dear (7.8 vs 4.9 µs a row, CPU), and the deletes find their runs from the dropped windows' member
blobs instead, one primary-key seek per member account. The store deletes windows at two ends only:

- retention drops the oldest windows: the runs that end in them are deleted; a run that started in them and goes
  on is left as it is and read from the oldest stored window on (window ids are never reused, so the ids before
  it name nothing);
- a write first drops the provisional windows, the newest ones: the runs that end in them are deleted, and those
  that began before them are cut short.

The rank of the account's cluster is not stored: it is where the account sits in the window's member blob (found
when read, one vectorised scan of that window's members). A view ``membership (account_id, window_id)`` expands
the runs for ad-hoc SQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from networkpulse.store.codec import MEMBER_DTYPE

INSERT = "INSERT INTO member_runs (account_id, last_id, first_id) VALUES (?, ?, ?)"


def runs(accounts: npt.NDArray[np.int32], windows: npt.NDArray[np.int64]) -> list[tuple[int, int, int]]:
    """``(account_id, last_id, first_id)`` rows of the memberships ``(accounts[i], windows[i])``, which must be
    sorted by (account, window) without repeats (:func:`~networkpulse.store.codec.encode_batch` sorts them).

    Raises :class:`sqlite3.IntegrityError` (the store reports it as a failed write) for a repeated or unsorted
    pair: one account twice in one window is an engine bug that per-row primary keys used to catch. O(M) numpy
    for M memberships, then O(runs) to build the rows.
    """
    n = len(accounts)
    if not n:
        return []
    acc = accounts.astype(np.int64)
    win = windows.astype(np.int64)
    keys = (acc << 32) | win
    if not bool(np.all(keys[1:] > keys[:-1])):
        raise sqlite3.IntegrityError("UNIQUE constraint failed: an account is twice in one window (engine bug)")
    new = np.empty(n, np.bool_)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1] + 1, out=new[1:])  # another account, or a gap in window ids
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n) - 1
    return list(zip(acc[starts].tolist(), win[ends].tolist(), win[starts].tolist(), strict=True))


def delete(con: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Remove the windows ``ids`` (still in ``windows`` and ``clusters``) from every run, per stretch of consecutive
    ids, finding the runs from the members of the stretch's windows: a stretch that starts at the oldest stored
    window deletes the runs that end in it (the rest read from the oldest window left on); any other stretch also
    cuts the runs that meet it and go on past it, or began before it. O(A log R) for A member accounts of the
    dropped windows among R runs."""
    if not ids:
        return
    oldest = con.execute("SELECT min(id) FROM windows").fetchone()[0]
    sorted_ids = np.unique(np.asarray(ids, np.int64))
    for stretch in np.split(sorted_ids, np.flatnonzero(np.diff(sorted_ids) != 1) + 1):
        lo, hi = int(stretch[0]), int(stretch[-1])
        blobs = [b for (b,) in con.execute("SELECT members FROM clusters WHERE window_id BETWEEN ? AND ?", (lo, hi))]
        if not blobs:
            continue
        accounts = np.unique(np.concatenate([np.frombuffer(b, MEMBER_DTYPE) for b in blobs])).tolist()
        if lo <= oldest:
            con.executemany("DELETE FROM member_runs WHERE account_id = ? AND last_id BETWEEN ? AND ?",
                            [(a, lo, hi) for a in accounts])
            continue
        met = [row for a in accounts for row in con.execute(
            "SELECT account_id, last_id, first_id FROM member_runs WHERE account_id = ? AND last_id >= ? "
            "AND first_id <= ?", (a, lo, hi))]
        con.executemany("DELETE FROM member_runs WHERE account_id = ? AND last_id = ?", [(a, e) for a, e, _ in met])
        kept = [(a, lo - 1, first) for a, _, first in met if first < lo]
        kept += [(a, last, hi + 1) for a, last, _ in met if last > hi]
        con.executemany(INSERT, kept)


def hits(con: sqlite3.Connection, accounts: Iterable[int], limit: int) -> list[tuple[Any, ...]]:
    """Membership hits ``(window_id, account_id, start_ms, end_ms, rank, sizes, members, edges)`` of the newest
    ``limit`` windows any of ``accounts`` was in, newest first (ties: higher account id first), as the old
    per-row index answered them. Per account: one backward scan of its runs until ``limit`` window ids, then
    one query for those windows and their clusters. O(log R + limit × window members)."""
    wanted: list[tuple[int, int]] = []
    oldest = con.execute("SELECT min(id) FROM windows").fetchone()[0] or 0  # retention may have cut runs' heads
    for account in accounts:
        got = 0
        for last, first in con.execute(
            "SELECT last_id, first_id FROM member_runs WHERE account_id = ? AND last_id >= ? ORDER BY last_id DESC",
            (account, oldest),
        ):
            take = min(last - max(first, oldest) + 1, limit - got)
            wanted += [(w, account) for w in range(last, last - take, -1)]
            got += take
            if got >= limit:
                break
    wanted = sorted(wanted, reverse=True)[:limit]
    if not wanted:
        return []
    ids = json.dumps(sorted({w for w, _ in wanted}))
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT w.id, w.start_ms, w.end_ms, c.sizes, c.members, c.edges FROM windows w "
            "JOIN clusters c ON c.window_id = w.id WHERE w.id IN (SELECT value FROM json_each(?))",
            (ids,),
        )
    }
    out: list[tuple[Any, ...]] = []
    for wid, account in wanted:
        row = rows.get(wid)
        if row is None:
            continue
        start_ms, end_ms, sizes, members, edges = row
        rank = rank_of(account, sizes, members)
        if rank is not None:
            out.append((wid, account, start_ms, end_ms, rank, sizes, members, edges))
    return out


def rank_of(account: int, sizes: bytes, members: bytes) -> int | None:
    """Rank of the cluster holding ``account`` in a window's stored blobs, or None. O(window members)."""
    at = np.flatnonzero(np.frombuffer(members, MEMBER_DTYPE) == account)
    if not len(at):
        return None
    ends = np.cumsum(np.frombuffer(sizes, MEMBER_DTYPE), dtype=np.int64)
    return int(np.searchsorted(ends, int(at[0]), side="right"))


#: The old per-(account, window) rows, expanded from the runs from the oldest stored window on.
VIEW = """
CREATE VIEW membership (account_id, window_id) AS
  WITH RECURSIVE expanded (account_id, window_id, last_id) AS (
    SELECT account_id, max(first_id, coalesce((SELECT min(id) FROM windows), 0)), last_id FROM member_runs
      WHERE last_id >= coalesce((SELECT min(id) FROM windows), 0)
    UNION ALL
    SELECT account_id, window_id + 1, last_id FROM expanded WHERE window_id < last_id
  ) SELECT account_id, window_id FROM expanded;
"""

#: Schema v4 → v5: per-row membership becomes runs (islands of consecutive window ids per account), then the view
#: keeps ``membership`` readable for ad-hoc SQL.
MIGRATION_V5 = """
CREATE TABLE member_runs (
  account_id INTEGER NOT NULL, last_id INTEGER NOT NULL, first_id INTEGER NOT NULL,
  PRIMARY KEY (account_id, last_id)
) WITHOUT ROWID;
INSERT INTO member_runs (account_id, last_id, first_id)
  SELECT account_id, max(window_id), min(window_id) FROM (
    SELECT account_id, window_id,
           window_id - row_number() OVER (PARTITION BY account_id ORDER BY window_id) AS island
    FROM membership)
  GROUP BY account_id, island;
DROP TABLE membership;
""" + VIEW
