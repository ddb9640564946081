"""Real GH Archive data shaped the way users meet it (a day of hourly files), run through the installed `pulse`,
and stored windows read back in a form two runs can be compared by."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import sqlite3
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import psutil

from networkpulse.errors import StoreError
from networkpulse.store import open_store
from tests.test_cli import DATA, HOUR_2015, PULSE, pulse

__all__ = ["DATA", "HOUR_2015", "WINDOW", "day_folder", "kill_at_random_points", "pulse", "start", "stored",
           "windows_of"]

#: The window flags of every reliability test run.
WINDOW = ("--window", "10m", "--slide", "1m")


def start(*args: object) -> subprocess.Popen[str]:
    """``pulse ARGS`` in the background, with no PULSE_* variables inherited, output captured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    return subprocess.Popen([PULSE, *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


def stored(url: str) -> int:
    """The highest window id in the store at ``url`` (0 while it is empty or not created yet)."""
    try:
        with open_store(url, readonly=True) as store:
            return store.max_window_id() or 0
    except StoreError:
        return 0


def kill_at_random_points(cmd: tuple[object, ...], kills: int, rng: random.Random, url: str) -> int:
    """Run ``cmd`` again and again, killing it and its workers with SIGKILL ``kills`` times, then once to its end.

    Each kill lands at a random moment *after* that attempt has stored a window of its own (a fixed delay proved
    nothing on a loaded CI machine, where start-up alone outlasted it). Returns how many kills landed while the run
    was writing; the final run's exit code must be 0."""
    landed = 0
    for _ in range(kills):
        before = stored(url)
        proc = start(*cmd)
        deadline = time.monotonic() + 300
        while proc.poll() is None and stored(url) <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()  # workers too: a crash of the whole process group, the worst case for them
            proc.kill()
            landed += stored(url) > before
        proc.communicate()
    final = start(*cmd)
    _, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    return landed


def day_folder(folder: Path, hours: range = range(24)) -> Path:
    """A day of GH Archive hour files named the official way (``2015-01-01-7.json.gz``: the hour not zero-padded)
    made from the real 2015 hour: hour ``h`` holds its events moved to hour ``h`` (times only), minus a different
    fifth of them per hour, so every hour's graph differs."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = gzip.decompress(HOUR_2015.read_bytes()).splitlines(keepends=True)
    for h in hours:
        kept = [line for line in lines if zlib.crc32(line + bytes([h])) % 5]
        text = b"".join(kept).replace(b'"created_at":"2015-01-01T12:', b'"created_at":"2015-01-01T%02d:' % h)
        (folder / f"2015-01-01-{h}.json.gz").write_bytes(gzip.compress(text, compresslevel=1))
    return folder


def windows_of(db: Path) -> list[tuple[object, ...]]:
    """Every stored window as (bounds, counts, provisional, clusters as sorted member logins and edges as login
    pairs), oldest first: equal for two stores exactly when they hold the same windows, whatever their ids."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        login = dict(con.execute("SELECT id, login FROM accounts"))
        rows = con.execute(
            "SELECT w.start_ms, w.end_ms, w.events, w.interactions, w.vertices, w.edges, w.components, w.largest, "
            "w.late_events, w.n_clusters, w.provisional, c.sizes, c.members, c.edges "
            "FROM windows w LEFT JOIN clusters c ON c.window_id = w.id ORDER BY w.start_ms, w.end_ms"
        ).fetchall()
    out = []
    for *head, sizes, members, edges in rows:
        clusters = []
        if sizes is not None:
            size = np.frombuffer(sizes, "<i4")
            member = np.frombuffer(members, "<i4")
            pairs = np.frombuffer(edges, "<u2" if size.max() <= 1 << 16 else "<i4").reshape(-1, 2)
            at = 0
            for rank, n in enumerate(size.tolist()):
                names = [login[a] for a in member[at : at + n].tolist()]
                tree = pairs[at - rank : at + n - rank - 1].tolist()
                clusters.append((tuple(names), tuple(sorted(tuple(sorted((names[a], names[b]))) for a, b in tree))))
                at += n
        out.append((*head, tuple(clusters)))
    return out


def digest(windows: list[tuple[object, ...]]) -> str:
    return hashlib.sha256(repr(windows).encode()).hexdigest()[:16]
