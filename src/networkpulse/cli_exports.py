"""``pulse export graph`` (GEXF/GraphML for Gephi, yEd, Cytoscape) and the Parquet writer of ``pulse export windows``.

Registered on :data:`networkpulse.cli.export` by the import at the end of ``cli.py``. Both need the ``notebook``
extra (networkx, pyarrow); without it they exit 1 with the install command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import click

from networkpulse.cli import _env, _shown, _store_url, export
from networkpulse.errors import MissingExtraError, PulseError

if TYPE_CHECKING:
    import networkx as nx
    import pyarrow as pa

    from networkpulse.notebook import WindowRef
    from networkpulse.store import Store

GRAPH_FORMATS = ("gexf", "graphml")
_SUFFIXES = {".gexf": "gexf", ".graphml": "graphml", ".xml": "graphml"}
_PAGE = 1000


def _window_ref(ctx: click.Context, param: click.Parameter, value: str) -> int | str:
    text = value.strip().lower()
    if text == "latest":
        return "latest"
    if text.isdigit():
        return int(text)
    raise click.BadParameter(f"expected a window id (a whole number, as `pulse export windows` lists) or 'latest', "
                             f"got {value!r}")


@export.command("graph")
@click.option("--store", "store_url", default="sqlite:///pulse.db", show_default=True, callback=_store_url,
              help="The store to read (sqlite:///path.db or postgresql://…), opened read-only.", **_env("STORE"))
@click.option("--window", "window", default="latest", show_default=True, callback=_window_ref,
              help="Window id, or 'latest' for the newest stored window.", **_env("GRAPH_WINDOW"))
@click.option("--cluster", "rank", type=click.IntRange(min=0), default=None,
              help="Only this cluster (0 = the largest) instead of every stored cluster of the window.",
              **_env("GRAPH_CLUSTER"))
@click.option("--format", "fmt", type=click.Choice(GRAPH_FORMATS), default=None,
              help="File format [default: from the -o suffix (.gexf, .graphml), else gexf].", **_env("GRAPH_FORMAT"))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout).")
def export_graph(store_url: str, window: int | str, rank: int | None, fmt: str | None, output: str | None) -> None:
    """Write one stored window's clusters as a graph file that Gephi (GEXF) or yEd and Cytoscape (GraphML) open.

    Nodes are accounts (id and label: the login) with attributes rank (the cluster's rank in its window,
    0 = largest) and size (its members), plus cluster_id and broker flags when the store has them; edges are
    the stored spanning-tree interactions of each cluster. Lists and other structured attributes are written
    as JSON text, since both formats only hold scalars.

    \b
    Example: pulse export graph --store sqlite:///pulse.db --window latest -o latest.gexf
    """
    from networkpulse.notebook import connect

    if fmt is None:
        fmt = _SUFFIXES.get(Path(output).suffix.lower(), "gexf") if output else "gexf"
    if output is None and sys.stdout.isatty():
        click.echo("note: writing XML to the terminal; give -o FILE.gexf to save it", err=True)
    with connect(store_url) as store:
        ref = cast("WindowRef", window)
        graph = store.window_graph(ref) if rank is None else store.cluster_graph(ref, rank)
    flat = exportable(graph)
    with _binary_output(output) as out:
        write_graph(flat, out, fmt)
    what = f"cluster {rank} of window {graph.graph.get('window_id')}" if rank is not None else \
        f"window {graph.graph.get('window_id')}"
    click.echo(f"{what} ({graph.graph.get('start')} – {graph.graph.get('end')}) of {_shown(store_url)}: "
               f"{graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges written as {fmt.upper()}"
               f"{f' to {output}' if output else ''}", err=True)


def exportable(graph: nx.Graph) -> nx.Graph:
    """A copy of ``graph`` whose attributes GEXF and GraphML can hold: lists, dicts and other non-scalars as JSON
    text, None left out. O(nodes + edges + attributes)."""
    flat = graph.__class__()
    flat.graph.update(_flat(graph.graph))
    flat.add_nodes_from((n, _flat(d)) for n, d in graph.nodes(data=True))
    flat.add_edges_from((a, b, _flat(d)) for a, b, d in graph.edges(data=True))
    return flat


def _flat(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, str | int | float | bool) else json.dumps(value, default=str)
    return out


def write_graph(graph: nx.Graph, out: BinaryIO, fmt: str) -> None:
    """Write ``graph`` (attributes already :func:`exportable`) to the binary stream ``out`` as ``fmt``."""
    try:
        import networkx as nx
    except ImportError as exc:
        raise MissingExtraError("networkx", "notebook") from exc
    if fmt == "gexf":
        nx.write_gexf(graph, out)
    elif fmt == "graphml":
        nx.write_graphml(graph, out)
    else:
        raise PulseError(f"--format: expected one of {', '.join(GRAPH_FORMATS)}, got {fmt!r}")


class _binary_output:
    """``-o FILE`` opened for binary writing, or stdout's binary stream (left open)."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._file: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if self._path is None:
            return sys.stdout.buffer
        try:
            self._file = open(self._path, "wb")
        except OSError as exc:
            raise PulseError(f"--output {self._path}: cannot write there ({exc.strerror}); give a writable file "
                             "path") from None
        return self._file

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
        else:
            sys.stdout.buffer.flush()


