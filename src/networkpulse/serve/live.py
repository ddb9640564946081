"""The live feed: one poller per app reads each new window once, encodes it once, and fans it out.

Every WebSocket client has a small bounded queue. The poller only ever *offers* a frame to a queue and never
waits on a client, so a stalled client cannot slow the poller or anyone else. A queue holds at most
``queue_frames`` frames and :data:`QUEUE_BYTES` of them: frames are shared by every client with the same
``max_clusters``, but a client asking for a rare ``max_clusters`` has frames of its own, and 64 frames of 200
clusters would be megabytes. What else a connection may hold is bounded in :mod:`networkpulse.serve.server`.

A client whose queue is full enters *dropping* mode: every frame is skipped and counted until the client has
drained its queue; then it receives ``{"type": "dropped", "count": N, "resume_from": FIRST_SKIPPED_ID}`` and
live frames again. Dropping until fully caught up (rather than as soon as one slot frees) gives one notice per
stall instead of an alternating drop/deliver trickle.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from networkpulse.serve.lives import with_lives
from networkpulse.serve.reader import StoreReader
from networkpulse.store.base import Store

log = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode

#: Windows read from the store per query when replaying for ``since`` (one client, paced by its socket).
PAGE = 100
#: Windows the poller reads and fans out at a time: well under a queue's capacity, so that after a burst
#: commit (the pipeline batches hundreds of windows per transaction when replaying history) healthy clients
#: drain their queues while the next page is read, and only clients that really cannot keep up drop frames.
LIVE_PAGE = 16
#: Longest wait on a store that notifies (PostgreSQL) before reading ``max_window_id`` anyway: a store replaced
#: underneath (ids going back) is noticed within this, with no query in between.
LISTEN_WAIT_S = 1.0
#: Bytes of frames one client's queue may hold (one frame always fits, however large). Frames of the
#: default 20 clusters are ~5-25 KB, so this holds more than a LIVE_PAGE burst of them; together with the
#: kernel's send buffer a healthy client absorbs a burst commit without dropping.
QUEUE_BYTES = 512 * 1024
#: Trim the C heap once this many clients left and none left for TRIM_QUIET_S (the burst is over). What a
#: connection used is freed when it ends, but glibc keeps freed heap pages: measured in one process, 500
#: never-reading clients that then left, the server kept 29 MB of the 30 MB they had cost; malloc_trim(0) gave
#: 10 MB back in ~3 ms. The rest is Python's arenas, still partly used, and reused by the next clients.
TRIM_AFTER_DEPARTURES = 64
TRIM_QUIET_S = 1.0


def _frame(kind: str, **fields: Any) -> str:
    return _encode({"type": kind, **fields}).decode()


class Subscriber:
    """One client's bounded queue of encoded frames; fed by the poller, drained by the client's sender."""

    __slots__ = (
        "_bytes", "_frames", "_wakeup", "capacity", "capacity_bytes", "closed", "drop_count", "drop_first",
        "max_clusters", "start_id",
    )  # fmt: skip

    def __init__(self, max_clusters: int, capacity: int, start_id: int, capacity_bytes: int = QUEUE_BYTES) -> None:
        self.max_clusters = max_clusters
        self.capacity = capacity
        self.capacity_bytes = capacity_bytes
        #: The last window id published when this client subscribed: its live frames all come after it.
        self.start_id = start_id
        self.drop_count = 0
        self.drop_first: int | None = None
        self.closed = False
        self._frames: deque[tuple[int, str]] = deque()
        self._bytes = 0  # len() of the queued frames: ASCII JSON, so characters are bytes
        self._wakeup = asyncio.Event()

    def offer(self, window_id: int, frame: str) -> bool:
        """Queue ``frame`` (True) or, if the client is behind, count it as dropped (False). Never blocks."""
        full = len(self._frames) >= self.capacity or (
            bool(self._frames) and self._bytes + len(frame) > self.capacity_bytes
        )
        if self.drop_first is not None or full:
            if self.drop_first is None:
                self.drop_first = window_id
            self.drop_count += 1
            self._wakeup.set()
            return False
        self._frames.append((window_id, frame))
        self._bytes += len(frame)
        self._wakeup.set()
        return True

    def close(self) -> None:
        """End the client's sender; the queued frames are released now, not when its task is collected."""
        self.closed = True
        self._frames.clear()
        self._bytes = 0
        self._wakeup.set()

    async def next(self) -> tuple[int | None, str] | None:
        """The next frame (window id or None for a notice, text), or None once closed."""
        while not self.closed:
            if self._frames:
                window_id, frame = self._frames.popleft()
                self._bytes -= len(frame)
                return window_id, frame
            if self.drop_first is not None:
                notice = _frame("dropped", count=self.drop_count, resume_from=self.drop_first)
                self.drop_first, self.drop_count = None, 0
                return None, notice
            self._wakeup.clear()
            await self._wakeup.wait()
        return None


