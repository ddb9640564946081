"""The public Python API: stored windows and clusters as pandas DataFrames and networkx graphs, and the embedded
pipeline run from Python without a store.

Two ways in, one shape out. :func:`connect` opens a store (``sqlite:///…`` or ``postgresql://…``) read-only;
:func:`run_files` and :func:`run_events` run events → venturi → engine in this process and keep the windows in
memory. Both give windows as the JSON dicts of ``docs/api.md`` (``WindowDetail``, ``ClusterInWindow``), so the
converters :func:`windows_frame`, :func:`cluster_graph`, :func:`window_graph` and :func:`history_frame` work on
either, and on ``/api`` responses fetched over HTTP too.

pandas, networkx and pyarrow are the optional extra ``networkpulse[notebook]``: they are imported when a function
needs them, and a missing one raises :class:`~networkpulse.errors.MissingExtraError` naming the install command.
Nothing here writes to a store.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import numpy as np

from networkpulse.engine import Interner, Window, WindowConfig, WindowEngine
from networkpulse.errors import ConfigError, MissingExtraError, PulseError
from networkpulse.events import DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_SKEW_MS, EventBatch, InputReport, RawEvent, epoch_ms
from networkpulse.events.plausible import TimeCheck
from networkpulse.settings import parse_duration
from networkpulse.store import Store, open_store, redact_url
from networkpulse.store.codec import iso
from networkpulse.venturi import FilterStats, extract, read_interactions
from networkpulse.venturi.types import InteractionBatch

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

Json = dict[str, Any]
#: A point in time: epoch milliseconds, an ISO 8601 string, or a datetime / pandas Timestamp (naive means UTC).
TimeLike = int | str | datetime
#: A window: its id, or ``"latest"`` for the newest stored one.
WindowRef = int | Literal["latest"]

#: The columns of :func:`windows_frame`, in order: the ``WindowSummary`` fields of docs/api.md.
WINDOW_COLUMNS = (
    "id", "start", "end", "start_ms", "end_ms", "events", "interactions", "vertices", "edges", "components",
    "largest", "late_events", "clusters", "provisional",
)  # fmt: skip
#: The columns of :func:`history_frame`: the ``HistoryEntry`` fields of docs/api.md.
HISTORY_COLUMNS = ("window_id", "start", "end", "start_ms", "end_ms", "rank", "size", "neighbors", "members")
#: ``ClusterInWindow`` fields every cluster has; any other field (``cluster_id``, ``articulation_points``, … as
#: later schema versions add them) becomes a graph attribute, see :func:`cluster_graph`.
CLUSTER_FIELDS = frozenset({"rank", "size", "members", "edges"})
#: Clusters asked of the store when "all of them" is meant (the store slices what it has).
ALL_CLUSTERS = 1 << 30
_PAGE = 1000
_BATCH_LINES = 4096  # as `pulse run` unpaced: the watermark advances between batches, so results match it


def _require(module: str) -> Any:
    """Import ``module`` of the ``notebook`` extra, or raise :class:`MissingExtraError` with the install command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, "notebook") from exc


# ---------------------------------------------------------------------------------------------------- times


