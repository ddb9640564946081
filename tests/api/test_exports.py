"""`pulse export graph` (GEXF, GraphML) and `pulse export windows --format parquet`, read back with networkx and
pyarrow, against a store `pulse run` wrote from a real GH Archive hour."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pyarrow.parquet as pq
import pytest

from networkpulse.cli_exports import exportable, write_graph
from networkpulse.notebook import cluster_graph, connect
from tests.api.helpers import PULSE, jsonl, pulse

READERS: dict[str, Callable[[Path], nx.Graph]] = {"gexf": nx.read_gexf, "graphml": nx.read_graphml}


def _busiest(store_url: str) -> int:
    with connect(store_url) as store:
        return max(store.iter_windows(), key=lambda w: w["clusters"])["id"]


def _same_graph(read: nx.Graph, expected: nx.Graph) -> None:
    assert set(read.nodes) == set(expected.nodes)
    assert {frozenset(e) for e in read.edges} == {frozenset(e) for e in expected.edges}
    for node, attrs in expected.nodes(data=True):
        got = dict(read.nodes[node])
        if "label" not in got:  # GraphML has no label of its own; GEXF keeps it as the node's label
            got["label"] = node
        assert got == attrs, node


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_window_graph_file_reads_back_to_the_same_graph(store_2015: str, tmp_path: Path, fmt: str) -> None:
    window = _busiest(store_2015)
    out = tmp_path / f"w.{fmt}"
    done = pulse("export", "graph", "--store", store_2015, "--window", str(window), "--format", fmt, "-o", out)
    assert done.returncode == 0, done.stderr
    with connect(store_2015) as store:
        expected = store.window_graph(window)
    assert expected.number_of_nodes() > 50 and nx.number_connected_components(expected) > 10
    assert f"{expected.number_of_nodes()} nodes, {expected.number_of_edges()} edges written as {fmt.upper()}" \
        in done.stderr
    _same_graph(READERS[fmt](out), expected)


@pytest.mark.parametrize("suffix", ["gexf", "graphml"])
def test_one_cluster_latest_window_format_from_suffix(store_2015: str, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"c.{suffix}"
    done = pulse("export", "graph", "--store", store_2015, "--window", "latest", "--cluster", "0", "-o", out)
    assert done.returncode == 0, done.stderr
    with connect(store_2015) as store:
        expected = store.cluster_graph("latest", 0)
    read = READERS[suffix](out)  # the suffix chose the format: the other reader would fail
    _same_graph(read, expected)
    assert nx.is_connected(read)


def test_graph_to_stdout_and_bad_requests(store_2015: str, tmp_path: Path) -> None:
    done = pulse("export", "graph", "--store", store_2015, "--format", "graphml")
    assert done.returncode == 0 and done.stdout.startswith("<?xml") and "<graphml" in done.stdout
    missing = pulse("export", "graph", "--store", store_2015, "--window", "99999", "-o", tmp_path / "x.gexf")
    assert missing.returncode == 1 and "window 99999 is not stored" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = pulse("export", "graph", "--store", store_2015, "--window", "last")
    assert bad.returncode == 2 and "expected a window id" in bad.stderr
    rank = pulse("export", "graph", "--store", store_2015, "--cluster", "999")
    assert rank.returncode == 1 and "expected a rank in 0.." in rank.stderr


def test_structured_attributes_are_written_as_json_text(tmp_path: Path) -> None:
    """Issue 7's fields (bools, lists) survive both formats: flags as booleans, lists as JSON text."""
    cluster = {"rank": 0, "size": 3, "members": ["a", "b", "c"], "edges": [[0, 1], [1, 2]], "cluster_id": 7,
               "articulation_points": ["b"], "bridges": [["a", "b"]], "parents": [1, 2], "note": None}
    graph = cluster_graph(cluster)
    for fmt, reader in READERS.items():
        path = tmp_path / f"g.{fmt}"
        with open(path, "wb") as out:
            write_graph(exportable(graph), out, fmt)
        read = reader(path)
        assert read.nodes["b"]["articulation_points"] is True and read.nodes["a"]["articulation_points"] is False
        assert read.nodes["a"]["cluster_id"] == 7
        assert read.edges["a", "b"]["bridges"] is True and read.edges["b", "c"]["bridges"] is False
    assert nx.read_graphml(tmp_path / "g.graphml").graph["parents"] == "[1, 2]"


def _as_json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A Parquet row in the JSON lines' spelling: timestamps as ISO 8601 Z, no null ``extra`` in clusters."""
    out = dict(row)
    out["start"] = row["start"].strftime("%Y-%m-%dT%H:%M:%SZ")
    out["end"] = row["end"].strftime("%Y-%m-%dT%H:%M:%SZ")
    if "cluster_list" in row:
        out["cluster_list"] = [{k: v for k, v in c.items() if not (k == "extra" and v is None)}
                               for c in row["cluster_list"]]
    return out


@pytest.mark.parametrize("clusters", ["0", "5"])
def test_parquet_reads_back_to_the_same_rows_as_jsonl(store_2015: str, tmp_path: Path, clusters: str) -> None:
    out = tmp_path / "windows.parquet"
    done = pulse("export", "windows", "--store", store_2015, "--format", "parquet", "--clusters", clusters, "-o", out)
    assert done.returncode == 0, done.stderr
    assert "69 windows exported" in done.stderr
    lines = jsonl(pulse("export", "windows", "--store", store_2015, "--clusters", clusters).stdout)
    table = pq.read_table(out)
    assert str(table.schema.field("start").type) == "timestamp[ms, tz=UTC]"
    rows = [_as_json_row(r) for r in table.to_pylist()]
    assert len(rows) == len(lines) == 69
    for row, line in zip(rows, lines, strict=True):
        assert row == line
    if clusters != "0":
        assert sum(len(r["cluster_list"]) for r in rows) > 100


def test_parquet_to_a_pipe(store_2015: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    done = subprocess.run([PULSE, "export", "windows", "--store", store_2015, "--format", "parquet"],
                          capture_output=True, stdin=subprocess.DEVNULL, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "piped.parquet"
    path.write_bytes(done.stdout)
    assert pq.read_table(path).num_rows == 69