class Broadcaster:
    """Reads ``max_window_id`` whenever the store's change feed says it may have changed (see :meth:`run`) and
    publishes new windows to every subscriber.

    Ids grow with commits (the store contract). At start the feed begins after the newest stored window:
    history is served by ``since`` replay and the REST API, not re-broadcast.
    """

    def __init__(
        self,
        reader: StoreReader,
        *,
        poll_interval_s: float,
        queue_frames: int = 64,
        release_memory: Callable[[], object] | None = None,
    ) -> None:
        self._reader = reader
        self._poll_interval_s = poll_interval_s
        self._queue_frames = queue_frames
        self._release_memory = release_memory if release_memory is not None else _heap_trimmer()
        self._subscribers: set[Subscriber] = set()
        self._departed = 0
        self._last_departure = 0.0
        self.last_id = 0
        #: Frames skipped for slow clients since this broadcaster started (the ``/metrics`` counter).
        self.frames_dropped = 0
        self.ready = asyncio.Event()
        self._closed = False

    @property
    def clients(self) -> int:
        """Live clients connected now."""
        return len(self._subscribers)

    def subscribe(self, max_clusters: int) -> Subscriber:
        """Register a client. No await between reading ``last_id`` and joining: no frame can slip by."""
        sub = Subscriber(max_clusters, self._queue_frames, self.last_id)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)
        sub.close()
        self._departed += 1
        self._last_departure = time.monotonic()

    def close(self) -> None:
        """Wake and end every client's sender; the poll task is cancelled by the owner."""
        self._closed = True
        for sub in list(self._subscribers):
            sub.close()
        self._subscribers.clear()

    async def run(self) -> None:
        """The feed loop; runs until cancelled. Store errors are logged and retried, never fatal.

        Between reads it waits on the store's change feed (:meth:`~networkpulse.store.base.Store.wait_for_change`
        on the feed's own reader thread): PostgreSQL wakes it by ``LISTEN/NOTIFY`` when a writer commits and is
        never queried in between (up to ``LISTEN_WAIT_S`` idle, so a replaced store is noticed); SQLite cannot
        notify, so there it waits ``poll_interval_s`` and reads again (a poll).
        """
        while not self._closed:
            pause = 0.0
            try:
                latest = await self._latest()
                if not self.ready.is_set():
                    self.last_id = latest or 0
                    self.ready.set()
                elif latest is not None and latest < self.last_id:
                    self._restart(latest)
                elif latest is not None and latest > self.last_id:
                    await self._publish_until(latest)
                if await self._reader.call(self._wait, None) is None:
                    pause = self._poll_interval_s  # no store yet: nothing to wait on
            except Exception:
                # A broken store must not spam the log 50 times a second, nor end the feed for good.
                log.exception("live feed poll failed; retrying in 1 s")
                pause = 1.0
            if self._departed >= TRIM_AFTER_DEPARTURES and time.monotonic() - self._last_departure >= TRIM_QUIET_S:
                self._departed = 0
                self._release_memory()
            if pause:
                await asyncio.sleep(pause)

    def _wait(self, store: Store) -> bool:
        return store.wait_for_change(LISTEN_WAIT_S if store.notifies else self._poll_interval_s)

    def _restart(self, latest: int) -> None:
        """The database was replaced and ids restarted: every client's position is meaningless now.

        Their connections are closed (1001), so they reconnect and start again from a fresh hello.
        """
        log.warning(
            "window ids went back from %d to %d: store replaced; reconnecting clients", self.last_id, latest
        )
        for sub in list(self._subscribers):
            sub.close()
        self._subscribers.clear()
        self.last_id = latest

    async def _latest(self) -> int | None:
        return await self._reader.call(lambda store: store.max_window_id(), None)

    async def _publish_until(self, latest: int) -> None:
        while self.last_id < latest:
            if not self._subscribers:
                # Nobody listens: skip the reads; a client arriving later starts after ``last_id`` anyway.
                self.last_id = latest
                return
            after, want = self.last_id, max(sub.max_clusters for sub in self._subscribers)
            page = await self._reader.call(_windows_after(after, want, LIVE_PAGE), [])
            if not page:  # removed by retention between the two reads
                self.last_id = latest
                return
            for window in page:
                self._fan_out(window, want)
                self.last_id = window["id"]

    def _fan_out(self, window: dict[str, Any], read_clusters: int) -> None:
        frames = _WindowFrames(window)
        for sub in self._subscribers:
            if not sub.offer(window["id"], frames.frame(min(sub.max_clusters, read_clusters))):
                self.frames_dropped += 1


