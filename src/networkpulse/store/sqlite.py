"""The embedded SQLite store: batched transactional writes, snapshot-consistent reads from any thread/process.

Concurrency model
-----------------
* **One writer** per file: :meth:`SQLiteStore.write` runs ``BEGIN IMMEDIATE … COMMIT`` on the store's own
  connection, so a batch of windows becomes visible completely or not at all (WAL mode).
* **Readers** never share the writer's connection: each thread that calls a read method gets its own read-only
  connection (``mode=ro``), created on first use — the server may call read methods from a threadpool freely.
  Each read method runs inside one read transaction, i.e. one WAL snapshot, so a window and its clusters
  always come from the same commit even while retention deletes old windows concurrently.
* A ``readonly`` store (the web server, in another process) has no writer connection at all.
* ``:memory:`` has no file to share, so there all access goes through the one connection under a lock.

Costs (n windows stored, M members in a batch): ``write`` is O(M) numpy plus O(R log n) b-tree inserts for the
R membership runs (:mod:`~networkpulse.store.member_runs`, ~M/9 on a sliding replay) in one transaction;
``max_window_id`` is O(log n); a window's details are O(log n + its members).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from networkpulse.analytics import WindowAnalytics
from networkpulse.engine.types import Window
from networkpulse.errors import ConfigError, StoreBusyError, StoreError
from networkpulse.store import lives, member_runs
from networkpulse.store.base import Checkpoint
from networkpulse.store.codec import (
    STATS_DEFAULTS,
    WINDOW_COLUMNS,
    Json,
    LoginCache,
    decode_arrays,
    encode_arrays,
    encode_batch,
    history_entries,
    plain_json,
    stats_json,
)

SCHEMA_VERSION = 5
APPLICATION_ID = 0x4E50554C  # "NPUL": tells our files apart from any other SQLite database
_BUSY_TIMEOUT_S = 10.0
_NOT_OURS = "a SQLite database, but not a networkpulse store; use another file"


class SQLiteStore(lives.LivesReads):
    """A :class:`~networkpulse.store.base.Store` on one SQLite file or ``:memory:`` (see module doc)."""

    #: SQLite tells no one of commits: the change feed is the caller's poll (:meth:`wait_for_change`).
    notifies = False

    def __init__(self, path: str, *, retention: int | None = None, readonly: bool = False) -> None:
        self.path = path
        self._memory = path == ":memory:"
        self._retention = retention
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        # account_of[vertex id] = store account id, valid for the first _mapped vertex ids (advanced on
        # commit).
        self._account_of: npt.NDArray[np.int32] = np.empty(0, np.int32)
        self._mapped = 0
        self._login_cache = LoginCache()
        self._con: sqlite3.Connection | None = None
        self._writer_lock: int | None = None
        self._count = 0  # windows stored (the writer keeps it: retention and stats need it, count(*) scans)
        if not readonly:
            if not self._memory:
                if os.path.dirname(path):
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                self._refuse_foreign()  # before anything touches the file: not even WAL mode
                self._writer_lock = _lock_writer(path)
            try:
                self._con = self._open_writer()
            except BaseException:
                self._release_writer_lock()
                raise
            self._count = self._con.execute("SELECT count(*) FROM windows").fetchone()[0]
            return
        if self._memory:
            raise ConfigError(
                "store URL",
                "a file for a readonly store",
                "sqlite:///:memory:",
                "A readonly store reads a file another process writes; use sqlite:///path.db",
            )
        if not os.path.exists(path):
            raise StoreError(
                f"{path}: no networkpulse store there; run the pipeline first (it creates the file) "
                "or fix the store URL"
            )
        # One snapshot for the version, application id and tables: read in separate statements, a writer creating
        # the file between them made a store look foreign.
        with self._wrap_errors(), self._snapshot() as con:
            version = self._check_version(con, readonly=True)
        if version == 0:
            raise StoreError(f"{path}: not a networkpulse store yet (empty file, no schema)")

    # -- connections ---------------------------------------------------------------------------------------

    def _connect(self, target: str, *, uri: bool = False) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so the transaction bounds are exactly ours.
        try:
            return sqlite3.connect(
                target, uri=uri, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_S
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store ({exc})") from exc

    @contextmanager
    def _wrap_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable networkpulse store ({exc})") from exc

    def _refuse_foreign(self) -> None:
        """Read the header of an existing file through a read-only connection and refuse a file that is not
        ours, before the writer connection changes anything in it (journal mode, header, schema)."""
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return
        con = self._connect(f"file:{urllib.parse.quote(os.path.abspath(self.path))}?mode=ro", uri=True)
        try:
            with self._wrap_errors():
                con.execute("BEGIN")  # one snapshot, as for readers
                self._check_version(con)
        finally:
            con.close()

    def _open_writer(self) -> sqlite3.Connection:
        con = self._connect(self.path)
        try:
            with self._wrap_errors():
                con.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
                con.execute(
                    "PRAGMA synchronous=NORMAL"
                )  # WAL + NORMAL: durable except on power loss, ~no fsyncs
                con.execute("PRAGMA cache_size=-65536")  # 64 MiB keeps the membership b-tree's hot pages
                self._migrate(con)
        except BaseException:
            con.close()
            raise
        return con

    def _check_version(self, con: sqlite3.Connection, *, readonly: bool = False) -> int:
        """The file's schema version (0: empty). Refuses other applications' files and newer versions; an
        older version is refused only ``readonly`` (the writer migrates it)."""
        version: int = con.execute("PRAGMA user_version").fetchone()[0]
        app: int = con.execute("PRAGMA application_id").fetchone()[0]
        if version == 0:
            if con.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]:
                raise StoreError(f"{self.path}: {_NOT_OURS}")
            return 0
        if app != APPLICATION_ID:
            raise StoreError(f"{self.path}: {_NOT_OURS}")
        if version < SCHEMA_VERSION and readonly and version not in _MIGRATIONS:
            raise StoreError(
                f"{self.path}: store schema version {version} was written by an older networkpulse; this one "
                f"reads version {SCHEMA_VERSION} and has no migration for it. Use a new store file"
            )
        if version < SCHEMA_VERSION and readonly:
            raise StoreError(
                f"{self.path}: store schema version {version} was written by an older networkpulse; this one "
                f"reads version {SCHEMA_VERSION}. `pulse run --store …` on it upgrades it in place"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: store schema version {version} was written by a newer networkpulse; this one "
                f"reads version {SCHEMA_VERSION}. Upgrade networkpulse, or use another store file"
            )
        return version

    def _migrate(self, con: sqlite3.Connection) -> None:
        # IMMEDIATE: two processes creating the same file serialise here, and the loser sees the new version.
        con.execute("BEGIN IMMEDIATE")
        try:
            version = self._check_version(con)
            if version == 0:
                script = resources.files("networkpulse.store").joinpath("schema.sql").read_text("utf-8")
                _run_script(con, script)
                con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            elif version < SCHEMA_VERSION:
                if version not in _MIGRATIONS:
                    raise StoreError(
                        f"{self.path}: store schema version {version} is too old to upgrade; use a new store file"
                    )
                for step in range(version, SCHEMA_VERSION):
                    _run_script(con, _MIGRATIONS[step])
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        if self._memory:
            assert self._con is not None
            return self._con
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            path = os.path.abspath(self.path)
            # A WAL database needs its -shm file even to read; on a read-only filesystem (or folder) nobody can
            # be writing it, so read it as immutable: no locks, no -shm.
            mode = "ro" if os.access(os.path.dirname(path), os.W_OK) else "ro&immutable=1"
            con = self._connect(f"file:{urllib.parse.quote(path)}?mode={mode}", uri=True)
            with self._lock:
                self._readers.append(con)
            self._local.con = con
        return con

    @contextmanager
    def _snapshot(self, *, atomic: bool = True) -> Iterator[sqlite3.Connection]:
        """This thread's read connection; with ``atomic``, inside one read transaction (one WAL snapshot)."""
        if self._memory:
            with self._lock:  # write() holds the same lock, so a read never sees half a batch
                yield self._reader()
            return
        con = self._reader()
        if not atomic:
            yield con
            return
        con.execute("BEGIN")
        try:
            yield con
        finally:
            con.execute("ROLLBACK")  # a read transaction: ending it only releases the snapshot

    def wait_for_change(self, timeout_s: float) -> bool:
        """No notifications in SQLite: sleep ``timeout_s`` (the caller's poll interval) and say "maybe"."""
        time.sleep(max(0.0, timeout_s))
        return True

    def close(self) -> None:
        """Close the writer and every reader connection this store opened (from any thread). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for con in self._readers:
                con.close()
            if self._con is not None:
                with suppress(sqlite3.Error):  # a full disk must not hide the error that ended the run
                    self._con.execute("PRAGMA optimize")  # keeps the query planner's statistics fresh, cheaply
                self._con.close()
            self._release_writer_lock()

    def _release_writer_lock(self) -> None:
        if self._writer_lock is not None:
            _WRITING.pop(os.path.realpath(self.path), None)
            os.close(self._writer_lock)  # closing the descriptor releases the lock
            self._writer_lock = None

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- write path ----------------------------------------------------------------------------------------

    def write(
        self,
        windows: Sequence[Window],
        logins: Sequence[str],
        stats: Mapping[str, Any],
        *,
        checkpoint: Checkpoint | None = None,
        provisional: Sequence[Window] = (),
        analytics: Sequence[WindowAnalytics | None] | None = None,
    ) -> list[int]:
        """Persist ``windows`` (final) and ``provisional`` in one transaction; see ``Store.write``.

        Batch as many windows per call as the pipeline has ready: the per-call cost (a transaction and WAL
        commit) dwarfs the per-window cost. O(L + M log n) for L new logins and M cluster members in the
        batch, plus one index probe per window for the natural-key check.
        """
        if self._con is None:
            raise StoreError(f"{self.path}: this store was opened readonly; the pipeline process writes it")
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            con = self._con
            try:
                con.execute("BEGIN IMMEDIATE")
                try:
                    ids = self._write(con, windows, logins, stats, checkpoint, provisional, analytics)
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    self._count = con.execute("SELECT count(*) FROM windows").fetchone()[0]
                    raise
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{self.path}: writing windows failed, nothing of this batch was stored ({exc})"
                ) from exc
            # Only now is the mapping of the new logins durable; before, a rollback would have undone it.
            self._mapped = len(logins)
        return ids

    def _write(
        self,
        con: sqlite3.Connection,
        windows: Sequence[Window],
        logins: Sequence[str],
        stats: Mapping[str, Any],
        checkpoint: Checkpoint | None,
        provisional: Sequence[Window],
        analytics: Sequence[WindowAnalytics | None] | None = None,
    ) -> list[int]:
        account_of = self._map_logins(con, logins)
        self._count -= self._delete(con, "provisional = 1")
        final = self._new(con, windows)
        batch_windows = [*final, *provisional]
        row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'windows'").fetchone()
        first = (row[0] if row else 0) + 1
        batch = encode_batch(batch_windows, first, account_of, provisional_from=len(final))
        notes = lives.encode(batch_windows, lives.notes_for(windows, provisional, analytics, batch_windows), first)
        con.executemany("INSERT INTO analytics (window_id, data) VALUES (?, ?)", notes.rows)
        con.executemany("INSERT INTO lives (cluster_id, window_id, rank, event) VALUES (?, ?, ?, ?)", notes.lives)
        con.executemany(
            f"INSERT INTO windows ({WINDOW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            batch.window_rows,
        )
        con.executemany(
            "INSERT INTO clusters (window_id, sizes, members, edges) VALUES (?,?,?,?)",
            batch.cluster_rows,
        )
        con.executemany(member_runs.INSERT, member_runs.runs(batch.member_account, batch.member_window))
        self._count += len(batch_windows)
        if self._retention is not None and self._count > self._retention:
            self._count -= self._trim(con, self._count - self._retention)
        if checkpoint is not None:
            con.executemany(
                "INSERT OR REPLACE INTO inputs (source, line, done, size, mtime_ns) VALUES (?, ?, ?, ?, ?)",
                [(source, *position) for source, position in checkpoint.inputs.items()],
            )
            con.execute(
                "INSERT INTO checkpoint (id, config, state, engine) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                "SET config = excluded.config, state = excluded.state, engine = excluded.engine",
                (json.dumps(checkpoint.config), json.dumps(checkpoint.state, default=plain_json),
                 encode_arrays(checkpoint.engine)),
            )
        con.execute(
            "INSERT INTO stats (id, json) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json",
            (stats_json({**stats, "windows": self._count}),),
        )
        return list(range(first, first + len(batch_windows)))

    def _new(self, con: sqlite3.Connection, windows: Sequence[Window]) -> list[Window]:
        """The windows whose bounds are not stored yet (the natural key makes writes idempotent). One index
        range scan over the batch's span."""
        if not windows:
            return []
        stored = set(
            con.execute(
                "SELECT start_ms, end_ms FROM windows WHERE start_ms BETWEEN ? AND ?",
                (min(w.start_ms for w in windows), max(w.start_ms for w in windows)),
            ).fetchall()
        )
        fresh: list[Window] = []
        for w in windows:
            if (w.start_ms, w.end_ms) not in stored:
                stored.add((w.start_ms, w.end_ms))
                fresh.append(w)
        return fresh

    def _map_logins(self, con: sqlite3.Connection, logins: Sequence[str]) -> npt.NDArray[np.int32]:
        """Store account ids of every engine vertex id; inserts only logins past the already-mapped prefix.

        The DB may know a login from an earlier run (another interner order), hence INSERT OR IGNORE and a
        join back through a temporary table (binding keeps any character, unlike a JSON round trip). O(L log A)
        for L new logins among A accounts.
        """
        n, done = len(logins), self._mapped
        if n < done:
            raise StoreError(
                f"store write: the logins table shrank from {done} to {n} entries; pass the "
                "interner's whole append-only table (a new interner needs a new store object)"
            )
        if n > len(self._account_of):
            grown = np.empty(max(n, 2 * len(self._account_of)), np.int32)  # doubling: amortised O(1) per login
            grown[:done] = self._account_of[:done]
            self._account_of = grown
        if n > done:
            con.execute("CREATE TEMP TABLE IF NOT EXISTS new_logins (pos INTEGER PRIMARY KEY, login TEXT NOT NULL)")
            con.execute("DELETE FROM new_logins")
            con.executemany("INSERT INTO new_logins (pos, login) VALUES (?, ?)", enumerate(logins[done:n], done))
            con.execute("INSERT OR IGNORE INTO accounts (login) SELECT login FROM new_logins ORDER BY pos")
            rows = con.execute(
                "SELECT a.id FROM new_logins n JOIN accounts a ON a.login = n.login ORDER BY n.pos"
            ).fetchall()
            if len(rows) != n - done:
                raise StoreError(f"{self.path}: could not map {n - done - len(rows)} new logins to accounts")
            self._account_of[done:n] = [r[0] for r in rows]
        return self._account_of[:n]

    def _delete(self, con: sqlite3.Connection, where: str, params: Sequence[Any] = ()) -> int:
        """Delete the windows matching ``where`` with their clusters, analytics and membership runs; how many
        went. O(D log n) for D deleted windows and lives rows, plus the membership runs they touch
        (:func:`member_runs.delete`: one range delete per stretch of consecutive ids).
        """
        ids = [i for (i,) in con.execute(f"SELECT id FROM windows WHERE {where}", params)]
        if not ids:
            return 0
        lo, hi = min(ids), max(ids)
        wanted = set(ids)
        member_runs.delete(con, ids)  # before the clusters: it reads their members
        con.executemany("DELETE FROM clusters WHERE window_id = ?", ((i,) for i in ids))
        blobs = [(w, b) for w, b in con.execute(
            "SELECT window_id, data FROM analytics WHERE window_id BETWEEN ? AND ?", (lo, hi)) if w in wanted]
        if blobs:
            con.executemany("DELETE FROM lives WHERE cluster_id = ? AND window_id = ?", lives.life_keys(blobs))
            con.executemany("DELETE FROM analytics WHERE window_id = ?", ((w,) for w, _ in blobs))
        con.executemany("DELETE FROM windows WHERE id = ?", ((i,) for i in ids))
        return len(ids)

    def _trim(self, con: sqlite3.Connection, n: int) -> int:
        """Retention: delete the ``n`` oldest windows (lowest ids). O(n log n + their lives rows + the membership
        runs that end in them)."""
        row = con.execute("SELECT id FROM windows ORDER BY id LIMIT 1 OFFSET ?", (n - 1,)).fetchone()
        return self._delete(con, "id <= ?", (row[0],)) if row else 0

    def checkpoint(self) -> Checkpoint | None:
        """The last committed checkpoint, or None (a new store, or one written before checkpoints)."""
        with self._snapshot() as con:
            row = con.execute("SELECT config, state, engine FROM checkpoint WHERE id = 1").fetchone()
        if row is None:
            return None
        return Checkpoint(json.loads(row[0]), json.loads(row[1]), decode_arrays(row[2]))

    def start_over(self) -> None:
        """Delete every window, checkpoint and stat in one transaction; accounts stay (ids keep their meaning
        for readers that cache them), window ids keep growing (a live client's resume id stays meaningful)."""
        if self._con is None:
            raise StoreError(f"{self.path}: this store was opened readonly")
        with self._lock:
            con = self._con
            con.execute("BEGIN IMMEDIATE")
            try:
                for table in ("member_runs", "clusters", "analytics", "lives", "windows", "checkpoint", "stats",
                              "inputs"):
                    con.execute(f"DELETE FROM {table}")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            self._count = 0

    # -- read model (shapes of docs/api.md) ----------------------------------------------------------------

    def stats(self) -> Json:
        """``Stats``: the last stored pipeline stats (zeros before any write); ``windows`` is the number stored,
        kept by the writer in the same transaction (``count(*)`` would scan the table on every poll)."""
        with self._snapshot() as con:
            row = con.execute("SELECT json FROM stats WHERE id = 1").fetchone()
        return {**STATS_DEFAULTS, "dropped": {}, **(json.loads(row[0]) if row else {})}

    def _rows(self, con: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return con.execute(sql, params).fetchall()

    def _accounts(self, con: sqlite3.Connection, login: str) -> list[int]:
        return [a for (a,) in con.execute("SELECT id FROM accounts WHERE login = ? COLLATE NOCASE", (login,))]

    def login_history(self, login: str, *, limit: int = 100) -> list[Json]:
        """``HistoryEntry`` list for ``login`` (case-insensitive), newest first; [] if never in a cluster.

        From the membership runs (:func:`member_runs.hits`): one backward scan of the login's runs, one query for
        the windows. O(log R + limit × window members).
        """
        with self._snapshot() as con:
            found = member_runs.hits(con, self._accounts(con, login), max(0, limit))
            return history_entries(found, lambda arrays: self._logins(con, arrays))

    def _memberships(self, con: Any, login: str, limit: int) -> list[tuple[int, int, int]]:
        """``(window_id, rank, account_id)`` of the login's newest ``limit`` memberships, newest first."""
        found = member_runs.hits(con, self._accounts(con, login), limit)
        return sorted(((w, rank, a) for w, a, _, _, rank, *_ in found), reverse=True)[:limit]

    def _logins(self, con: sqlite3.Connection, member_arrays: list[npt.NDArray[np.int32]]) -> dict[int, str]:
        """Logins of every account in ``member_arrays``, from the cache or one query. O(unique members)."""
        return self._login_cache.lookup(
            member_arrays,
            lambda missing: con.execute(
                "SELECT id, login FROM accounts WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(missing),)
            ),
        )


#: Schema upgrades: ``_MIGRATIONS[v]`` turns version ``v`` into ``v + 1`` (run inside the opening transaction).
_MIGRATIONS = {
    # v3: natural window keys, provisional windows, checkpoints. v2 reruns appended copies of windows: keep the
    # first of each, drop the copies' clusters and membership rows, then the key can be unique.
    2: """
    ALTER TABLE windows ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;
    CREATE TEMP TABLE copies AS SELECT id FROM windows w
      WHERE id > (SELECT min(id) FROM windows f WHERE f.start_ms = w.start_ms AND f.end_ms = w.end_ms);
    DELETE FROM membership WHERE window_id IN (SELECT id FROM copies);
    DELETE FROM clusters WHERE window_id IN (SELECT id FROM copies);
    DELETE FROM windows WHERE id IN (SELECT id FROM copies);
    DROP TABLE copies;
    CREATE UNIQUE INDEX windows_bounds ON windows (start_ms, end_ms);
    CREATE INDEX windows_provisional ON windows (id) WHERE provisional = 1;
    CREATE TABLE checkpoint (
      id INTEGER PRIMARY KEY CHECK (id = 1), config TEXT NOT NULL, state TEXT NOT NULL, engine BLOB NOT NULL
    );
    CREATE TABLE inputs (
      source TEXT PRIMARY KEY, line INTEGER NOT NULL, done INTEGER NOT NULL, size INTEGER NOT NULL,
      mtime_ns INTEGER NOT NULL
    ) WITHOUT ROWID;
    UPDATE stats SET json = json_set(json, '$.windows', (SELECT count(*) FROM windows));
    """,
    # v4: clusters with a life (lives.py). Windows stored before have no annotations: they read as clusters
    # without an id, and the next run's lineage starts with every cluster born.
    3: """
    CREATE TABLE analytics (window_id INTEGER PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE lives (
      cluster_id INTEGER NOT NULL, window_id INTEGER NOT NULL, rank INTEGER NOT NULL, event INTEGER NOT NULL,
      PRIMARY KEY (cluster_id, window_id)
    ) WITHOUT ROWID;
    """,
    # v5: membership as runs of consecutive windows (member_runs.py), a view for the old per-row shape.
    4: member_runs.MIGRATION_V5,
}


def _run_script(con: sqlite3.Connection, script: str) -> None:
    """Run SQL statements one by one inside the caller's transaction (``executescript`` would COMMIT first)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            con.execute(statement)
            statement = ""


def _lock_writer(path: str) -> int:
    """Take the store's writer lock (``<path>.lock``, a POSIX record lock) or refuse at once.

    The kernel drops the lock when the process dies, however it dies, so a killed run never leaves a stale lock;
    record locks are not inherited by forked children (parsing workers). Returns the descriptor to close.
    """
    lock_path = f"{path}.lock"
    if os.path.realpath(path) in _WRITING:  # record locks never conflict within one process
        raise StoreBusyError(f"{path}: this process is writing this store already; one writer per store")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreError(f"{lock_path}: cannot create the store's writer lock ({exc.strerror})") from exc
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StoreBusyError(
            f"{path}: another process (pid {holder}) is writing this store; one writer per store. Wait for it to "
            "finish or stop it (`pulse serve` can read the store meanwhile), or write to another --store"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _WRITING[os.path.realpath(path)] = fd
    return fd


#: Stores this process holds the writer lock of (real path → lock descriptor).
_WRITING: dict[str, int] = {}
