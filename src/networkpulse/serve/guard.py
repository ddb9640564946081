"""ASGI middleware around the app: security headers, HEAD as GET, and the WebSocket origin check.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``): each is one function call per request and never buffers a
body, so the live feed and file responses stream through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from networkpulse.errors import ConfigError

#: The UI and /docs load everything from this server. The graph layout runs in a web worker that
#: graphology-layout-forceatlas2 starts from a ``blob:`` URL; the favicon is a ``data:`` URL. ``'self'`` in
#: connect-src covers the same-origin ``ws:``/``wss:`` live feed (CSP Level 3). No inline script.
#: Inline *style* is allowed although neither the UI nor /docs needs it (tests/serve/test_browser.py checks
#: both under ``style-src 'self'``): Playwright's ``screenshot(style=...)``, which tests/browser uses to hide
#: overlays, injects a <style> element the stricter policy refuses. Styles cannot run code, and the UI writes
#: no HTML it did not ship (textContent only), so this costs little; drop it once those tests open their
#: pages with ``bypass_csp=True``.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    # frame-ancestors for browsers that predate it.
    (b"x-frame-options", b"DENY"),
    # Logins in URLs (/api/logins/{login}/history) are nobody else's business.
    (b"referrer-policy", b"no-referrer"),
]

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response (API, UI, docs, errors, WebSocket refusals)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGet:
    """Answers ``HEAD`` on every ``GET`` route: the same status and headers as ``GET``, no body (RFC 9110 9.3.2).

    FastAPI registers only the methods a route declares, so ``HEAD /api/health`` fell through to the static
    files and got a 404, while their 405 advertised ``Allow: GET, HEAD``. Running the ``GET`` keeps
    ``Content-Length`` and ``ETag`` exactly what ``GET`` would send, for every route at once; the cost is
    computing a body nobody reads, for a method clients use rarely.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)


class SameOriginWebSockets:
    """Refuses (403 with a ``detail``) WebSocket handshakes from another site's pages.

    Browsers let any page open a WebSocket to any host and send its ``Origin``; without this check a page
    on any site could read the live feed of a server on the visitor's machine or intranet (cross-site
    WebSocket hijacking). A handshake passes when it has no ``Origin`` (not a browser: curl, scripts), when
    the ``Origin``'s host and port are the ``Host`` it was sent to (the UI itself), or when the origin is in
    ``allowed_origins`` (``"*"`` allows every origin). Plain HTTP is untouched: the REST API sets no CORS
    headers, so browsers already keep other sites from reading it.
    """

    def __init__(self, app: ASGIApp, allowed_origins: Collection[str] = ()) -> None:
        self.app = app
        self.allow_all = "*" in allowed_origins
        self.allowed = {normalize_origin(origin) for origin in allowed_origins if origin != "*"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not self._allowed(scope):
            origin = _header(scope, b"origin")
            await _refuse(
                scope,
                receive,
                send,
                f"WebSocket from origin {origin!r} refused: only pages served by this server may connect. "
                "To allow another site, start the server with create_app(..., allowed_origins=[ORIGIN])",
            )
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        origin = _header(scope, b"origin")
        if origin is None or self.allow_all:
            return True
        try:
            normalized = normalize_origin(origin)
        except ConfigError:  # "null" (sandboxed frames, file: pages) and garbage
            return False
        if normalized in self.allowed:
            return True
        host = _header(scope, b"host")
        if host is None:
            return False
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        return urlsplit(normalized).netloc == _host_port(scheme, host)


def normalize_origin(origin: str) -> str:
    """``scheme://host:port`` in lower case with the port always written, as browsers compare origins.

    Raises :class:`ConfigError` for anything that is not an http(s) origin.
    """
    parts = urlsplit(origin.strip())
    scheme = parts.scheme.lower()
    try:
        valid = scheme in ("http", "https") and bool(parts.hostname) and parts.path in ("", "/")
        valid = valid and not parts.query and not parts.fragment and parts.username is None
        host_port = _host_port(scheme, parts.netloc) if valid else ""
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        raise ConfigError(
            "WebSocket origin", "an origin like https://example.org or http://127.0.0.1:8000, or *", origin
        )
    return f"{scheme}://{host_port}"


def _host_port(scheme: str, netloc: str) -> str:
    parts = urlsplit(f"//{netloc}")
    host = (parts.hostname or "").lower()
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{parts.port or _DEFAULT_PORTS[scheme]}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
    """403 with ``{"detail": ...}`` where the server can send a body on a handshake, a bare 403 otherwise."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
