"""Crash, restart and more than one writer (issue 9, items 8–11): the installed `pulse run` on a day of real hour
files, killed and run again, continued with the next files, refused as a second writer."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.reliability.helpers import WINDOW, kill_at_random_points, pulse, windows_of
from tests.reliability.helpers import start as _start
from tests.test_cli import PULSE


@pytest.mark.slow
def test_killed_runs_resume_to_the_undisturbed_windows(day: Path, tmp_path: Path, undisturbed) -> None:
    db = tmp_path / "chaos.db"
    rng = random.Random(int(os.environ.get("PULSE_CHAOS_SEED", "9")))
    url = f"sqlite:///{db}"
    landed = kill_at_random_points(("run", day, "--store", url, *WINDOW, "--workers", "2"), 4, rng, url)
    assert landed >= 1, "no kill landed during the run: the test proved nothing"
    assert windows_of(db) == undisturbed


@pytest.mark.slow
def test_split_run_equals_one_run(day: Path, tmp_path: Path, undisturbed) -> None:
    """An hourly job: hours 0–11, then 12–23, on one store: the windows across the boundary included."""
    db = tmp_path / "split.db"
    first = sorted(day.glob("*.json.gz"), key=lambda p: int(p.name.split("-")[3].split(".")[0]))
    for part in (first[:12], first[12:]):
        result = pulse("run", *part, "--store", f"sqlite:///{db}", *WINDOW)
        assert result.returncode == 0, result.stderr
    assert "continued the stream" in result.stderr
    assert windows_of(db) == undisturbed
    # Run twice: the input was consumed already, nothing changes.
    again = pulse("run", *first[12:], "--store", f"sqlite:///{db}", *WINDOW)
    assert again.returncode == 0 and "12 sources it had consumed were not read again" in again.stderr, again.stderr
    assert windows_of(db) == undisturbed


@pytest.mark.slow
def test_split_run_killed_at_random_points(day: Path, tmp_path: Path, undisturbed) -> None:
    db = tmp_path / "split-chaos.db"
    files = sorted(day.glob("*.json.gz"), key=lambda p: int(p.name.split("-")[3].split(".")[0]))
    rng = random.Random(11)
    for part in (files[:12], files[12:]):
        kill_at_random_points(("run", *part, "--store", f"sqlite:///{db}", *WINDOW), 2, rng, f"sqlite:///{db}")
    assert windows_of(db) == undisturbed


def test_another_window_configuration_is_refused_and_start_over_replaces(tmp_path: Path) -> None:
    from tests.reliability.helpers import HOUR_2015

    db = tmp_path / "cfg.db"
    assert pulse("run", HOUR_2015, "--store", f"sqlite:///{db}", *WINDOW).returncode == 0
    before = windows_of(db)
    other = pulse("run", HOUR_2015, "--store", f"sqlite:///{db}", "--window", "1h", "--slide", "10m")
    assert other.returncode == 1
    assert "written with --window 10m --slide 1m --lateness 0s --min-size 3" in other.stderr
    assert "asks for --window 1h --slide 10m" in other.stderr and "--start-over" in other.stderr
    assert "Traceback" not in other.stderr and windows_of(db) == before
    fresh = pulse("run", HOUR_2015, "--store", f"sqlite:///{db}", "--window", "1h", "--slide", "10m", "--start-over")
    assert fresh.returncode == 0, fresh.stderr
    assert {w[1] - w[0] for w in windows_of(db)} == {3_600_000}


def test_a_second_writer_is_refused_at_once(day: Path, tmp_path: Path) -> None:
    db = tmp_path / "two.db"
    first = _start("run", day, "--store", f"sqlite:///{db}", *WINDOW, "--speed", "100000x")
    try:
        deadline = time.monotonic() + 60
        while not (db.exists() and _count(db)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first.poll() is None, "the first run ended before the second started"
        started = time.monotonic()
        second = pulse("run", day, "--store", f"sqlite:///{db}", *WINDOW)
        assert time.monotonic() - started < 15
        assert second.returncode == 1
        assert f"another process (pid {first.pid}) is writing this store" in second.stderr, second.stderr
        served = pulse("export", "windows", "--store", f"sqlite:///{db}")  # readers stay welcome
        assert served.returncode == 0 and served.stdout.count("\n") >= 1
    finally:
        first.kill()
        first.communicate()


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT count(*) FROM windows").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_exit_with_their_run(day: Path, tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "orphans.db"
    proc = _start("run", day, "--store", f"sqlite:///{db}", *WINDOW, "--workers", "2")
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while len(parent.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = parent.children(recursive=True)
    assert len(workers) >= 2, "the run started no parsing workers"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"workers outlived their run: {alive}"
    if sig == signal.SIGTERM:  # like Ctrl-C: a summary of what was committed, and the same command goes on
        assert proc.returncode == 130, err
        assert "stopped early by a signal: everything above is committed" in err and "Traceback" not in err
        again = pulse("run", day, "--store", f"sqlite:///{db}", *WINDOW)
        assert again.returncode == 0 and "continued the stream" in again.stderr, again.stderr


def test_demo_removes_its_temporary_store_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.Popen([PULSE, "demo", "--port", "0", "--speed", "100000x"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "networkpulse demo: open http" in line, line
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("pulse-demo-")]
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert "demo stopped:" in err and "temporary store removed" in err and "Traceback" not in err, err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("pulse-demo-")]
