"""The ASGI app: the read-only REST API of ``docs/api.md``, the live feed, and the static UI.

The server never writes: it opens the store read-only with its own connections (see
:mod:`networkpulse.serve.reader`), so it can run beside the pipeline in one process or against a database file
another process writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from networkpulse.serve.guard import HeadAsGet, SameOriginWebSockets, SecurityHeaders, normalize_origin
from networkpulse.serve.live import Broadcaster, serve_client
from networkpulse.serve.lives import life_routes, with_life
from networkpulse.serve.models import (
    MAX_ID,
    ClusterDetail,
    DroppedFrame,
    Health,
    HelloFrame,
    LoginHistory,
    Stats,
    WindowDetail,
    WindowFrame,
    WindowPage,
)
from networkpulse.serve.params import ERRORS, NOT_FOUND, Login, MaxClusters, Rank, WindowId, found
from networkpulse.serve.reader import StoreReader

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

#: What ``/api/stats`` answers before the pipeline has written anything.
EMPTY_STATS: dict[str, Any] = {
    "events": 0, "interactions": 0, "kept_events": 0, "filtered_events": 0, "filtered_share": 0.0,
    "dropped": {}, "late_events": 0, "skipped_lines": 0, "windows": 0, "events_per_s": 0.0,
    "updated": None, "updated_ms": None,
}  # fmt: skip

# No inline style: the Content-Security-Policy (serve.guard) allows none.
_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>networkpulse</title></head>
<body>
<h1>networkpulse</h1>
<p>The web UI {what} is not built in this installation. Build it with <code>bash scripts/build_web.sh</code>
(the npm build of <code>web/</code> into <code>src/networkpulse/serve/static/</code>) and reload.</p>
<p>The API works without it: <a href="/openapi.json">/openapi.json</a>,
<a href="/api/windows/latest">/api/windows/latest</a>, <a href="/api/stats">/api/stats</a>.</p>
</body></html>
"""


