"""Run the app under uvicorn, telling the caller the URL once the socket is listening."""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import suppress

import uvicorn

from networkpulse.serve.app import create_app


class _Server(uvicorn.Server):
    """uvicorn's server plus a ``ready(url)`` callback after bind, with the real port (``port=0`` works)."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[str], None] | None) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._ready is not None:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            self._ready(f"http://{shown}:{port}")


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
    config = uvicorn.Config(
        create_app(store_url),
        host=host,
        port=port,
        lifespan="on",
        # Live connections are long-lived: bound how long Ctrl-C waits for them before closing them.
        timeout_graceful_shutdown=3,
        log_level="warning",
    )
    # uvicorn shuts down gracefully, then re-raises the captured Ctrl-C; the caller asked for a server that
    # runs until interrupted, so being interrupted is the normal end.
    with suppress(KeyboardInterrupt):
        _Server(config, ready).run()
