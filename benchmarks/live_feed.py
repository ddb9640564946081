"""Live-feed benchmark: commit→client latency and fan-out to 100 WebSocket clients, and many slow clients.

A real server (``networkpulse.serve.run``, uvicorn, in a subprocess) serves a temporary SQLite store; this
process commits windows into the store at a fixed rate (one transaction each) and runs the clients. Writer
and clients share one clock (``time.perf_counter``), so latency = receive time − the time ``store.write``
*started* for that window (conservative: it includes the commit itself and the server's poll interval).

The windows are synthetic: 20 clusters each, sizes drawn from a heavy-tailed distribution like the real
GH Archive hours (many clusters of 3–5, a few of tens), random spanning trees, GitHub-like logins.

Timeline of one run, while the writer commits all along:

1. warm-up with the live clients only, then server RSS **before**;
2. ``--slow-clients`` clients connect and never read a byte (raw sockets that complete the WebSocket handshake,
   4 KB receive buffer), held for ``--hold`` s; server RSS **with** them (the peak over the hold);
3. they leave (reset, as a killed tab or a dead phone does), ``--settle`` s later server RSS **after**.

Checks: every live client receives every window, in order, even while the slow clients are stalled; one more
stalled client (connected with the slow ones, never reading until the end) is sent a ``dropped`` frame once it
finally reads. Last line: ``clients=<n> frames_per_s=<n> p99_ms=<n> stalled_client_dropped=<bool>
slow_clients=<n> rss_per_slow_client_kb=<n> rss_kept_after_leave_mb=<n>`` where frames_per_s is window frames
per second delivered to *each* live client.

Baseline, measured in the same run on the same load: the obvious design where every connection polls the
store and encodes its own frames (``naive_app``), served with the same uvicorn settings.

Run: ``.venv/bin/python benchmarks/live_feed.py`` (``--help`` for options; ~80 s with the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import os
import socket
import statistics
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import psutil
from websockets.asyncio.client import ClientConnection, connect

from networkpulse.engine.types import Cluster, Window
from networkpulse.store import open_store


class _Win(msgspec.Struct):
    id: int


class _Frame(msgspec.Struct):
    """Only what the benchmark needs from a frame; msgspec skips the rest without building it."""

    type: str
    window: _Win | None = None
    count: int = 0
    resume_from: int = 0


_decode = msgspec.json.Decoder(_Frame).decode


def make_logins(n: int, rng: np.random.Generator) -> list[str]:
    alphabet = np.array(list(string.ascii_lowercase + string.digits + "-"))
    lengths = rng.integers(3, 16, n)
    return [f"{''.join(rng.choice(alphabet[:36], 1))}{''.join(rng.choice(alphabet, k - 1))}{i}" for i, k in
            enumerate(lengths)]  # fmt: skip


START_MS = 1_420_113_600_000  # 2015-01-01T12:00:00Z
#: Seconds a never-reading client takes to fill the server's send buffer (256 KB) and its own (4 KB) at the
#: default 20 windows/s of ~4.5 KB frames (~3 s), plus margin: only then is it stalled.
STALL_S = 5.0


def make_window(index: int, rng: np.random.Generator, n_logins: int, n_clusters: int) -> Window:
    """A window of ``n_clusters`` clusters with Zipf-like sizes (3..80) and random spanning trees."""
    sizes = np.sort(np.minimum(2 + rng.zipf(1.8, n_clusters), 80))[::-1]
    members = rng.choice(n_logins, int(sizes.sum()), replace=False).astype(np.int32)
    clusters, at = [], 0
    for size in sizes:
        ids = np.sort(members[at : at + size])
        at += size
        parents = [int(rng.integers(0, i)) for i in range(1, size)]
        edges = np.array([[ids[i], ids[p]] for i, p in zip(range(1, size), parents, strict=True)], np.int32)
        clusters.append(Cluster(members=ids, edges=edges.reshape(-1, 2)))
    vertices = int(sizes.sum()) + 400
    return Window.from_clusters(
        start_ms=START_MS + index * 1000,
        end_ms=START_MS + index * 1000 + 600_000,
        events=2000, interactions=800, vertices=vertices, edges=vertices - 150, components=150,
        largest=int(sizes[0]), late_events=0, clusters=tuple(clusters),
    )  # fmt: skip


def naive_app(store_url: str) -> Any:
    """Baseline: the obvious live feed. Each connection polls the store itself and encodes its own frames."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    store = open_store(store_url, readonly=True)  # one object; its reads use one connection per thread

    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        last = await run_in_threadpool(store.max_window_id) or 0
        await websocket.send_text(msgspec.json.encode({"type": "hello", "latest_id": last or None}).decode())
        while True:
            page = await run_in_threadpool(store.windows_after, last, limit=100, max_clusters=20)
            for window in page:
                await websocket.send_text(msgspec.json.encode({"type": "window", "window": window}).decode())
                last = window["id"]
            await asyncio.sleep(0.02)

    return Starlette(routes=[WebSocketRoute("/api/live", live)])


