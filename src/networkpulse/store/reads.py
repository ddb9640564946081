"""The read model of ``docs/api.md`` over the stored rows, written once for both stores.

A backend subclasses :class:`ReadModel` and provides four hooks: ``_snapshot(atomic=True)`` (a read
transaction; ``atomic=False`` for single statements polled often), ``_rows(con, sql, params)`` (``?``
placeholders, blobs as bytes), ``_accounts(con, login)`` (the account ids of a login, case-insensitively, as the
backend compares) and ``_logins(con, member arrays)`` (account id → login, cached). The SQL here is the dialect
both SQLite and PostgreSQL read the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import numpy.typing as npt

from networkpulse.store.base import InputPosition
from networkpulse.store.codec import (
    WINDOW_COLUMNS,
    Json,
    StoredClusters,
    cluster_json,
    history_entries,
    window_details,
    window_summary,
)

_NO_UPPER_ID = 2**63 - 1


class ReadModel:
    """Windows, clusters, login histories, input positions: every read but the backend-specific ``stats`` and
    ``checkpoint`` (their documents are stored as each backend stores JSON)."""

    _snapshot: Callable[..., AbstractContextManager[Any]]

    def _rows(self, con: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _accounts(self, con: Any, login: str) -> list[int]:
        raise NotImplementedError

    def _logins(self, con: Any, member_arrays: list[npt.NDArray[np.int32]]) -> dict[int, str]:
        raise NotImplementedError

    def inputs(self) -> dict[str, InputPosition]:
        """How far every source was consumed (see :class:`~networkpulse.store.base.Checkpoint`). O(sources)."""
        with self._snapshot() as con:
            rows = self._rows(con, "SELECT source, line, done, size, mtime_ns FROM inputs", ())
        return {source: InputPosition(line, bool(done), size, mtime) for source, line, done, size, mtime in rows}

    def logins(self) -> list[str]:
        """Every account's login, in account-id order. O(A)."""
        with self._snapshot() as con:
            return [login for (login,) in self._rows(con, "SELECT login FROM accounts ORDER BY id", ())]

    def max_window_id(self) -> int | None:
        """Newest window id, or None if empty. O(log n): one index descent, no transaction (polled often)."""
        with self._snapshot(atomic=False) as con:
            rows = self._rows(con, "SELECT max(id) FROM windows", ())
        return rows[0][0] if rows else None

    def windows(self, *, limit: int = 50, before: int | None = None) -> list[Json]:
        """``WindowSummary`` list, newest first, ids < ``before``. O(log n + limit)."""
        with self._snapshot(atomic=False) as con:
            rows = self._rows(con, f"SELECT {WINDOW_COLUMNS} FROM windows WHERE id < ? ORDER BY id DESC LIMIT ?",
                              (_NO_UPPER_ID if before is None else before, max(0, limit)))
        return [window_summary(r) for r in rows]

    def window(self, window_id: int, *, max_clusters: int = 50) -> Json | None:
        """``WindowDetail`` of one window, or None. O(log n + members of its first ``max_clusters``)."""
        with self._snapshot() as con:
            rows = self._rows(con, f"SELECT {WINDOW_COLUMNS} FROM windows WHERE id = ?", (window_id,))
            details = self._details(con, rows, max_clusters)
        return details[0] if details else None

    def latest(self, *, max_clusters: int = 50) -> Json | None:
        """``WindowDetail`` of the newest window, or None if the store is empty."""
        with self._snapshot() as con:
            rows = self._rows(con, f"SELECT {WINDOW_COLUMNS} FROM windows ORDER BY id DESC LIMIT 1", ())
            details = self._details(con, rows, max_clusters)
        return details[0] if details else None

    def windows_after(self, window_id: int, *, limit: int = 100, max_clusters: int = 20) -> list[Json]:
        """``WindowDetail`` list of windows with id > ``window_id``, ascending (live-feed catch-up).

        Three queries whatever ``limit``: windows, their clusters, their logins.
        """
        with self._snapshot() as con:
            rows = self._rows(con, f"SELECT {WINDOW_COLUMNS} FROM windows WHERE id > ? ORDER BY id LIMIT ?",
                              (window_id, max(0, limit)))
            return self._details(con, rows, max_clusters)

    def cluster(self, window_id: int, rank: int) -> Json | None:
        """``ClusterDetail``, or None if that window or rank is not stored. O(log n + size)."""
        with self._snapshot() as con:
            w = self._rows(con, f"SELECT {WINDOW_COLUMNS} FROM windows WHERE id = ?", (window_id,))
            row = self._rows(con, "SELECT sizes, members, edges FROM clusters WHERE window_id = ?", (window_id,))
            if not w or not row:
                return None
            stored = StoredClusters.decode(*row[0])
            if not 0 <= rank < len(stored):
                return None
            members, edges = stored.cluster(rank)
            login_of = self._logins(con, [members])
        return {**cluster_json(rank, members, edges, login_of), "window": window_summary(w[0])}

    def login_history(self, login: str, *, limit: int = 100) -> list[Json]:
        """``HistoryEntry`` list for ``login`` (case-insensitive, as ``_accounts`` compares), newest first; [] if
        never in a cluster.

        One backward index range scan per account matching the login (normally one). O(log n + limit × cluster
        size).
        """
        limit = max(0, limit)
        with self._snapshot() as con:
            accounts = self._accounts(con, login)
            hits: list[tuple[Any, ...]] = []
            for account in accounts:
                hits += self._rows(
                    con,
                    "SELECT m.window_id, m.account_id, w.start_ms, w.end_ms, m.rank, c.sizes, c.members, c.edges "
                    "FROM membership m JOIN windows w ON w.id = m.window_id "
                    "JOIN clusters c ON c.window_id = m.window_id "
                    "WHERE m.account_id = ? ORDER BY m.window_id DESC LIMIT ?",
                    (account, limit),
                )
            hits = sorted(hits, reverse=True)[:limit] if len(accounts) > 1 else hits
            return history_entries(hits, lambda arrays: self._logins(con, arrays))

    def _details(self, con: Any, rows: list[Any], max_clusters: int) -> list[Json]:
        """``WindowDetail`` for window rows with consecutive ids: one clusters query, one logins query."""
        if not rows:
            return []
        ids = [r[0] for r in rows]
        clusters = self._rows(con, "SELECT window_id, sizes, members, edges FROM clusters WHERE window_id BETWEEN ? "
                                   "AND ?", (min(ids), max(ids)))
        return window_details(rows, clusters, max_clusters, lambda arrays: self._logins(con, arrays))