# ---------------------------------------------------------------------------------------------------- parquet


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet
    except ImportError as exc:
        raise MissingExtraError("pyarrow", "notebook") from exc
    return pa


#: The columns of a windows Parquet file: the JSON lines' fields, ``start``/``end`` as UTC timestamps.
_COUNTS = ("events", "interactions", "vertices", "edges", "components", "largest", "late_events", "clusters")


def windows_schema(clusters: bool) -> pa.Schema:
    """Schema of ``pulse export windows --format parquet``; with ``clusters``, a ``cluster_list`` column of
    ``{rank, size, members, edges, extra}`` structs (``extra``: any further cluster fields as JSON, else null)."""
    pa = _pyarrow()
    fields = [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("start", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("end", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("start_ms", pa.int64(), nullable=False),
        pa.field("end_ms", pa.int64(), nullable=False),
        *(pa.field(name, pa.int64(), nullable=False) for name in _COUNTS),
        pa.field("provisional", pa.bool_(), nullable=False),
    ]
    if clusters:
        cluster = pa.struct([
            pa.field("rank", pa.int32()), pa.field("size", pa.int32()), pa.field("members", pa.list_(pa.string())),
            pa.field("edges", pa.list_(pa.list_(pa.int32(), 2))), pa.field("extra", pa.string()),
        ])
        fields.append(pa.field("cluster_list", pa.list_(cluster)))
    return pa.schema(fields, metadata={"networkpulse": "pulse export windows: one row per stored window"})


def _table(rows: list[dict[str, Any]], schema: pa.Schema, clusters: bool) -> pa.Table:
    pa = _pyarrow()
    columns: dict[str, list[Any]] = {name: [w[name] for w in rows] for name in ("id", "start_ms", "end_ms", *_COUNTS,
                                                                                  "provisional")}
    columns["start"] = columns["start_ms"]
    columns["end"] = columns["end_ms"]
    if clusters:
        columns["cluster_list"] = [[_cluster_row(c) for c in w.get("cluster_list", [])] for w in rows]
    return pa.Table.from_pydict({name: columns[name] for name in schema.names}, schema=schema)


def _cluster_row(cluster: dict[str, Any]) -> dict[str, Any]:
    extra = {k: v for k, v in cluster.items() if k not in ("rank", "size", "members", "edges")}
    return {"rank": cluster["rank"], "size": cluster["size"], "members": cluster["members"],
            "edges": cluster["edges"], "extra": json.dumps(extra, sort_keys=True) if extra else None}


def _pages(store: Store, clusters: int) -> Iterator[list[dict[str, Any]]]:
    last = 0
    while page := store.windows_after(last, limit=_PAGE, max_clusters=clusters):
        yield page
        last = page[-1]["id"]


def write_windows_parquet(store: Store, output: str | None, clusters: int) -> int:
    """Write every stored window, oldest first, to ``output`` (stdout when None) as Parquet, one row group per
    1000 windows so memory stays bounded by one page; returns the number of windows. O(windows)."""
    pa = _pyarrow()
    import pyarrow.parquet as pq

    if output is None and sys.stdout.isatty():
        raise click.UsageError("Parquet is binary: give -o FILE.parquet, or pipe stdout into a file")
    schema = windows_schema(clusters > 0)
    n = 0
    with _binary_output(output) as out:
        sink = pa.PythonFile(out, mode="w") if output is None else out
        with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
            for page in _pages(store, clusters):
                writer.write_table(_table(page, schema, clusters > 0))
                n += len(page)
    return n
