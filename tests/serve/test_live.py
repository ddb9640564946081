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
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from networkpulse.store import open_store
from networkpulse.store.base import Store
from tests.serve.helpers import LOGINS, STATS, LiveServer, busy_window, window

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


@pytest.mark.parametrize("query", ["since=-1", "since=99999999999999999999", "since=x", "max_clusters=-1"])
def test_bad_live_parameters_are_refused(live_server: LiveServer, query: str) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{live_server.ws}/api/live?{query}"):
                pass
        assert 400 <= refused.value.response.status_code < 500

    asyncio.run(scenario())