def create_app(
    store_url: str,
    *,
    static_dir: Path | None = None,
    poll_interval_s: float = 0.02,
    allowed_origins: Collection[str] = (),
) -> FastAPI:
    """Build the app for the store at ``store_url`` (opened read-only, lazily: it may not exist yet).

    ``static_dir`` is the built UI (default: the package's ``serve/static``); ``poll_interval_s`` is how often
    the live feed checks for new windows; ``allowed_origins`` are the origins (``https://example.org``, or
    ``"*"`` for any) of *other* sites whose pages may open the live feed; pages of this server always may.
    Raises :class:`~networkpulse.errors.ConfigError` for an unusable URL or origin and
    :class:`~networkpulse.errors.PulseError` for a store file that is not a networkpulse store.
    """
    static = static_dir if static_dir is not None else STATIC_DIR
    origins = tuple(allowed_origins)
    for origin in origins:  # a typo fails now, not as refused connections later
        if origin != "*":
            normalize_origin(origin)
    api_reader = StoreReader(store_url, workers=4, name="pulse-api")
    # The poller has its own connection so a burst of API reads never delays the live feed.
    poll_reader = StoreReader(store_url, workers=1, name="pulse-live")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One broadcaster per lifespan: its asyncio objects belong to this event loop, and test clients run
        # the lifespan of one app several times, each on a new loop. Readers restart on their next call.
        broadcaster = Broadcaster(poll_reader, poll_interval_s=poll_interval_s)
        poller = asyncio.create_task(broadcaster.run(), name="pulse-live-poller")
        app.state.live = broadcaster
        try:
            yield
        finally:
            app.state.live = None
            broadcaster.close()
            poller.cancel()
            with suppress(asyncio.CancelledError):
                await poller
            api_reader.close()
            poll_reader.close()

    app = _GuardedApp(
        origins,
        title="networkpulse",
        version="0.1.0",
        summary="Connected components of GitHub interactions over event-time windows, live.",
        description="Read-only API over the window store. Live feed: `WS /api/live?since=ID&max_clusters=20` "
        "(see docs/api.md); a `dropped` frame's `resume_from` is the first skipped window id.",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc load their scripts from a CDN (blank offline, refused by our CSP); the
        # web build serves Swagger UI from static/docs/ instead (routes below).
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe(exc)}, status_code=422)

    @app.exception_handler(WebSocketRequestValidationError)
    async def _invalid_live(websocket: WebSocket, exc: WebSocketRequestValidationError) -> None:
        # Refusing the handshake (FastAPI's default) gives a bare 403 that browsers do not even show to the
        # page; accepting and closing with 1008 hands the page a reason it can read in CloseEvent.reason.
        await websocket.accept()
        await websocket.close(code=1008, reason=_close_reason(_describe(exc, short=True)))

    @app.get("/api/windows", response_model=WindowPage, responses=ERRORS, tags=["windows"])
    async def list_windows(
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 50,
        before: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Only ids < before.")] = None,
    ) -> dict[str, Any]:
        """Window summaries, newest first, one page at a time."""
        # One more than asked tells whether an older page exists, so next_before is null exactly at the end.
        rows = await api_reader.call(lambda s: s.windows(limit=limit + 1, before=before), [])
        more = len(rows) > limit
        rows = rows[:limit]
        return {"windows": rows, "next_before": rows[-1]["id"] if more else None}

    @app.get("/api/windows/latest", response_model=WindowDetail, responses=NOT_FOUND, tags=["windows"])
    async def latest_window(max_clusters: MaxClusters = 50) -> dict[str, Any]:
        """The newest window with its largest clusters; 404 while the store is empty."""
        window = await api_reader.call(lambda s: with_life(s, s.latest(max_clusters=max_clusters)), None)
        return found(window, "no window is stored yet; the pipeline has not written one")

    @app.get("/api/windows/{window_id}", response_model=WindowDetail, responses=NOT_FOUND, tags=["windows"])
    async def get_window(window_id: WindowId, max_clusters: MaxClusters = 50) -> dict[str, Any]:
        """One window with its largest clusters."""
        window = await api_reader.call(lambda s: with_life(s, s.window(window_id, max_clusters=max_clusters)), None)
        return found(window, f"window {window_id} is not stored (never written, or removed by retention)")

    @app.get(
        "/api/windows/{window_id}/clusters/{rank}",
        response_model=ClusterDetail,
        responses=NOT_FOUND,
        tags=["windows"],
    )
    async def get_cluster(
        window_id: WindowId,
        rank: Rank,
    ) -> dict[str, Any]:
        """One cluster of a window, all members and spanning-tree edges, with its id and lineage event."""
        cluster = await api_reader.call(lambda s: with_life(s, s.cluster(window_id, rank)), None)
        return found(cluster, f"window {window_id} has no stored cluster of rank {rank}")

    @app.get("/api/logins/{login}/history", response_model=LoginHistory, responses=ERRORS, tags=["logins"])
    async def login_history(
        login: Login,
        limit: Annotated[int, Query(ge=1, le=1000, description="Most recent entries to return.")] = 100,
    ) -> dict[str, Any]:
        """Every stored cluster ``login`` was in, newest window first (empty if never seen)."""
        history = await api_reader.call(lambda s: s.login_history(login, limit=limit), [])
        return {"login": login, "history": history}

    app.include_router(life_routes(api_reader))

    @app.get("/api/stats", response_model=Stats, tags=["pipeline"])
    async def stats() -> dict[str, Any]:
        """Pipeline counters as last written (zeros before the first write)."""
        return await api_reader.call(lambda s: s.stats(), EMPTY_STATS)

    @app.get("/api/health", response_model=Health, tags=["pipeline"])
    async def health() -> dict[str, Any]:
        """Liveness and the newest window id."""
        latest = await api_reader.call(lambda s: s.max_window_id(), None)
        return {"status": "ok", "latest_window_id": latest}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus metrics: the store's counters (the numbers of /api/stats), live clients, dropped frames."""
        from networkpulse.metrics import CONTENT_TYPE, render_serve_metrics

        counters = await api_reader.call(lambda s: s.stats(), EMPTY_STATS)
        broadcaster: Broadcaster | None = getattr(app.state, "live", None)
        body = render_serve_metrics(
            counters,
            live_clients=broadcaster.clients if broadcaster else 0,
            frames_dropped=broadcaster.frames_dropped if broadcaster else 0,
        )
        return Response(body, media_type=CONTENT_TYPE)

    @app.websocket("/api/live")
    async def live(
        websocket: WebSocket,
        since: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        max_clusters: Annotated[int, Query(ge=0, le=200)] = 20,
    ) -> None:
        broadcaster: Broadcaster | None = getattr(websocket.app.state, "live", None)
        if broadcaster is None:  # only when the server runs the app without its lifespan
            await websocket.close(code=1011, reason="live feed not running: start the app with its lifespan")
            return
        await serve_client(websocket, broadcaster, api_reader, since=since, max_clusters=max_clusters)

    @app.get("/", include_in_schema=False, response_model=None)
    async def index() -> FileResponse | HTMLResponse:
        # Checked per request: the UI build may land while the server runs.
        page = static / "index.html"
        return FileResponse(page) if page.is_file() else HTMLResponse(_NOT_BUILT.format(what=""))

    @app.get("/docs", include_in_schema=False)
    async def docs_redirect() -> RedirectResponse:
        # Relative, so the page's relative asset URLs resolve under /docs/ even behind a path prefix.
        return RedirectResponse("docs/")

    @app.get("/docs/", include_in_schema=False, response_model=None)
    async def docs() -> FileResponse | HTMLResponse:
        """Swagger UI for /openapi.json, every asset served from static/docs/ (no CDN: works offline)."""
        page = static / "docs" / "index.html"
        return FileResponse(page) if page.is_file() else HTMLResponse(_NOT_BUILT.format(what="(/docs)"))

    _document_live_frames(app)
    # Assets of the built UI; API routes above take precedence, anything else unknown is a JSON 404.
    app.mount("/", _UiFiles(directory=static, html=True, check_dir=False), name="static")
    return app


