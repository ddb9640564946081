"""/docs and the UI in a real headless Chromium with every request to another origin cut: they must work
offline and under the server's Content-Security-Policy without its ``'unsafe-inline'`` for styles (which is
there only for tests/browser's screenshot tooling; see serve.guard), with no violation reported."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from networkpulse.serve import guard
from networkpulse.serve.app import STATIC_DIR
from networkpulse.store.base import Store
from tests.serve.helpers import LOGINS, STATS, LiveServer, busy_window

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("PULSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]

#: Runs in every page before its own scripts: collects what the CSP refused.
STRICT_CSP = guard.CONTENT_SECURITY_POLICY.replace(" 'unsafe-inline'", "")
assert STRICT_CSP != guard.CONTENT_SECURITY_POLICY

WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


async def _visit(base: str, path: str, ready: str) -> dict[str, Any]:
    """Load ``base + path`` with other origins unreachable; wait for ``ready`` (a JS expression)."""
    from playwright.async_api import Route, async_playwright

    origin = urlsplit(base).netloc
    elsewhere: list[str] = []
    errors: list[str] = []

    async def offline(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob"):
            await route.continue_()
        elif urlsplit(url).netloc != origin:
            elsewhere.append(url)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.add_init_script(WATCH_CSP)
            await page.route("**/*", offline)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            document = await page.goto(base + path)
            assert document is not None
            await page.wait_for_function(ready, timeout=30_000)
            await page.wait_for_timeout(500)  # late requests and violations
            return {
                "elsewhere": elsewhere,
                "errors": errors,
                "violations": await page.evaluate("window.__cspViolations"),
                "page": await page.evaluate("document.title"),
                "operations": await page.locator(".opblock").count(),
                "policy": await document.header_value("content-security-policy"),
            }
        finally:
            await browser.close()


def visit(base: str, path: str, ready: str) -> dict[str, Any]:
    # In a thread of its own: the session's other browser tests keep a Playwright event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _visit(base, path, ready)).result()


@pytest.fixture
def ui_server(filled: list[int], writer: Store, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium (or set PULSE_CHROMIUM)")
    if not (STATIC_DIR / "docs" / "index.html").is_file():
        pytest.fail(f"the web build is missing or stale ({STATIC_DIR}): run bash scripts/build_web.sh")
    writer.write([busy_window(3, n_clusters=5, size=8)], LOGINS, STATS)  # the latest window has a graph
    # The server (in this process) sends the policy without inline styles.
    strict = [(n, STRICT_CSP.encode() if n == b"content-security-policy" else v) for n, v in guard.SECURITY_HEADERS]
    monkeypatch.setattr(guard, "SECURITY_HEADERS", strict)
    with LiveServer(store_url) as server:
        yield server


def test_docs_render_offline_under_the_csp(ui_server: LiveServer) -> None:
    seen = visit(ui_server.http, "/docs", "() => document.querySelectorAll('.opblock').length >= 14")
    assert seen["policy"] == STRICT_CSP
    assert seen["operations"] == 14  # every GET route of docs/api.md
    assert seen["elsewhere"] == [] and seen["violations"] == [] and seen["errors"] == [], seen


def test_ui_runs_offline_under_the_csp(ui_server: LiveServer) -> None:
    """The live feed connects, the latest window's graph is drawn, the layout worker (a blob: URL) starts."""
    ready = "() => window.__pulse && window.__pulse.status === 'live' && window.__pulse.renderedNodes > 0"
    seen = visit(ui_server.http, "/", ready)
    assert seen["policy"] == STRICT_CSP
    assert seen["elsewhere"] == [] and seen["violations"] == [] and seen["errors"] == [], seen