class _WindowFrames:
    """The frames of one window for every ``max_clusters``: the window and each cluster are encoded once, and
    the frame for ``k`` clusters is a join of the first ``k`` encoded clusters.

    Encoding the whole window per distinct ``max_clusters`` (there may be 201) let clients that each ask for
    their own value multiply the encoding work: measured with ``benchmarks/live_feed.py --own-frames --clusters
    200`` (500 such clients), live clients' median latency was 5.5 s, 0.4 s with this. A join is a copy;
    clients whose ``max_clusters`` is at least the window's cluster count share one frame.
    """

    __slots__ = ("_clusters", "_frames", "_head", "_tail")

    def __init__(self, window: dict[str, Any]) -> None:
        rest = {key: value for key, value in window.items() if key != "cluster_list"}
        empty = _frame("window", window={**rest, "cluster_list": []})
        # It ends with `"cluster_list":[]}}`; the clusters go between the brackets.
        self._head, self._tail = empty[:-3], empty[-3:]
        self._clusters = [_encode(cluster).decode() for cluster in window.get("cluster_list", [])]
        self._frames: dict[int, str] = {}

    def frame(self, max_clusters: int) -> str:
        count = min(max_clusters, len(self._clusters))
        frame = self._frames.get(count)
        if frame is None:
            frame = self._frames[count] = self._head + ",".join(self._clusters[:count]) + self._tail
        return frame


def _heap_trimmer() -> Callable[[], object]:
    """``malloc_trim(0)``: glibc returns the free pages of its heaps to the OS. A no-op without glibc."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


def _windows_after(after: int, max_clusters: int, limit: int) -> Callable[[Store], list[dict[str, Any]]]:
    """The page's windows with every listed cluster's ``cluster_id``, ``event``, ``parents`` and ``trend``: the
    server names clusters, so every client colours and labels them alike. Four queries per page."""
    # A closure per call (not a lambda in a loop) so the reader thread sees this page's arguments.
    return lambda store: with_lives(store, store.windows_after(after, limit=limit, max_clusters=max_clusters))


async def serve_client(
    websocket: WebSocket,
    broadcaster: Broadcaster,
    reader: StoreReader,
    *,
    since: int | None,
    max_clusters: int,
) -> None:
    """Run one live connection: hello, replay after ``since``, then live frames, until either side leaves."""
    await websocket.accept()
    await broadcaster.ready.wait()
    sub = broadcaster.subscribe(max_clusters)
    sender = asyncio.create_task(_send(websocket, sub, reader, since))
    receiver = asyncio.create_task(_drain_incoming(websocket))
    try:
        done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and (exc := task.exception()) and not _is_disconnect(exc):
                log.warning("live client ended with %r", exc)
    finally:
        broadcaster.unsubscribe(sub)
        for task in (sender, receiver):
            task.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)
    if websocket.client_state is WebSocketState.CONNECTED:
        # We end first only at shutdown or when the store was replaced: 1001 "going away", so clients
        # reconnect.
        with suppress(Exception):
            await websocket.close(code=1001)


async def _send(websocket: WebSocket, sub: Subscriber, reader: StoreReader, since: int | None) -> None:
    await websocket.send_text(_frame("hello", latest_id=sub.start_id or None))
    # Replay (since, start_id] from the store; everything after start_id is already queued for us.
    cursor = since
    while cursor is not None and cursor < sub.start_id:
        page = await reader.call(_windows_after(cursor, sub.max_clusters, PAGE), [])
        page = [window for window in page if window["id"] <= sub.start_id]
        if not page:
            break
        for window in page:
            await websocket.send_text(_frame("window", window=window))
        cursor = page[-1]["id"]
    last_sent = sub.start_id
    while (item := await sub.next()) is not None:
        window_id, frame = item
        if window_id is not None:
            if window_id <= last_sent:  # never a duplicate at the replay/live seam
                continue
            last_sent = window_id
        await websocket.send_text(frame)


async def _drain_incoming(websocket: WebSocket) -> None:
    # Clients have nothing to say; reading is how a close from the client is noticed while we wait for frames.
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def _is_disconnect(exc: BaseException) -> bool:
    # uvicorn's ClientDisconnected is not public API; match it by name.
    return (
        isinstance(exc, WebSocketDisconnect | ConnectionError) or type(exc).__name__ == "ClientDisconnected"
    )
