"""Store reads off the event loop, on threads that each own one read-only store handle.

Why not ``run_in_threadpool``: SQLite connections belong to the thread that opened them, and the default pool
hands a job to any of its 40 threads. Here a few dedicated threads each open their own handle once and serve
jobs from one queue, so reads run in parallel, never block the event loop, and each handle is closed by the
thread that owns it.

The server may start before the pipeline has created the database (``pulse demo`` starts both at once): a
handle is opened lazily and, until that succeeds, every read returns the caller's "empty store" answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from networkpulse.errors import ConfigError, PulseError
from networkpulse.store.base import Store

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Errors meaning "the database is not there (yet)": missing file, no schema yet, locked while created.
_NOT_READY = (PulseError, OSError, sqlite3.OperationalError, sqlite3.DatabaseError)


@dataclass(slots=True)
class _Job:
    fn: Callable[[Store], Any]
    empty: Any
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _open(url: str) -> Store:
    # Imported late: the store package is a sibling stage and must not be needed to import the web app.
    from networkpulse.store import open_store

    return open_store(url, readonly=True)


class StoreReader:
    """Runs ``fn(store)`` on one of ``workers`` threads; ``await reader.call(fn, empty)``.

    Threads start on the first call (so an app used without its lifespan, e.g. by a test client, still works)
    and stop on :meth:`close`; a later call starts them again (an app's lifespan may run more than once).
    """

    def __init__(self, url: str, *, workers: int = 4, name: str = "pulse-read") -> None:
        check_url(url)
        self._url = url
        self._workers = workers
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    async def call(self, fn: Callable[[Store], T], empty: T) -> T:
        """Return ``fn(store)`` computed on a reader thread, or ``empty`` while the store cannot be opened."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._start()
            self._jobs.put(_Job(fn, empty, future, loop))
        return await future

    def close(self, timeout: float = 5.0) -> None:
        """Stop the threads after the jobs already queued; each closes its own store handle."""
        with self._lock:
            # Old threads drain the old queue; calls from now on go to a new queue and new threads.
            threads, self._threads = self._threads, []
            jobs, self._jobs = self._jobs, queue.SimpleQueue()
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join(timeout)

    def _start(self) -> None:
        """Start the missing worker threads; called with ``_lock`` held."""
        while len(self._threads) < self._workers:
            # Daemon: a read stuck in SQLite must not keep the process alive after shutdown.
            name = f"{self._name}-{len(self._threads)}"
            thread = threading.Thread(target=self._work, args=(self._jobs,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        store: Store | None = None
        while (job := jobs.get()) is not None:
            if job.future.cancelled():  # the client went away while the job waited
                continue
            if store is None:
                store = self._try_open()
            ok, result = True, job.empty
            if store is not None:
                try:
                    result = job.fn(store)
                except _NOT_READY as exc:
                    if _is_missing_schema(exc):
                        # The writer has created the file but not its tables yet: empty for now, reopen later.
                        _close_quietly(store)
                        store = None
                    else:
                        ok, result = False, exc
                except Exception as exc:
                    ok, result = False, exc
            job.loop.call_soon_threadsafe(_settle, job.future, ok, result)
        _close_quietly(store)

    def _try_open(self) -> Store | None:
        try:
            return _open(self._url)
        except _NOT_READY as exc:
            log.debug("store %s not readable yet: %s", self._url, exc)
            return None


def check_url(url: str) -> None:
    """Raise now for a store that can never work: :class:`ConfigError` for the URL, the store's
    :class:`PulseError` for a file that is not a networkpulse store (random bytes, another application's
    SQLite database, a newer schema). A file that does not exist *yet*, or that the pipeline is creating
    (``pulse demo`` starts the server beside it), is fine: reads answer "empty" until it is there.

    Without this a typo in the URL, or the wrong file, would look like a store that stays empty forever.
    """
    for attempt in range(2):
        try:
            _close_quietly(_open(url))
            return
        except ConfigError:
            raise
        except PulseError:
            if _being_created(url):
                return
            # Opening raced the writer's creating transaction (it can fail on a half-seen file) and the file
            # is complete by now: a second open decides.
            if attempt:
                raise
        except _NOT_READY:
            return


def _being_created(url: str) -> bool:
    """Whether the SQLite file of ``url`` (a URL ``open_store`` accepted) may still become a store.

    Decided from the file, not from the store's error message: missing, empty, or a SQLite database with no
    schema and no version yet (the writer creates both in one transaction; read here in one statement, so in
    one snapshot), or locked by that writer. Other stores (no file to look at) get the benefit of the doubt.
    """
    scheme, _, rest = url.partition("://")
    if scheme.lower() != "sqlite":
        return True
    path = rest[1:]
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return True
    try:
        con = sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=5)
        try:
            version, objects = con.execute(
                "SELECT user_version, (SELECT count(*) FROM sqlite_schema) FROM pragma_user_version"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return version == 0 and objects == 0


def _is_missing_schema(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "no such table" in text or "no such column" in text


def _close_quietly(store: Store | None) -> None:
    if store is not None:
        try:
            store.close()
        except Exception:  # closing is best effort; the handle is dropped either way
            log.debug("closing store handle failed", exc_info=True)


def _settle(future: asyncio.Future[Any], ok: bool, result: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(result)
    else:
        future.set_exception(result)