def _document_live_frames(app: FastAPI) -> None:
    """Add the live feed's frame models to ``/openapi.json`` components (OpenAPI has no WebSocket paths).

    The UI is written against this document; the frames belong in it as much as the REST shapes do.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().setdefault("components", {}).setdefault("schemas", {})
            for model in (HelloFrame, WindowFrame, DroppedFrame):
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, nested in schema.pop("$defs", {}).items():
                    schemas.setdefault(name, nested)
                schemas[model.__name__] = schema
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


class _GuardedApp(FastAPI):
    """FastAPI with :mod:`networkpulse.serve.guard`'s middleware outermost.

    ``add_middleware`` would put it inside Starlette's error middleware, so 500 pages would go out without the
    security headers; wrapping the whole stack covers every response.
    """

    def __init__(self, allowed_origins: tuple[str, ...], **kwargs: Any) -> None:
        self._allowed_origins = allowed_origins
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        inner = super().build_middleware_stack()
        return SecurityHeaders(HeadAsGet(SameOriginWebSockets(inner, self._allowed_origins)))


class _UiFiles(StaticFiles):
    """The built UI's files. Without a build the folder may be missing: that is a 404, not a 500."""

    async def check_config(self) -> None:
        if self.directory is not None and not Path(self.directory).is_dir():
            raise HTTPException(status_code=404, detail="the web UI is not built: bash scripts/build_web.sh")
        await super().check_config()

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        # Python's mimetypes knows no .map, so source maps went out as text/plain.
        if str(full_path).endswith(".map") and "content-type" in response.headers:
            response.headers["content-type"] = "application/json"
        return response


def _describe(exc: RequestValidationError | WebSocketRequestValidationError, *, short: bool = False) -> str:
    """One sentence per problem: where (``query.limit``, or just ``limit`` if ``short``), what pydantic says
    (what was expected), and the value we got."""
    parts = []
    for error in exc.errors():
        loc = error.get("loc", ())
        where = str(loc[-1]) if short and loc else ".".join(str(p) for p in loc)
        got = error.get("input")
        parts.append(f"{where}: {error.get('msg', 'invalid')} (got {got!r})")
    return "; ".join(parts) or "invalid request"


def _close_reason(text: str) -> str:
    """``text`` cut to the 123 bytes of UTF-8 a WebSocket close reason may hold (RFC 6455 5.5)."""
    data = text.encode()
    if len(data) <= 123:
        return text
    return data[:120].decode(errors="ignore") + "..."
