"""Browser tests: a real headless Chromium (Debian's) driven by Playwright against the real `pulse demo`.

The session starts ``pulse demo --port P --store sqlite:///<tmp>/demo.db --no-browser`` once and waits for it
to serve a window. ``PULSE_BROWSER_URL=http://host:port`` points the tests at a server you already run
instead.
Screenshots land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import PageErrors, get_json, open_page

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "src" / "networkpulse" / "serve" / "static"
CHROMIUM = os.environ.get("PULSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Sigma draws with WebGL: without a GPU, ANGLE's software renderer provides it.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
SERVER_START_TIMEOUT_S = 120


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pulse_executable() -> str:
    beside = Path(sys.executable).with_name("pulse")
    found = str(beside) if beside.exists() else shutil.which("pulse")
    if not found:
        pytest.fail("the `pulse` command is not installed (pip install -e .)")
    return found


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a server with at least one window stored (``pulse demo`` unless PULSE_BROWSER_URL)."""
    if not (STATIC / "index.html").is_file():
        pytest.fail(f"the UI is not built ({STATIC} is empty): run scripts/build_web.sh")
    external = os.environ.get("PULSE_BROWSER_URL")
    if external:
        yield external.rstrip("/")
        return
    tmp = tmp_path_factory.mktemp("demo")
    port = _free_port()
    log_path = tmp / "pulse-demo.log"
    cmd = [
        _pulse_executable(),
        "demo",
        "--port",
        str(port),
        "--store",
        f"sqlite:///{tmp}/demo.db",
        "--no-browser",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                if get_json(base, "/api/health").get("latest_window_id") is not None:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"`pulse demo` served no window within {SERVER_START_TIMEOUT_S}s:\n"
                    f"{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.25)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium (or set PULSE_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def desktop(browser: Any, server: str) -> Iterator[tuple[Any, PageErrors]]:
    context, page, errors = open_page(browser, server, viewport={"width": 1366, "height": 900})
    yield page, errors
    context.close()