def serve_naive(store_url: str) -> None:
    from networkpulse.serve.server import Server, uvicorn_config

    # The same uvicorn settings as the real server, so only the feed's design differs.
    Server(uvicorn_config(naive_app(store_url), port=0), lambda url: print(url, flush=True)).run()


def start_server(url: str, naive: bool) -> tuple[subprocess.Popen[str], str]:
    code = (
        "import sys\nfrom networkpulse.serve import run\n"
        "run(sys.argv[1], port=0, ready=lambda url: print(url, flush=True))\n"
    )
    command = [sys.executable, "-c", code, url]
    if naive:
        command = [sys.executable, __file__, "--serve-naive", url]
    # The baseline's tasks are cancelled mid-send at shutdown; their tracebacks are noise here.
    stderr = subprocess.DEVNULL if naive else None
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("http://"):
        proc.kill()
        raise SystemExit(f"server did not start (got {line!r})")
    return proc, line


class Writer(threading.Thread):
    """Commits one window per ``1/rate`` s until ``stop`` is set; records when each write started, by id."""

    def __init__(self, url: str, rate: float, n_clusters: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.url, self.rate, self.n_clusters = url, rate, n_clusters
        self.rng = np.random.default_rng(seed)
        self.logins = make_logins(20_000, self.rng)
        self.started_at: dict[int, float] = {}
        self.ids: list[int] = []
        self.write_s: list[float] = []
        self.elapsed_s = 0.0
        self.go = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        store = open_store(self.url)
        windows = [make_window(i, self.rng, len(self.logins), self.n_clusters) for i in range(64)]
        stats = {"events": 0, "windows": 0}
        self.go.wait()
        period = 1 / self.rate
        begin = time.perf_counter()
        i = 0
        while not self.stop.is_set():
            # The store skips a window whose bounds it holds already: each write gets bounds of its own.
            window = dataclasses.replace(windows[i % len(windows)], start_ms=START_MS + i * 1000,
                                         end_ms=START_MS + i * 1000 + 600_000)  # fmt: skip
            now = time.perf_counter()
            (wid,) = store.write([window], self.logins, stats)
            self.started_at[wid] = now
            self.write_s.append(time.perf_counter() - now)
            self.ids.append(wid)
            i += 1
            time.sleep(max(0.0, begin + i * period - time.perf_counter()))
        self.elapsed_s = time.perf_counter() - begin
        store.close()


async def live_client(
    url: str, received: list[tuple[int, float, int]], others: list[str]
) -> ClientConnection:
    # Offers permessage-deflate like a browser does; the server declines it (see serve.server).
    ws = await connect(url, max_size=None)
    hello = _decode(await ws.recv())
    assert hello.type == "hello"

    async def loop() -> None:
        async for message in ws:
            frame = _decode(message)
            if frame.type == "window" and frame.window is not None:
                received.append((frame.window.id, time.perf_counter(), len(message)))
            else:
                others.append(frame.type)

    asyncio.get_running_loop().create_task(loop())
    return ws


async def stalled_client(url: str) -> ClientConnection:
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    # No client-side pings: it would time out its own pongs, which it does not read either.
    return await connect(url, sock=sock, max_queue=1, compression=None, max_size=None, ping_interval=None)


async def never_reading_client(url: str) -> socket.socket:
    """A socket that completes the WebSocket handshake and then never reads again (a frozen tab).

    Raw, not a client library: a library keeps reading into its own buffers, which would hide part of the
    backlog from the server. Once the server answered 101 nothing reads the socket any more.
    """
    loop = asyncio.get_running_loop()
    hostport, _, path = url.removeprefix("ws://").partition("/")
    host, port = hostport.rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await loop.sock_recv(sock, 1)  # byte by byte: stop right after the handshake
        if not chunk:
            raise SystemExit("slow client: the server closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"slow client: handshake refused: {head.splitlines()[0]!r}")
    return sock


def leave(sock: socket.socket) -> None:
    """Close with unread data, as the OS does for a killed client: the server sees a reset."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def drained_until_dropped(ws: ClientConnection, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    try:
        while (left := deadline - time.monotonic()) > 0:
            if _decode(await asyncio.wait_for(ws.recv(), left)).type == "dropped":
                return True
    except TimeoutError:
        pass
    return False


async def sample_rss(proc: psutil.Process, seconds: float) -> list[int]:
    """Server RSS every 0.25 s for ``seconds``."""
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        samples.append(proc.memory_info().rss)
        await asyncio.sleep(0.25)
    return samples or [proc.memory_info().rss]


async def bench(args: argparse.Namespace, naive: bool = False) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="pulse-live-bench-"))
    url = f"sqlite:///{tmp / 'pulse.db'}"
    open_store(url).close()  # the pipeline creates the file; the server may start either before or after
    server, http = start_server(url, naive)
    proc = psutil.Process(server.pid)
    ws_url = http.replace("http://", "ws://") + "/api/live"
    try:
        writer = Writer(url, args.rate, args.clusters, args.seed)
        writer.start()
        received: list[list[tuple[int, float, int]]] = [[] for _ in range(args.clients)]
        others: list[list[str]] = [[] for _ in range(args.clients)]
        clients = [await live_client(ws_url, received[i], others[i]) for i in range(args.clients)]

        cpu0 = proc.cpu_times()
        writer.go.set()
        await asyncio.sleep(args.warmup)
        rss_before = statistics.median(await sample_rss(proc, 1.0))
        # Stalled for under the server's 40 s keepalive, which would reset it (and count as it leaving).
        stalled = await stalled_client(ws_url)
        # --own-frames: each asks for its own max_clusters (21..200), so no other client shares its frames.
        slow_urls = [f"{ws_url}?max_clusters={21 + i % 180}" if args.own_frames else ws_url for i in range(args.slow)]
        slow = await asyncio.gather(*(never_reading_client(url) for url in slow_urls))
        stalled_from = time.perf_counter()
        rss_with = max(await sample_rss(proc, args.hold))
        stalled_until = time.perf_counter()
        for sock in slow:
            leave(sock)
        await asyncio.sleep(args.settle)
        rss_after = statistics.median(await sample_rss(proc, 1.0))
        writer.stop.set()
        await asyncio.to_thread(writer.join)
        cpu1 = proc.cpu_times()
        # Let the last frames arrive.
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and any(len(r) < len(writer.ids) for r in received):
            await asyncio.sleep(0.05)

        ids = writer.ids
        complete = all([wid for wid, _, _ in r] == ids for r in received)
        latencies = [t - writer.started_at[wid] for r in received for wid, t, _ in r]
        # Windows written while the slow clients sat stalled. Excluded: their first STALL_S seconds, when they
        # still read into their kernel buffers and cost as much as live clients (500 more for a while).
        held = [
            t - writer.started_at[wid]
            for r in received
            for wid, t, _ in r
            if stalled_from + STALL_S <= writer.started_at[wid] < stalled_until
        ]
        frame_kb = statistics.mean(n for _, _, n in received[0]) / 1024 if received[0] else 0.0
        dropped = await drained_until_dropped(stalled, 15)
        for ws in [*clients, stalled]:
            await ws.close()
        lat_ms = np.array(latencies) * 1000
        return {
            "clients": args.clients,
            "windows": len(ids),
            "duration_s": writer.elapsed_s,
            "frames_per_s": len(ids) / writer.elapsed_s,
            "complete": complete,
            "missing": sum(len(ids) - len(r) for r in received),
            "unexpected": sorted({t for o in others for t in o}),
            "p50_ms": float(np.percentile(lat_ms, 50)) if len(lat_ms) else float("nan"),
            "p99_ms": float(np.percentile(lat_ms, 99)) if len(lat_ms) else float("nan"),
            "max_ms": float(lat_ms.max()) if len(lat_ms) else float("nan"),
            "p99_held_ms": float(np.percentile(np.array(held) * 1000, 99)) if held else float("nan"),
            "write_ms_median": statistics.median(writer.write_s) * 1000,
            "stalled_dropped": dropped,
            "rss_before_mb": rss_before / 2**20,
            "rss_with_mb": rss_with / 2**20,
            "rss_after_mb": rss_after / 2**20,
            "kb_per_slow": (rss_with - rss_before) / 1024 / max(args.slow, 1),
            "kept_mb": (rss_after - rss_before) / 2**20,
            "frame_kb": frame_kb,
            "server_cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system),
        }
    finally:
        server.terminate()
        server.wait(10)
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100, help="live clients that read everything")
    parser.add_argument("--slow-clients", dest="slow", type=int, default=500, help="clients that never read")
    parser.add_argument("--own-frames", action="store_true",
                        help="slow clients ask for distinct max_clusters (worst case: frames nobody shares)")
    parser.add_argument("--rate", type=float, default=20.0, help="windows committed per second")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of live clients only, before RSS")
    parser.add_argument("--hold", type=float, default=12.0, help="seconds the slow clients stay connected")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds after they leave, before RSS")
    parser.add_argument("--clusters", type=int, default=20, help="clusters per window")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the naive run")
    parser.add_argument("--serve-naive", metavar="STORE_URL", help=argparse.SUPPRESS)

    args = parser.parse_args()
    if args.serve_naive:
        serve_naive(args.serve_naive)
        return
    print(f"# synthetic windows ({args.clusters} Zipf-sized clusters each, random trees, 20k random logins);"
          f" server in a subprocess, {os.cpu_count()} CPUs; {args.clients} live clients,"
          f" {args.slow} never-reading clients for {args.hold:.0f} s"
          f"{' with frames of their own' if args.own_frames else ''}")  # fmt: skip
    if args.baseline:
        b = asyncio.run(bench(args, naive=True))
        print(
            f"# baseline, each client polls and encodes for itself: p99={b['p99_ms']:.1f} ms,"
            f" server CPU {b['server_cpu_s']:.1f} s, every frame to every client={b['complete']},"
            f" stalled client told it dropped={b['stalled_dropped']},"
            f" RSS {b['rss_before_mb']:.0f} → {b['rss_with_mb']:.0f} → {b['rss_after_mb']:.0f} MB"
        )
    r = asyncio.run(bench(args))
    print(
        f"# windows={r['windows']} every_frame_to_every_live_client={r['complete']} missing={r['missing']}"
        f" other_frames={r['unexpected']}"
    )
    print(
        f"# latency ms (write start → client): p50={r['p50_ms']:.1f} p99={r['p99_ms']:.1f}"
        f" max={r['max_ms']:.1f} (p99 while the slow clients were stalled:"
        f" {r['p99_held_ms']:.1f}); store.write median {r['write_ms_median']:.2f} ms; frame {r['frame_kb']:.1f} KB"
    )
    print(
        f"# server RSS: before the slow clients {r['rss_before_mb']:.1f} MB, with {args.slow} of them"
        f" {r['rss_with_mb']:.1f} MB ({r['kb_per_slow']:.0f} KB each), {args.settle:.0f} s after they left"
        f" {r['rss_after_mb']:.1f} MB"
    )
    print(
        f"# server CPU {r['server_cpu_s']:.1f} s over {r['duration_s']:.0f} s;"
        f" deliveries/s={r['frames_per_s'] * r['clients']:.0f}"
    )
    if args.baseline:
        print(
            f"# vs baseline: server CPU {b['server_cpu_s'] / max(r['server_cpu_s'], 1e-9):.1f}x less,"
            f" p99 {b['p99_ms'] / r['p99_ms']:.1f}x lower"
        )
    print(
        f"clients={r['clients']} frames_per_s={r['frames_per_s']:.1f} p99_ms={r['p99_ms']:.1f}"
        f" stalled_client_dropped={r['stalled_dropped']} slow_clients={args.slow}"
        f" rss_per_slow_client_kb={r['kb_per_slow']:.0f} rss_kept_after_leave_mb={r['kept_mb']:.1f}"
    )


if __name__ == "__main__":
    main()
