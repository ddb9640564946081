"""Run the app under uvicorn: bind the listening sockets ourselves, bound what each connection may buffer.

Per-connection memory, for a client that stops reading (a frozen tab, a dead phone, a hostile script):

* kernel send buffer: :data:`SEND_BUFFER_BYTES` (not in RSS, but real memory);
* asyncio's transport buffer: :data:`TRANSPORT_BUFFER_BYTES` plus at most the rest of one frame;
* the live feed's queue of encoded frames: bounded in frames and bytes (see :mod:`networkpulse.serve.live`);
* what the client sends: :data:`MAX_INCOMING_BYTES` per message (clients have nothing to say);

and such a client is cut off (reset) when it misses a keepalive ping (``ws_ping_interval`` + ``ws_ping_timeout``)
instead of waiting for a close handshake it will never read. Measured with ``benchmarks/live_feed.py`` (500
never-reading clients, 20 windows/s of ~4.5 KB frames, medians of 6 runs): server RSS grew by 114 KB per such
client before these bounds (most of it asyncio's 64 KB default transport buffer, a per-client copy of frames the
feed shares), 47 KB after (uvicorn's, Starlette's and our per-connection objects); 4 s after they left the server
still held 56 MB before, 19 MB after. With ``--own-frames`` (each asks for its own ``max_clusters``, 200-cluster
windows) 910 KB per client before, 206 KB after.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from networkpulse.errors import PulseError
from networkpulse.serve.app import create_app

#: Kernel send buffer per connection (Linux doubles it). Autotuning would let it grow to ``tcp_wmem`` max
#: (4 MB by default) for a client that stopped reading: per-client kernel memory the app cannot see, and
#: seconds of frames buffered before that client's queue even starts to fill and it is told it dropped
#: some. 128 KB still moves a few MB/s per client at 100 ms RTT, far above the feed's rate.
SEND_BUFFER_BYTES = 128 * 1024
#: High-water mark of asyncio's per-connection write buffer (default 64 KB). The kernel buffer above already
#: absorbs bursts; a second user-space buffer only holds a *copy* of frames the live feed shares between
#: clients, per client. At 0 a send waits until the kernel took everything before it, so at most the unsent
#: rest of one frame stays in user space.
TRANSPORT_BUFFER_BYTES = 0
#: Largest message a client may send. The live feed reads nothing from clients; uvicorn's default (16 MB)
#: would let each connection make the server buffer 16 MB.
MAX_INCOMING_BYTES = 4096
#: Listen backlog, as uvicorn's default.
BACKLOG = 2048


class ListenError(PulseError):
    """The server cannot listen where it was asked to (port taken, unknown host, no permission)."""


class _WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol with a bounded transport buffer and a hard cut for stalled peers."""

    def connection_made(self, transport: object) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.transport.set_write_buffer_limits(high=TRANSPORT_BUFFER_BYTES)

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.send" and self.transport.is_closing():
            # The transport is going away (a reset seen on a write, our own abort) and uvicorn has not heard of
            # it yet: asyncio would drop the frame and log "socket.send() raised exception" for each one.
            raise ClientDisconnected()
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            # uvicorn does not count a denial response (serve.guard's 403 to another site's page) as the end of
            # the handshake, and then logs "ASGI callable returned without completing handshake" for each.
            self.handshake_complete = True

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        # uvicorn queues a close frame and calls transport.close(), which waits for the write buffer to drain:
        # a peer that stopped reading never lets it, so its connection, buffers and handler task would live
        # until TCP gives up (hours, with zero-window probes answered). Reset it instead; linger 0 makes the
        # kernel drop its send buffer and send RST, rather than keep an orphan socket retrying for minutes.
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class Server(uvicorn.Server):
    """uvicorn's server listening on sockets we bind (so failures raise :class:`ListenError`), with bounded
    per-connection send buffers and a ``ready(url)`` callback.

    ``ready`` gets the real URL once listening (so ``port=0`` works).
    """

    def __init__(self, config: uvicorn.Config, ready: Callable[[str], None] | None = None) -> None:
        super().__init__(config)
        self._ready = ready

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn reports a bind failure by logging and sys.exit(3), an exit status `pulse` defines otherwise
        # ("input skipped"); binding first turns it into an error that says what to do.
        if sockets is None:
            sockets = listen(self.config.host, self.config.port)
        try:
            await super().serve(sockets)
        finally:
            for sock in sockets:
                sock.close()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._ready is not None:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            self._ready(f"http://{shown}:{port}")


def listen(host: str, port: int) -> list[socket.socket]:
    """Listening TCP sockets for every address ``host`` resolves to, as asyncio's ``create_server`` would.

    Raises :class:`ListenError` saying which ``host:port`` failed, why, and how to fix it.
    """
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ListenError(
            f"cannot listen on {shown}: the host is not a name or address of this machine ({exc}). "
            "Use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface)"
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop
            if family == socket.AF_INET6:
                # One socket per family, as asyncio does; without this the IPv6 one would also claim IPv4.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # Accepted connections are cloned from the listening socket and inherit this.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            try:
                sock.bind(address)
            except OSError as exc:
                raise ListenError(f"cannot listen on {shown}: {_why(exc)}") from None
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _why(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            "the port is in use by another program (another `pulse serve`?). Stop it, or pick another port "
            "with --port (--port 0 picks a free one)"
        )
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need root). Use a port of 1024 or more, e.g. --port 8000"
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            "that address belongs to no interface of this machine. Use --host 127.0.0.1 (this machine only) "
            "or --host 0.0.0.0 (every interface)"
        )
    return f"{exc.strerror or exc}. Check --host and --port"


def uvicorn_config(app: FastAPI, host: str = "127.0.0.1", port: int = 8000) -> uvicorn.Config:
    """The uvicorn settings :func:`run` uses (tests and benchmarks start servers with the same ones)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        ws=_WebSocketProtocol,
        ws_max_size=MAX_INCOMING_BYTES,
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
    Returns normally after a clean shutdown on Ctrl-C. Raises at once, before serving anything:
    :class:`~networkpulse.errors.ConfigError` for a store URL that can never work,
    :class:`~networkpulse.errors.PulseError` for a file that is not a networkpulse store (one that does not
    exist *yet* is fine), and :class:`ListenError` when ``host:port`` cannot be listened on.
    """
    config = uvicorn_config(create_app(store_url), host, port)
    # uvicorn shuts down gracefully, then re-raises the captured Ctrl-C; the caller asked for a server that
    # runs until interrupted, so being interrupted is the normal end.
    with suppress(KeyboardInterrupt):
        Server(config, ready).run()
