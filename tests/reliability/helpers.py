"""Real GH Archive data shaped the way users meet it (a day of hourly files), run through the installed `pulse`,
and stored windows read back in a form two runs can be compared by."""

from __future__ import annotations

import gzip
import hashlib
import os
import sqlite3
import subprocess
import zlib
from pathlib import Path

import numpy as np

from tests.test_cli import DATA, HOUR_2015, PULSE, pulse

__all__ = ["DATA", "HOUR_2015", "day_folder", "pulse", "start", "windows_of"]


def start(*args: object) -> subprocess.Popen[str]:
    """``pulse ARGS`` in the background, with no PULSE_* variables inherited, output captured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    return subprocess.Popen([PULSE, *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


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
