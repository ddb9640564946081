"""The live feed over a real uvicorn server and real WebSocket clients, fed by real store writes."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError

from networkpulse.serve.live import QUEUE_BYTES, Subscriber
from networkpulse.store import open_store
from networkpulse.store.base import Store
from tests.serve.helpers import LOGINS, STATS, LiveServer, busy_window, never_reading_client, reset, window

TIMEOUT_S = 30


async def recv(ws: ClientConnection) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
    return json.loads(message)


async def recv_windows_until(ws: ClientConnection, last_id: int) -> list[dict[str, Any]]:
    """Every frame up to and including the window ``last_id``."""
    frames = []
    while True:
        frame = await recv(ws)
        frames.append(frame)
        if frame["type"] == "window" and frame["window"]["id"] >= last_id:
            return frames


def write(store: Store, windows: list[Any]) -> list[int]:
    return store.write(windows, LOGINS, STATS)


def test_hello_then_every_new_window_in_order(
    filled: list[int], writer: Store, live_server: LiveServer
) -> None:
    async def scenario() -> None:
        async with connect(f"{live_server.ws}/api/live") as ws:
            # Offered like a browser would; declined so each frame stays encoded once for all clients.
            assert ws.response is not None and "Sec-WebSocket-Extensions" not in ws.response.headers
            assert await recv(ws) == {"type": "hello", "latest_id": filled[-1]}
            ids = await asyncio.to_thread(write, writer, [busy_window(i, n_clusters=25) for i in range(3, 6)])
            ids += await asyncio.to_thread(write, writer, [window(6)])
            frames = await recv_windows_until(ws, ids[-1])
        assert [f["type"] for f in frames] == ["window"] * len(ids)
        assert [f["window"]["id"] for f in frames] == ids
        async with httpx.AsyncClient(base_url=live_server.http) as http:
            for frame in frames:
                wid = frame["window"]["id"]
                rest = (await http.get(f"/api/windows/{wid}", params={"max_clusters": 20})).json()
                assert frame["window"] == rest  # the default max_clusters of the feed is 20
        assert len(frames[0]["window"]["cluster_list"]) == 20 and frames[0]["window"]["clusters"] == 25

    asyncio.run(scenario())


def test_max_clusters_is_per_client(filled: list[int], writer: Store, live_server: LiveServer) -> None:
    async def scenario() -> None:
        async with (
            connect(f"{live_server.ws}/api/live?max_clusters=0") as bare,
            connect(f"{live_server.ws}/api/live?max_clusters=3") as few,
        ):
            await recv(bare), await recv(few)
            (wid,) = await asyncio.to_thread(write, writer, [busy_window(9, n_clusters=8)])
            (b,) = await recv_windows_until(bare, wid)
            (f,) = await recv_windows_until(few, wid)
        assert b["window"]["cluster_list"] == [] and b["window"]["clusters"] == 8
        assert [c["rank"] for c in f["window"]["cluster_list"]] == [0, 1, 2]

    asyncio.run(scenario())


def test_resume_with_since_has_no_gap_and_no_duplicate(
    filled: list[int], writer: Store, live_server: LiveServer
) -> None:
    """Connect with ``since`` while windows keep being committed: the replay/live seam falls mid-stream.

    More than one replay page (100 windows) lies between ``since`` and the connection.
    """
    written = list(filled)
    half_done = threading.Event()

    def pipeline() -> None:
        for i in range(3, 303):
            written.extend(write(writer, [window(i)]))
            if i == 180:
                half_done.set()
            time.sleep(0.002)

    async def scenario() -> list[dict[str, Any]]:
        producer = asyncio.create_task(asyncio.to_thread(pipeline))
        await asyncio.to_thread(half_done.wait, TIMEOUT_S)
        async with connect(f"{live_server.ws}/api/live?since={filled[0]}") as ws:
            hello = await recv(ws)
            assert hello["type"] == "hello" and hello["latest_id"] >= filled[-1]
            await producer
            return await recv_windows_until(ws, written[-1])

    frames = asyncio.run(scenario())
    assert [f["window"]["id"] for f in frames] == written[1:]


def test_resume_skips_what_retention_removed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    store = open_store(url, retention=5)
    try:
        ids = write(store, [window(i) for i in range(12)])
        with LiveServer(url) as server:

            async def scenario() -> list[dict[str, Any]]:
                async with connect(f"{server.ws}/api/live?since={ids[0]}") as ws:
                    await recv(ws)
                    return await recv_windows_until(ws, ids[-1])

            frames = asyncio.run(scenario())
    finally:
        store.close()
    assert [f["window"]["id"] for f in frames] == ids[-5:]


@pytest.mark.slow
def test_stalled_client_gets_a_dropped_frame_while_others_get_everything(
    filled: list[int], writer: Store, live_server: LiveServer
) -> None:
    """A client that never reads: its socket buffers fill, then its bounded queue; it must not hold up anyone.

    Frames of ~25 KB × 500 windows (12 MB) are far more than the stalled client's 4 KB receive buffer, the
    server's send buffer and its 64-frame queue together can absorb, so frames must be dropped for it. The
    client also declines per-message deflate (the server does not offer it today, but these synthetic logins
    compress ~10×, which would let the kernel's buffers swallow the whole burst if it ever did).
    """

    async def scenario() -> None:
        host, port = live_server.http.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        sock.setblocking(False)
        async with (
            connect(f"{live_server.ws}/api/live", sock=sock, max_queue=1, compression=None) as stalled,
            connect(f"{live_server.ws}/api/live") as reader,
        ):
            assert (await recv(reader))["type"] == "hello"
            # The healthy client reads all along, as a browser would; ids are consecutive from the last one.
            reading = asyncio.create_task(recv_windows_until(reader, filled[-1] + 500))
            ids: list[int] = []
            for batch in range(50):  # the pipeline commits in batches of 10 windows
                windows = [busy_window(i, size=60) for i in range(3 + 10 * batch, 13 + 10 * batch)]
                ids += await asyncio.to_thread(write, writer, windows)
            got = await reading
            assert [f["window"]["id"] for f in got] == ids  # everything, in order, nothing dropped

            # Now the stalled client wakes up and drains what it was sent.
            assert (await recv(stalled))["type"] == "hello"
            seen: list[int] = []
            dropped: list[dict[str, Any]] = []
            while not dropped:
                frame = await recv(stalled)
                if frame["type"] == "window":
                    seen.append(frame["window"]["id"])
                else:
                    dropped.append(frame)
            notice = dropped[0]
            assert notice["type"] == "dropped" and notice["count"] > 0
            skipped = list(range(notice["resume_from"], notice["resume_from"] + notice["count"]))
            assert seen + skipped == ids  # delivered frames, then the gap it is told about: nothing else
            # Caught up, it is live again.
            (late,) = await asyncio.to_thread(write, writer, [window(600)])
            assert (await recv(stalled))["window"]["id"] == late

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_stalled_client_does_not_block_shutdown(filled: list[int], writer: Store, store_url: str) -> None:
    server = LiveServer(store_url).__enter__()

    async def scenario() -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        host, port = server.http.removeprefix("http://").split(":")
        sock.connect((host, int(port)))
        sock.setblocking(False)
        async with connect(
            f"{server.ws}/api/live", sock=sock, max_queue=1, compression=None, close_timeout=0.1
        ):
            await asyncio.to_thread(write, writer, [busy_window(i, size=60) for i in range(3, 203)])
            await asyncio.sleep(0.5)
            started = time.monotonic()
            await asyncio.to_thread(server.__exit__, None, None, None)
            assert time.monotonic() - started < 8

    asyncio.run(scenario())


def test_feed_starts_before_the_database_exists(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not-yet.db'}"
    with LiveServer(url) as server:

        async def scenario() -> None:
            async with connect(f"{server.ws}/api/live") as ws:
                assert await recv(ws) == {"type": "hello", "latest_id": None}
                store = await asyncio.to_thread(open_store, url)
                try:
                    ids = await asyncio.to_thread(write, store, [window(0), window(1)])
                    frames = await recv_windows_until(ws, ids[-1])
                finally:
                    store.close()
            assert [f["window"]["id"] for f in frames] == ids

        asyncio.run(scenario())


@pytest.mark.parametrize(
    ("query", "name", "got"),
    [
        ("since=-1", "since", "'-1'"),
        ("since=99999999999999999999", "since", "'99999999999999999999'"),
        ("since=abc", "since", "'abc'"),
        ("max_clusters=-1", "max_clusters", "'-1'"),
        ("max_clusters=201", "max_clusters", "'201'"),
        ("since=" + "9" * 300, "since", "'999"),
    ],
)
def test_bad_live_parameters_close_with_1008_and_a_reason(
    live_server: LiveServer, query: str, name: str, got: str
) -> None:
    """Accepted, then closed with 1008 and a reason a page can read (a refused handshake shows it nothing)."""

    async def scenario() -> ConnectionClosedError:
        async with connect(f"{live_server.ws}/api/live?{query}") as ws:
            with pytest.raises(ConnectionClosedError) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT_S)  # no hello: closed at once
            return closed.value

    closed = asyncio.run(scenario())
    assert closed.rcvd is not None and closed.rcvd.code == 1008
    reason = closed.rcvd.reason
    assert reason.startswith(f"{name}: ") and got in reason and "should be" in reason, reason
    assert len(reason.encode()) <= 123  # the most a close frame can carry


# -- memory per client ------------------------------------------------------------------------------------


def test_a_clients_queue_is_bounded_in_bytes_not_only_frames() -> None:
    """A client asking for a ``max_clusters`` nobody else uses gets frames of its own: 64 of 200 KB each would
    be 12.5 MB for one connection."""

    async def scenario() -> None:
        sub = Subscriber(max_clusters=200, capacity=64, start_id=0)
        big = "x" * (200 * 1024)
        for window_id in range(1, 65):
            sub.offer(window_id, big)
        kept = []
        while (item := await asyncio.wait_for(sub.next(), 1)) is not None and item[0] is not None:
            kept.append(item[0])
        assert len(kept) * len(big) <= QUEUE_BYTES
        notice = json.loads(item[1])  # then it is told what it missed, as for a full queue of frames
        assert notice == {"type": "dropped", "count": 64 - len(kept), "resume_from": len(kept) + 1}
        # One frame always fits, however large: a client never starves on a big window.
        huge = Subscriber(max_clusters=200, capacity=64, start_id=0)
        huge.offer(1, "y" * (2 * QUEUE_BYTES))
        assert (await huge.next()) == (1, "y" * (2 * QUEUE_BYTES))

    asyncio.run(scenario())


def _write_until_published(live_server: LiveServer, writer: Store, windows: list[Any]) -> None:
    ids = write(writer, windows)
    deadline = time.monotonic() + TIMEOUT_S
    while live_server.app.state.live.last_id < ids[-1]:
        assert time.monotonic() < deadline, "the live feed did not publish the windows"
        time.sleep(0.02)
    time.sleep(0.3)  # the senders run right after the fan-out


def _live_connections(live_server: LiveServer) -> list[WebSocketsSansIOProtocol]:
    return [c for c in live_server.connections() if isinstance(c, WebSocketsSansIOProtocol)]


@pytest.mark.slow
def test_a_client_that_never_reads_holds_at_most_one_frame_in_user_space(
    filled: list[int], writer: Store, live_server: LiveServer
) -> None:
    """Never-reading clients: the kernel's bounded send buffer fills, then the server must stop copying frames
    for them. asyncio's default transport buffer kept 64 KB + a frame of copies per client (two thirds of the
    ~125-180 KB each such client cost in benchmarks/live_feed.py)."""
    stalled = [never_reading_client(live_server.host, live_server.port) for _ in range(3)]
    try:
        windows = [busy_window(i, size=60) for i in range(3, 103)]  # ~25 KB frames, 2.5 MB in all
        _write_until_published(live_server, writer, windows)
        frame = len(json.dumps({"type": "window", "window": httpx.get(f"{live_server.http}/api/windows/latest",
                                                                      params={"max_clusters": 20}).json()}))
        connections = _live_connections(live_server)
        assert len(connections) == 3
        for connection in connections:
            buffered = connection.transport.get_write_buffer_size()
            assert buffered <= frame, f"{buffered} bytes buffered for a stalled client, more than one frame"
    finally:
        for sock in stalled:
            reset(sock)


@pytest.mark.slow
def test_a_client_that_stops_reading_is_cut_off_at_the_keepalive_timeout(
    filled: list[int], writer: Store, store_url: str
) -> None:
    """It never answers a ping; a close handshake it will never read must not keep it (and its buffers) alive."""
    with LiveServer(store_url, ping_s=0.5) as server:
        sock = never_reading_client(server.host, server.port)
        try:
            _write_until_published(server, writer, [busy_window(i, size=60) for i in range(3, 43)])
            deadline = time.monotonic() + TIMEOUT_S
            while _live_connections(server) or server.app.state.live._subscribers:
                assert time.monotonic() < deadline, "the stalled connection is still open"
                time.sleep(0.1)
            with pytest.raises(ConnectionResetError):  # reset, not a polite close it would never read
                while sock.recv(65536):
                    pass
        finally:
            sock.close()


def test_clients_with_their_own_max_clusters_do_not_multiply_the_encoding(
    filled: list[int], writer: Store, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 clients, each with a different ``max_clusters``: the window is encoded once (and each cluster once),
    not once per client; every client still gets exactly its largest ``max_clusters`` clusters."""
    from networkpulse.serve import live
    from networkpulse.serve.reader import StoreReader

    encoded: list[object] = []
    real_encode = live._encode
    monkeypatch.setattr(live, "_encode", lambda value: encoded.append(value) or real_encode(value))

    async def scenario() -> None:
        reader = StoreReader(store_url, workers=1)
        broadcaster = live.Broadcaster(reader, poll_interval_s=0.01)
        poller = asyncio.create_task(broadcaster.run())
        try:
            await broadcaster.ready.wait()
            subs = [broadcaster.subscribe(max_clusters=k) for k in range(1, 201)]
            (wid,) = await asyncio.to_thread(write, writer, [busy_window(7, n_clusters=30, size=4)])
            frames = [await asyncio.wait_for(sub.next(), TIMEOUT_S) for sub in subs]
        finally:
            broadcaster.close()
            poller.cancel()
            reader.close()
        for k, item in enumerate(frames, start=1):
            assert item is not None and item[0] == wid
            window = json.loads(item[1])["window"]
            assert [c["rank"] for c in window["cluster_list"]] == list(range(min(k, 30)))
            assert window["clusters"] == 30
        assert len(encoded) <= 1 + 30, f"{len(encoded)} encodings for one window"

    asyncio.run(scenario())


