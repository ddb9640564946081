"""``pulse export clusters`` as a user runs it: one JSON line per stored cluster per window, with its id, lineage
and brokers, after ``pulse run`` on a real hour."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.test_cli import DATA, pulse

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FIRST = ["start", "end", "cluster_id", "members", "event", "parents", "articulation_points", "bridges"]


def test_export_clusters_after_a_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    ran = pulse("run", DATA / "2013-02-15-0.json.gz", "--store", url)
    assert ran.returncode == 0, ran.stderr
    out = tmp_path / "clusters.jsonl"
    exported = pulse("export", "clusters", "--store", url, "-o", out)
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    windows = pulse("export", "windows", "--store", url)
    listed = sum(json.loads(line)["clusters"] for line in windows.stdout.splitlines())
    assert len(rows) == listed > 100
    assert f"{len(rows)} clusters of" in exported.stderr
    seen: dict[int, list[int]] = {}
    for r in rows:
        assert list(r)[: len(FIRST)] == FIRST
        assert ISO.match(r["start"]) and ISO.match(r["end"])
        assert r["event"] in {"born", "grew", "shrank", "steady", "merged", "split"}
        assert isinstance(r["cluster_id"], int) and all(isinstance(p, int) for p in r["parents"])
        assert set(r["articulation_points"]) <= set(r["members"]) and len(r["members"]) == r["size"] >= 3
        assert all(len(b) == 2 and set(b) <= set(r["members"]) for b in r["bridges"])
        if r["event"] == "born":
            assert r["cluster_id"] not in seen
        seen.setdefault(r["cluster_id"], []).append(r["window_id"])
    # No two clusters of one window share an id, and an id lives in consecutive windows only.
    assert all(v == list(range(v[0], v[0] + len(v))) for v in seen.values())
    assert any(r["event"] == "merged" for r in rows) and any(r["event"] == "split" for r in rows)
    assert any(r["articulation_points"] for r in rows) and any(r["bridges"] for r in rows)


def test_export_clusters_from_a_missing_store_exits_1(tmp_path: Path) -> None:
    result = pulse("export", "clusters", "--store", f"sqlite:///{tmp_path}/none.db")
    assert result.returncode == 1 and "no networkpulse store there" in result.stderr
    assert pulse("export", "clusters", "--store", "mysql://x").returncode == 2