def to_ms(value: TimeLike, what: str = "time") -> int:
    """Epoch milliseconds of ``value``: an int (already ms), an ISO 8601 string (``2015-01-01T12:00:00Z``), or a
    ``datetime``/pandas ``Timestamp``. Naive datetimes and strings without an offset are taken as UTC (GH Archive
    time is UTC). Raises :class:`ConfigError` for anything else."""
    if isinstance(value, bool):
        raise ConfigError(what, "epoch milliseconds, an ISO 8601 string or a datetime", value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(what, "an ISO 8601 time such as 2015-01-01T12:00:00Z", value) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return round(value.timestamp() * 1000)
    raise ConfigError(what, "epoch milliseconds, an ISO 8601 string or a datetime", value)


# ---------------------------------------------------------------------------------------------------- frames


def windows_frame(windows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per window, in the order given, columns :data:`WINDOW_COLUMNS`: ``start``/``end`` as UTC pandas
    Timestamps, the counts as int64, ``provisional`` as bool. Cluster lists are left out (see :func:`window_graph`).
    O(windows)."""
    pd = _require("pandas")
    rows = [[w.get(c) for c in WINDOW_COLUMNS] for w in windows]
    frame = pd.DataFrame(rows, columns=list(WINDOW_COLUMNS))
    ints = [c for c in WINDOW_COLUMNS if c not in ("start", "end", "provisional")]
    frame[ints] = frame[ints].astype("int64")
    frame["provisional"] = frame["provisional"].astype(bool)
    frame["start"] = pd.to_datetime(frame["start_ms"], unit="ms", utc=True)
    frame["end"] = pd.to_datetime(frame["end_ms"], unit="ms", utc=True)
    return frame


def history_frame(entries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A login's ``HistoryEntry`` list as a DataFrame, oldest window first, columns :data:`HISTORY_COLUMNS`
    (``neighbors`` and ``members`` hold lists of logins). O(entries)."""
    pd = _require("pandas")
    rows = sorted(([e.get(c) for c in HISTORY_COLUMNS] for e in entries), key=lambda r: (r[3], r[0]))
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    ints = ["window_id", "start_ms", "end_ms", "rank", "size"]
    frame[ints] = frame[ints].astype("int64")
    frame["start"] = pd.to_datetime(frame["start_ms"], unit="ms", utc=True)
    frame["end"] = pd.to_datetime(frame["end_ms"], unit="ms", utc=True)
    return frame


# ---------------------------------------------------------------------------------------------------- graphs


def cluster_graph(cluster: Mapping[str, Any], window: Mapping[str, Any] | None = None) -> nx.Graph:
    """A stored cluster as an undirected ``networkx.Graph``: one node per member (the node is its login) and one
    edge per stored spanning-tree edge (``size - 1`` of them, so the graph is a tree and connected).

    Node attributes: ``login``, ``label`` (the login again, what Gephi shows), ``rank`` and ``size`` of the
    cluster. Graph attributes: ``rank``, ``size`` and, with ``window``, ``window_id``, ``start``, ``end``,
    ``start_ms`` and ``end_ms``.

    Fields a store adds to clusters beyond ``rank/size/members/edges`` (e.g. ``cluster_id`` and broker flags
    from lineage analytics) are mapped by shape, so new fields appear without a change here:

    - a scalar (``cluster_id: 17``) → that node attribute on every member, and a graph attribute;
    - a non-empty list of member logins (``articulation_points: ["bob"]``) → a bool node attribute of that
      name (an empty list cannot tell nodes from edges: it stays a graph attribute);
    - a list of pairs of member logins (``bridges: [["alice", "bob"]]``) → a bool edge attribute of that name
      on the stored edges (a bridge is in every spanning tree, so it is always a stored edge);
    - a dict ``{login: value}`` (``degree: {"alice": 2}``) → a node attribute for the logins it names;
    - a list of numbers as long as ``members`` → a node attribute, aligned with ``members``;
    - anything else → a graph attribute, as it is.

    O(size + extra fields). Raises :class:`PulseError` if an edge indexes outside ``members``.
    """
    nx = _require("networkx")
    members: list[str] = list(cluster["members"])
    rank, size = int(cluster["rank"]), int(cluster.get("size", len(members)))
    graph = nx.Graph(rank=rank, size=size)
    if window is not None:
        graph.graph.update(_window_attrs(window))
    graph.add_nodes_from((login, {"login": login, "label": login, "rank": rank, "size": size}) for login in members)
    graph.add_edges_from(_edge_logins(cluster, members))
    _apply_extras(graph, cluster, members)
    return graph


def window_graph(window: Mapping[str, Any]) -> nx.Graph:
    """Every listed cluster of ``window`` in one ``networkx.Graph`` (a forest: one tree per cluster), node and
    edge attributes as :func:`cluster_graph`; graph attributes: the window's ``WindowSummary`` fields
    (``window_id``, ``start``, ``end``, counts). Per-cluster extras that are not per node or per edge are kept
    only in :func:`cluster_graph`. O(listed members)."""
    nx = _require("networkx")
    graph = nx.Graph(**_window_attrs(window))
    for key in ("events", "interactions", "vertices", "edges", "components", "largest", "late_events", "clusters"):
        if key in window:
            graph.graph[key] = window[key]
    for cluster in window.get("cluster_list", []):
        one = cluster_graph(cluster)
        graph.add_nodes_from(one.nodes(data=True))
        graph.add_edges_from(one.edges(data=True))
    return graph


def _window_attrs(window: Mapping[str, Any]) -> Json:
    out = {"window_id": window.get("id"), "start": window.get("start"), "end": window.get("end"),
           "start_ms": window.get("start_ms"), "end_ms": window.get("end_ms")}
    return {k: v for k, v in out.items() if v is not None}


def _edge_logins(cluster: Mapping[str, Any], members: list[str]) -> Iterator[tuple[str, str]]:
    for pair in cluster.get("edges", []):
        a, b = int(pair[0]), int(pair[1])
        if not (0 <= a < len(members) and 0 <= b < len(members)):
            raise PulseError(
                f"cluster rank {cluster.get('rank')}: edge {list(pair)} indexes outside its {len(members)} members; "
                "expected member indices 0..size-1 (the ClusterInWindow shape of docs/api.md)"
            )
        yield members[a], members[b]


def _apply_extras(graph: nx.Graph, cluster: Mapping[str, Any], members: list[str]) -> None:
    """Map the cluster's extra fields onto nodes, edges or the graph by their shape (see :func:`cluster_graph`)."""
    known = set(members)
    for key, value in cluster.items():
        if key in CLUSTER_FIELDS:
            continue
        if value is None or isinstance(value, str | int | float | bool):
            graph.graph[key] = value
            if value is not None:
                for login in members:
                    graph.nodes[login][key] = value
        elif isinstance(value, Mapping) and value and set(value) <= known:
            for login, item in value.items():
                graph.nodes[login][key] = item
        elif isinstance(value, list) and value and all(isinstance(v, str) and v in known for v in value):
            flagged = set(value)
            for login in members:
                graph.nodes[login][key] = login in flagged
        elif isinstance(value, list) and value and all(_is_pair(v, known) for v in value):
            flagged_edges = {frozenset(v) for v in value}
            for a, b in graph.edges():
                graph.edges[a, b][key] = frozenset((a, b)) in flagged_edges
        elif (isinstance(value, list) and len(value) == len(members)
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
            for login, item in zip(members, value, strict=True):
                graph.nodes[login][key] = item
        else:
            graph.graph[key] = value


def _is_pair(value: object, known: set[str]) -> bool:
    return (isinstance(value, list | tuple) and len(value) == 2
            and all(isinstance(v, str) and v in known for v in value))


# ---------------------------------------------------------------------------------------------------- stores


class StoreView:
    """A store opened read-only (use :func:`connect`). It may be read while ``pulse run`` writes it; each call
    sees the windows committed when it runs. Close it (or use ``with``) to release its connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._store: Store = open_store(url, readonly=True)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> StoreView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StoreView({redact_url(self.url)!r})"

    # -- windows

    def iter_windows(
        self, since: TimeLike | None = None, until: TimeLike | None = None, *, clusters: int = 0
    ) -> Iterator[Json]:
        """Stored windows oldest first (by id), those whose start lies in ``[since, until)`` (either end open when
        None), each a ``WindowDetail`` with its ``clusters`` largest clusters in ``cluster_list``.

        Reads pages of 1000 windows; O(stored windows) per call (the store has no index on time: windows are
        filtered as they are read)."""
        low = None if since is None else to_ms(since, "since")
        high = None if until is None else to_ms(until, "until")
        last = 0
        while page := self._store.windows_after(last, limit=_PAGE, max_clusters=clusters):
            for window in page:
                if (low is None or window["start_ms"] >= low) and (high is None or window["start_ms"] < high):
                    yield window
            last = page[-1]["id"]

    def windows(self, since: TimeLike | None = None, until: TimeLike | None = None) -> pd.DataFrame:
        """:meth:`iter_windows` as a DataFrame (:func:`windows_frame`): one row per window, counts as columns,
        ``start``/``end`` as UTC Timestamps. Row for row what ``pulse export windows`` writes."""
        return windows_frame(self.iter_windows(since, until))

    def window(self, window: WindowRef = "latest", *, clusters: int = ALL_CLUSTERS) -> Json:
        """One ``WindowDetail`` with up to ``clusters`` clusters (default: all). Raises :class:`PulseError` if the
        store holds no such window."""
        if window == "latest":
            found = self._store.latest(max_clusters=clusters)
            if found is None:
                raise PulseError(f"{redact_url(self.url)}: holds no window yet; run `pulse run` on it first")
            return self._with_lives(found)
        wid = _window_id(window)
        found = self._store.window(wid, max_clusters=clusters)
        if found is None:
            newest = self._store.max_window_id()
            raise PulseError(
                f"{redact_url(self.url)}: window {wid} is not stored (never written, or removed by retention); "
                f"the newest is {newest}; list them with `pulse export windows` or StoreView.windows()"
            )
        return self._with_lives(found)

    def _with_lives(self, window: Json) -> Json:
        """Add to each listed cluster the life fields of a store that keeps them (``cluster_id``, lineage
        ``event``, ``parents``, trend, ``articulation_points``, ``bridges``: ``Store.window_clusters``), so
        graphs carry them as attributes. One more read of that window; a store without them is left alone."""
        lives = getattr(self._store, "window_clusters", None)
        if lives is None or not window.get("cluster_list"):
            return window
        rows = lives(window["id"] - 1, limit=1)
        if not rows or rows[0].get("window_id") != window["id"]:
            return window
        by_rank = {c.get("rank"): c for c in rows[0].get("clusters") or []}
        for cluster in window["cluster_list"]:
            life = by_rank.get(cluster["rank"], {})
            cluster.update({k: v for k, v in life.items() if k not in CLUSTER_FIELDS and v is not None})
        return window

    def clusters(self, window: WindowRef = "latest") -> list[Json]:
        """Every stored cluster of one window, largest first (``ClusterInWindow`` dicts: logins and edges)."""
        return list(self.window(window)["cluster_list"])

    def cluster_graph(self, window: WindowRef = "latest", rank: int = 0) -> nx.Graph:
        """Cluster ``rank`` (0 = largest) of a window as a ``networkx.Graph`` (:func:`cluster_graph`)."""
        detail = self.window(window, clusters=rank + 1)
        listed = detail["cluster_list"]
        if not 0 <= rank < len(listed):
            raise PulseError(
                f"{redact_url(self.url)}: window {detail['id']} has {detail['clusters']} stored clusters; "
                f"expected a rank in 0..{detail['clusters'] - 1}, got {rank}"
            )
        return cluster_graph(listed[rank], detail)

    def window_graph(self, window: WindowRef = "latest") -> nx.Graph:
        """All stored clusters of a window as one ``networkx.Graph`` (:func:`window_graph`)."""
        return window_graph(self.window(window))

    # -- logins and stats

    def history(self, login: str, *, limit: int | None = None) -> pd.DataFrame:
        """Every stored cluster ``login`` was in (case-insensitive), oldest window first, as a DataFrame
        (:func:`history_frame`); ``limit`` keeps only that many newest entries. O(entries × cluster size)."""
        return history_frame(self._store.login_history(login, limit=ALL_CLUSTERS if limit is None else limit))

    def stats(self) -> Json:
        """The pipeline's counters as last written (the ``Stats`` of docs/api.md)."""
        return self._store.stats()


def connect(url: str) -> StoreView:
    """Open the store at ``url`` read-only: ``sqlite:///pulse.db``, ``sqlite:////abs/path.db`` or
    ``postgresql://user:password@host:port/db`` (needs ``networkpulse[postgres]``). Never creates anything.

    Raises :class:`~networkpulse.errors.ConfigError` for a URL we cannot use and
    :class:`~networkpulse.errors.StoreError` for a file that is not a networkpulse store.
    """
    return StoreView(url)


def _window_id(window: object) -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 0:
        raise ConfigError("window", "a window id (an int >= 0) or 'latest'", window)
    return int(window)


# ---------------------------------------------------------------------------------------------------- runs


@dataclass(slots=True)
class Run:
    """What :func:`run_files` / :func:`run_events` computed, in memory.

    ``windows``: ``WindowDetail`` dicts as a store would answer them (ids 1, 2, … in emission order, every
    cluster listed); the windows emitted at the end of the input, before the watermark passed them, are marked
    ``provisional`` as ``pulse run`` stores them. ``stats``: the ``Stats`` counters. ``report``: the input that
    was skipped (``report.messages`` as ``file:line: reason``); ``filters``: what venturi kept and dropped.
    """

    windows: list[Json]
    stats: Json
    report: InputReport
    filters: FilterStats
    config: WindowConfig
    logins: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """The windows as a DataFrame (:func:`windows_frame`)."""
        return windows_frame(self.windows)

    def window(self, window: WindowRef = "latest") -> Json:
        """One window by id (1-based, as listed) or ``"latest"``."""
        if window == "latest":
            if not self.windows:
                raise PulseError("this run emitted no window: its input held no valid event")
            return self.windows[-1]
        wid = _window_id(window)
        if not 1 <= wid <= len(self.windows):
            raise PulseError(f"this run emitted windows 1..{len(self.windows)}; got window {wid}")
        return self.windows[wid - 1]

    def cluster_graph(self, window: WindowRef = "latest", rank: int = 0) -> nx.Graph:
        detail = self.window(window)
        if not 0 <= rank < len(detail["cluster_list"]):
            raise PulseError(f"window {detail['id']} has {detail['clusters']} clusters; got rank {rank}")
        return cluster_graph(detail["cluster_list"][rank], detail)

    def window_graph(self, window: WindowRef = "latest") -> nx.Graph:
        return window_graph(self.window(window))


def run_files(
    sources: str | Sequence[str],
    *,
    window: str | int = "10m",
    slide: str | int = "1m",
    rolling: bool = False,
    lateness: str | int = "0s",
    min_size: int = 3,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Run:
    """Run the embedded pipeline over GH Archive files (a file, folder or glob, or a list of them; ``.json.gz``
    or ``.json``) with the window flags of ``pulse run`` (durations as ``"10m"`` or milliseconds), and return
    the windows without a store. The windows equal those ``pulse run`` stores for the same input and flags.

    Bad lines are skipped and listed in ``Run.report``, as by ``pulse run``. O(events) time; memory O(windows ×
    listed members), since every window is kept.
    """
    from networkpulse.events import expand_sources

    config = _config(window, slide, rolling, lateness, min_size)
    specs = [sources] if isinstance(sources, str) else list(sources)
    report, filters = InputReport(), FilterStats()
    batches = read_interactions(expand_sources(specs), report, filters, max_line_bytes=max_line_bytes,
                                batch_lines=_BATCH_LINES)
    return _run(batches, config, report, filters)


def run_events(
    events: Iterable[Mapping[str, Any] | str | bytes],
    *,
    window: str | int = "10m",
    slide: str | int = "1m",
    rolling: bool = False,
    lateness: str | int = "0s",
    min_size: int = 3,
) -> Run:
    """Run the embedded pipeline over GH Archive events given as dicts (``json.loads`` of a line, any era) or as
    JSON text lines, in stream order, and return the windows without a store (see :func:`run_files`).

    Each event goes through the same typed decoder and time plausibility check as a file's line; one that does
    not fit (no ``type`` or ``created_at``, a ``created_at`` without a UTC offset, a time years ahead of the
    others) is skipped and reported in ``Run.report`` as ``<events>:N: reason`` (N counts events from 1).
    O(events).
    """
    config = _config(window, slide, rolling, lateness, min_size)
    report, filters = InputReport(), FilterStats()
    return _run(_event_batches(events, report, filters), config, report, filters)


_SOURCE = "<events>"
_DECODER = msgspec.json.Decoder(RawEvent)
_ENCODE = msgspec.json.Encoder().encode


def _event_batches(
    events: Iterable[Mapping[str, Any] | str | bytes], report: InputReport, filters: FilterStats
) -> Iterator[InteractionBatch]:
    """Decode ``events`` as if they were the lines of one file, :data:`_BATCH_LINES` at a time, then venturi."""
    times = TimeCheck(DEFAULT_MAX_SKEW_MS)
    numbered = enumerate(events, start=1)
    while chunk := list(itertools.islice(numbered, _BATCH_LINES)):
        decoded: list[RawEvent] = []
        lines: list[int] = []
        raws: list[bytes] = []
        for line, event in chunk:
            raw = _raw(event)
            try:
                decoded.append(_DECODER.decode(raw))
            except msgspec.ValidationError as exc:
                report.add("wrong_shape", _SOURCE, line, str(exc), raw)
                continue
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                report.add("malformed_json", _SOURCE, line, str(exc), raw)
                continue
            lines.append(line)
            raws.append(raw)
        stamps = epoch_ms(decoded)
        bad = times.check(stamps)
        if bad is not None:
            for i in np.flatnonzero(bad).tolist():
                report.add("implausible_time", _SOURCE, lines[i], times.explain(decoded[i].created_at,
                                                                                  int(stamps[i])), raws[i])
            keep = (~bad).tolist()
            decoded = [ev for ev, ok in zip(decoded, keep, strict=True) if ok]
            lines = [n for n, ok in zip(lines, keep, strict=True) if ok]
            stamps = stamps[~bad]
        report.events += len(decoded)
        if decoded:
            yield extract(EventBatch(_SOURCE, decoded, np.asarray(lines, np.int64), stamps), filters, report)


def _raw(event: Mapping[str, Any] | str | bytes) -> bytes:
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode()
    if isinstance(event, Mapping):
        try:
            return _ENCODE(event)
        except (TypeError, msgspec.EncodeError) as exc:
            return json.dumps({"unencodable": str(exc)}).encode()
    raise ConfigError("event", "a dict (one decoded GH Archive event) or one JSON line as str/bytes",
                      type(event).__name__)


def _config(window: str | int, slide: str | int, rolling: bool, lateness: str | int, min_size: int) -> WindowConfig:
    def ms(value: str | int, what: str) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else parse_duration(str(value), what)

    size_ms, slide_ms, lateness_ms = ms(window, "window"), ms(slide, "slide"), ms(lateness, "lateness")
    if size_ms <= 0 or slide_ms <= 0 or size_ms % slide_ms:
        raise ConfigError("window/slide", "durations > 0 with the window a whole number of slides, e.g. 10m/1m",
                          f"{window}/{slide}")
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise ConfigError("min_size", "a whole number >= 1", min_size)
    return WindowConfig(size_ms=size_ms, slide_ms=slide_ms, rolling=rolling, lateness_ms=lateness_ms,
                        min_size=min_size)


def _run(batches: Iterable[InteractionBatch], config: WindowConfig, report: InputReport,
         filters: FilterStats) -> Run:
    """The pipeline's loop without store or pacing: intern, add, collect; flush the tail as provisional."""
    interner, engine = Interner(), WindowEngine(config)
    final: list[Window] = []
    for batch in batches:
        final += engine.add(interner.ids(batch.src), interner.ids(batch.dst), batch.created_at_ms,
                            batch.event_times_ms)
    tail = engine.flush()
    logins = interner.logins
    windows = [_window_json(i, w, logins, provisional=i > len(final))
               for i, w in enumerate(itertools.chain(final, tail), start=1)]
    kept = filters.kept_events
    stats = {
        "events": filters.events, "interactions": filters.interactions, "kept_events": kept,
        "filtered_events": filters.events - kept,
        "filtered_share": round(1 - kept / filters.events, 4) if filters.events else 0.0,
        "dropped": dict(filters.dropped), "late_events": engine.late_events, "skipped_lines": report.skipped,
        "windows": len(windows),
    }  # fmt: skip
    return Run(windows, stats, report, filters, config, list(logins))


def _window_json(wid: int, w: Window, logins: list[str], *, provisional: bool) -> Json:
    """A ``WindowDetail`` as the store's codec builds it: members by ascending vertex id, edges as member indices."""
    clusters = []
    for rank, cluster in enumerate(w.clusters):
        members = cluster.members
        edges = np.searchsorted(members, np.asarray(cluster.edges).reshape(-1, 2))
        clusters.append({"rank": rank, "size": len(members), "members": [logins[v] for v in members.tolist()],
                         "edges": edges.tolist()})
    return {
        "id": wid, "start": iso(w.start_ms), "end": iso(w.end_ms), "start_ms": w.start_ms, "end_ms": w.end_ms,
        "events": w.events, "interactions": w.interactions, "vertices": w.vertices, "edges": w.edges,
        "components": w.components, "largest": w.largest, "late_events": w.late_events,
        "clusters": w.n_clusters, "provisional": provisional, "cluster_list": clusters,
    }  # fmt: skip


__all__ = [
    "CLUSTER_FIELDS",
    "HISTORY_COLUMNS",
    "WINDOW_COLUMNS",
    "Run",
    "StoreView",
    "cluster_graph",
    "connect",
    "history_frame",
    "run_events",
    "run_files",
    "to_ms",
    "window_graph",
    "windows_frame",
]
