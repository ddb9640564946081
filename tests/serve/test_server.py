"""`pulse serve` as a user runs it (the installed entry point in a subprocess): refusing at start what can never
work, with exit status 1 and one line saying what, where and how to fix; starting on what will work later."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_cli import PULSE


def serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``pulse serve ARGS`` expected to end by itself (a refusal); no PULSE_* variables inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    return subprocess.run(
        [PULSE, "serve", *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def assert_refused(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr  # one line, no traceback
    for text in expected:
        assert text in lines[0], (text, lines[0])


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_port_in_use_exits_1_saying_which_and_what_to_do(tmp_path: Path, taken_port: int) -> None:
    result = serve("--store", f"sqlite:///{tmp_path / 'p.db'}", "--port", str(taken_port))
    assert_refused(result, f"127.0.0.1:{taken_port}", "in use", "--port")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("no-such-host.invalid", "not a name or address of this machine"),
        ("300.1.1.1", "not a name or address of this machine"),
        ("192.0.2.1", "belongs to no interface of this machine"),  # TEST-NET-1: valid, never local
    ],
)
def test_bad_host_exits_1_saying_which_and_what_to_do(tmp_path: Path, host: str, expected: str) -> None:
    result = serve("--store", f"sqlite:///{tmp_path / 'p.db'}", "--host", host, "--port", "0")
    assert_refused(result, f"cannot listen on {host}:0", expected, "--host 127.0.0.1")


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _another_apps_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        con.execute("INSERT INTO invoices (total) VALUES (12.5)")
    con.close()


@pytest.mark.parametrize("make", [_random_bytes, _another_apps_sqlite], ids=["random-bytes", "another-app-db"])
def test_a_file_that_is_not_a_store_is_refused_at_start(tmp_path: Path, make: object) -> None:
    db = tmp_path / "x.db"
    make(db)  # type: ignore[operator]
    before = db.read_bytes()
    result = serve("--store", f"sqlite:///{db}", "--port", "0")
    assert_refused(result, str(db), "not")
    assert db.read_bytes() == before  # looked at, never touched


@pytest.mark.parametrize("state", ["missing", "empty-file", "sqlite-without-schema"])
def test_a_store_that_is_not_there_yet_is_served(tmp_path: Path, state: str) -> None:
    """``pulse demo`` starts the server while the pipeline creates the store: these must not be refused."""
    db = tmp_path / "later.db"
    if state == "empty-file":
        db.touch()
    elif state == "sqlite-without-schema":
        sqlite3.connect(db).execute("PRAGMA journal_mode=WAL").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    proc = subprocess.Popen(
        [PULSE, "serve", "--store", f"sqlite:///{db}", "--port", "0"],
        env=env, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("serving "), line + proc.stderr.read()
        url = line.split(" at ")[1].strip().rstrip("/")
        assert httpx.get(f"{url}/api/health").json() == {"status": "ok", "latest_window_id": None}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