def test_the_heap_is_trimmed_once_after_a_wave_of_clients_left(store_url: str) -> None:
    """Freed connections leave glibc's heap pages mapped; after a burst of departures (not after each one, and
    not for a few) the feed hands them back once."""
    from networkpulse.serve import live
    from networkpulse.serve.reader import StoreReader

    trims: list[float] = []

    async def scenario() -> None:
        reader = StoreReader(store_url, workers=1)
        broadcaster = live.Broadcaster(reader, poll_interval_s=0.01, release_memory=lambda: trims.append(1))
        poller = asyncio.create_task(broadcaster.run())
        try:
            await broadcaster.ready.wait()
            few = [broadcaster.subscribe(20) for _ in range(live.TRIM_AFTER_DEPARTURES - 1)]
            for sub in few:
                broadcaster.unsubscribe(sub)
            await asyncio.sleep(live.TRIM_QUIET_S + 0.5)
            assert trims == []  # too few left
            wave = [broadcaster.subscribe(20) for _ in range(500)]
            for sub in wave:
                broadcaster.unsubscribe(sub)
            await asyncio.sleep(live.TRIM_QUIET_S / 2)
            assert trims == []  # not in the middle of a burst
            await asyncio.sleep(live.TRIM_QUIET_S + 0.5)
            assert trims == [1]  # once for the whole wave
        finally:
            broadcaster.close()
            poller.cancel()
            reader.close()

    asyncio.run(scenario())
