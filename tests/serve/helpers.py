"""Helpers for the serve tests: hand-built engine windows, their logins and stats, a server in a thread."""

from __future__ import annotations

import base64
import itertools
import os
import socket
import struct
import threading
import time
from typing import Any

import numpy as np

from networkpulse.engine.types import Cluster, Window
from networkpulse.serve import create_app
from networkpulse.serve.server import Server, uvicorn_config

#: 2015-01-01T12:00:00Z, the hour of the bundled real sample.
T0_MS = 1_420_113_600_000
MINUTE_MS = 60_000

#: Vertex id i has login LOGINS[i]; the first few are readable, the rest numbered, one is a bot.
LOGINS = ["alice", "bob", "carol", "dave", "erin", "frank", "dependabot[bot]"] + [
    f"user-{i}" for i in range(7, 4000)
]


def cluster(members: list[int], edges: list[tuple[int, int]]) -> Cluster:
    """A cluster from vertex ids and spanning-tree edges given as vertex-id pairs."""
    return Cluster(
        members=np.array(sorted(members), dtype=np.int32),
        edges=np.array(edges, dtype=np.int32).reshape(-1, 2),
    )


def chain(first: int, size: int) -> Cluster:
    """Vertices first..first+size-1 joined in a path."""
    ids = list(range(first, first + size))
    return cluster(ids, list(itertools.pairwise(ids)))


def window(index: int, clusters: tuple[Cluster, ...] = (), **counts: int) -> Window:
    """The ``index``-th one-minute window after T0 with the given clusters (largest first)."""
    vertices = sum(c.size for c in clusters)
    fields: dict[str, Any] = {
        "start_ms": T0_MS + index * MINUTE_MS,
        "end_ms": T0_MS + (index + 10) * MINUTE_MS,
        "events": 100 + index,
        "interactions": 40 + index,
        "vertices": vertices,
        "edges": max(vertices - len(clusters), 0),
        "components": len(clusters),
        "largest": max((c.size for c in clusters), default=0),
        "late_events": 0,
        "clusters": clusters,
    }
    fields.update(counts)
    return Window.from_clusters(**fields)


def busy_window(index: int, n_clusters: int = 20, size: int = 30) -> Window:
    """A realistic, heavy window: ``n_clusters`` path clusters of ``size`` members over distinct logins."""
    first = 7 + (index * 13) % 500
    clusters = tuple(chain(first + k * size, size) for k in range(n_clusters))
    return window(index, clusters)


STATS: dict[str, Any] = {
    "events": 8273, "interactions": 3600, "kept_events": 3500, "filtered_events": 4773,
    "filtered_share": 0.577,
    "dropped": {"self": 4706, "no_counterpart": 60}, "late_events": 0, "skipped_lines": 0, "windows": 3,
    "events_per_s": 120000.0, "updated": "2026-11-26T05:00:00Z", "updated_ms": 1795582800000,
}  # fmt: skip


class LiveServer:
    """uvicorn serving the app on a free port in a background thread of this process.

    ``ping_s`` shortens uvicorn's keepalive (ping interval and pong timeout, 20 s each by default);
    ``app_options`` go to :func:`create_app`.
    """

    def __init__(self, store_url: str, *, ping_s: float | None = None, **app_options: Any) -> None:
        self.app = create_app(store_url, poll_interval_s=0.01, **app_options)
        config = uvicorn_config(self.app, port=0)
        if ping_s is not None:
            config.ws_ping_interval = config.ws_ping_timeout = ping_s
        self.server = Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.host, self.port = host, port
        self.http = f"http://{host}:{port}"
        self.ws = f"ws://{host}:{port}"
        return self

    def connections(self) -> list[Any]:
        """uvicorn's open connections (HTTP or WebSocket protocol objects)."""
        return list(self.server.server_state.connections)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive(), "server did not shut down"


def never_reading_client(host: str, port: int, path: str = "/api/live") -> socket.socket:
    """A socket that completes the WebSocket handshake, then never reads again (a frozen tab, a dead phone).

    Raw, not a client library: a library keeps reading into its own buffers. 4 KB receive buffer.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: stop reading right after the handshake
        assert chunk, "the server closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def reset(sock: socket.socket) -> None:
    """Close with unread data, as the OS does for a killed client: the server sees a reset."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
