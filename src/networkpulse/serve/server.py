"""Run the app under uvicorn, telling the caller the URL once the socket is listening."""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import suppress

import uvicorn
from fastapi import FastAPI

from networkpulse.serve.app import create_app

#: Kernel send buffer per connection (Linux doubles it). Autotuning would let it grow to ``tcp_wmem`` max
#: (4 MB by default) for a client that stopped reading: per-client kernel memory the app cannot see, and
#: seconds of frames buffered before that client's queue even starts to fill and it is told it dropped
#: some. 128 KB still moves a few MB/s per client at 100 ms RTT, far above the feed's rate.
SEND_BUFFER_BYTES = 128 * 1024


class Server(uvicorn.Server):
    """uvicorn's server with bounded per-connection send buffers and a ``ready(url)`` callback.

    ``ready`` gets the real URL once listening (so ``port=0`` works).
    """

    def __init__(self, config: uvicorn.Config, ready: Callable[[str], None] | None = None) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for server in self.servers:
            for sock in server.sockets:
                # Accepted connections are cloned from the listening socket and inherit this.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        if self.started and self._ready is not None:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            self._ready(f"http://{shown}:{port}")


def uvicorn_config(app: FastAPI, host: str = "127.0.0.1", port: int = 8000) -> uvicorn.Config:
    """The uvicorn settings :func:`run` uses (tests and benchmarks start servers with the same ones)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        # A client that stopped reading never lets its socket flush, so its connection would never finish
        # closing: bound how long shutdown waits for live connections.
        timeout_graceful_shutdown=3,
        # permessage-deflate compresses every frame once *per client*, undoing the feed's encode-once
        # fan-out: measured with benchmarks/live_feed.py (100 clients, 20 windows/s) it cost 4.5x the server
        # CPU (6.3 s vs 1.4 s per 20 s) and p99 73 ms vs 30 ms, to save ~90 KB/s per client.
        ws_per_message_deflate=False,
        log_level="warning",
    )


def run(
    store_url: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the API, live feed and UI for ``store_url`` until interrupted (blocking).

    ``ready(url)`` is called once, when the server accepts connections; ``port=0`` picks a free port.
    Returns normally after a clean shutdown on Ctrl-C; raises :class:`~networkpulse.errors.ConfigError` at
    once for a store URL that can never work (a database file that does not exist *yet* is fine).
    """
    config = uvicorn_config(create_app(store_url), host, port)
    # uvicorn shuts down gracefully, then re-raises the captured Ctrl-C; the caller asked for a server that
    # runs until interrupted, so being interrupted is the normal end.
    with suppress(KeyboardInterrupt):
        Server(config, ready).run()
