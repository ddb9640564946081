"""HTTP hardening over a real uvicorn server: HEAD, security headers, content types, /docs offline, and the
WebSocket origin check."""

from __future__ import annotations

import asyncio
import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from networkpulse.errors import ConfigError
from networkpulse.serve import create_app
from networkpulse.serve.app import STATIC_DIR
from tests.serve.helpers import LiveServer

GET_PATHS = [
    "/api/health",
    "/api/stats",
    "/api/windows",
    "/api/windows/latest",
    "/api/windows/{first}",
    "/api/windows/{first}/clusters/0",
    "/api/logins/alice/history",
    "/openapi.json",
    "/",
]


@pytest.mark.parametrize("path", [*GET_PATHS, "/api/windows/987654", "/api/windows/abc"])
def test_head_answers_like_get_without_a_body(filled: list[int], live_server: LiveServer, path: str) -> None:
    url = live_server.http + path.format(first=filled[0])
    get, head = httpx.get(url), httpx.head(url)
    assert head.status_code == get.status_code
    assert head.content == b""
    for name in ("content-type", "content-length", "content-security-policy"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_a_405_advertises_only_methods_that_work(filled: list[int], live_server: LiveServer) -> None:
    refused = httpx.post(f"{live_server.http}/api/health")
    assert refused.status_code == 405
    for method in (m.strip() for m in refused.headers["allow"].split(",")):
        assert httpx.request(method, f"{live_server.http}/api/health").status_code == 200, method


def _assert_secure(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", response.url
    csp = {d.split()[0]: d.split()[1:] for d in headers["content-security-policy"].split(";") if d.strip()}
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"], csp
    assert csp["frame-ancestors"] == ["'none'"]
    assert all("'unsafe-inline'" not in csp[d] and "'unsafe-eval'" not in csp[d] for d in ("script-src", "default-src"))
    assert csp["connect-src"] == ["'self'"] and csp["object-src"] == ["'none'"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/health", 200),
        ("GET", "/api/windows/987654", 404),
        ("GET", "/api/windows?limit=0", 422),
        ("GET", "/api/nothing-here", 404),
        ("POST", "/api/windows", 405),
        ("HEAD", "/api/stats", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/", 200),
        ("GET", "/docs", 307),
        ("GET", "/docs/", 200),
        ("GET", "/app.js", None),
    ],
)
def test_every_response_carries_the_security_headers(
    filled: list[int], live_server: LiveServer, method: str, path: str, status: int | None
) -> None:
    response = httpx.request(method, live_server.http + path)
    if status is not None:
        assert response.status_code == status
    _assert_secure(response)


def test_source_maps_are_json(tmp_path: Path, store_url: str) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>ui</title><script src='app.js'></script>")
    (tmp_path / "app.js").write_text("console.log(1)\n//# sourceMappingURL=app.js.map\n")
    (tmp_path / "app.js.map").write_text('{"version": 3, "sources": [], "mappings": ""}')
    with LiveServer(store_url, static_dir=tmp_path) as server:
        response = httpx.get(f"{server.http}/app.js.map")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["version"] == 3


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            if values.get("src"):
                self.urls.append(values["src"] or "")
            else:
                self._in_script = True
        elif tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")
        if "style" in values:
            self.inline_scripts += 1  # an inline style attribute is refused by the CSP as well

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def test_docs_load_only_from_this_server(live_server: LiveServer) -> None:
    """/docs must work with no network: every script and style it loads is same-origin and served here."""
    if not (STATIC_DIR / "docs" / "index.html").is_file():
        pytest.fail(f"the web build is missing or stale ({STATIC_DIR / 'docs'}): run bash scripts/build_web.sh")
    with httpx.Client(base_url=live_server.http, follow_redirects=True) as http:
        page = http.get("/docs")
        assert page.status_code == 200 and page.url.path == "/docs/"
        assert page.headers["content-type"].startswith("text/html")
        assets = _Assets()
        assets.feed(page.text)
        assert assets.inline_scripts == 0  # the CSP would refuse them
        scripts = [u for u in assets.urls if u.endswith(".js")]
        assert scripts and any(u.endswith(".css") for u in assets.urls)
        for url in assets.urls:
            absolute = urljoin(str(page.url), url)
            assert urlsplit(absolute).netloc == urlsplit(live_server.http).netloc, url
            asset = http.get(absolute)
            assert asset.status_code == 200, url
            kind = {"js": "javascript", "css": "text/css", "png": "image/png"}[url.rsplit(".", 1)[1]]
            assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
        init = http.get(urljoin(str(page.url), scripts[-1])).text
        assert "openapi.json" in init and "validatorUrl: null" in init  # no third-party badge request either
        assert http.get("/openapi.json").json()["info"]["title"] == "networkpulse"
        assert http.get("/redoc").status_code == 404  # FastAPI's CDN-based ReDoc is switched off


def test_docs_say_how_to_build_them_when_missing(tmp_path: Path, store_url: str) -> None:
    with LiveServer(store_url, static_dir=tmp_path) as server:
        page = httpx.get(f"{server.http}/docs", follow_redirects=True)
    assert page.status_code == 200 and "scripts/build_web.sh" in page.text
    _assert_secure(page)


def _hello(url: str, **options: object) -> dict[str, object]:
    async def scenario() -> dict[str, object]:
        async with connect(url, **options) as ws:  # type: ignore[arg-type]
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    return asyncio.run(scenario())


def _refusal(url: str, origin: str) -> str:
    """The ``detail`` of the 403 refusing a handshake sent with ``origin``."""

    async def scenario() -> InvalidStatus:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, origin=origin):  # type: ignore[arg-type]
                pass
        return refused.value

    response = asyncio.run(scenario()).response
    assert response.status_code == 403
    _assert_secure(httpx.Response(403, headers=list(response.headers.raw_items())))
    assert response.headers["content-type"] == "application/json"
    return json.loads(response.body)["detail"]


def test_live_feed_refuses_other_sites_pages(filled: list[int], live_server: LiveServer) -> None:
    url = f"{live_server.ws}/api/live"
    assert _hello(url)["type"] == "hello"  # no Origin: not a browser
    assert _hello(url, origin=f"http://{live_server.host}:{live_server.port}")["type"] == "hello"  # the UI
    for origin in ("http://evil.example", f"http://{live_server.host}:1", "null", f"https://{live_server.host}"):
        detail = _refusal(url, origin)
        assert origin in detail and "allowed_origins" in detail


def test_allowed_origins_open_the_feed_to_other_sites(filled: list[int], store_url: str) -> None:
    with LiveServer(store_url, allowed_origins=["https://Dash.Example.org:443"]) as server:
        url = f"{server.ws}/api/live"
        assert _hello(url, origin="https://dash.example.org")["type"] == "hello"
        _refusal(url, "https://other.example.org")
    with LiveServer(store_url, allowed_origins=["*"]) as server:
        assert _hello(f"{server.ws}/api/live", origin="https://anyone.example")["type"] == "hello"


@pytest.mark.parametrize("origin", ["dash.example.org", "https://dash.example.org/path", "ftp://x.org", ""])
def test_a_malformed_allowed_origin_fails_at_once(store_url: str, origin: str) -> None:
    with pytest.raises(ConfigError, match="WebSocket origin"):
        create_app(store_url, allowed_origins=[origin])
