"""The store contract: a transactional window sink with a change feed, and the read model the API serves.

Read methods return JSON-ready dicts shaped exactly as in ``docs/api.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from networkpulse.analytics import WindowAnalytics
from networkpulse.engine.types import Window

Json = dict[str, Any]
#: ``Checkpoint.state["writer"]`` of a store that `pulse persist` writes: its checkpoint holds Kafka positions and
#: no engine state, so `pulse run` must not continue it (and `pulse persist` no store `pulse run` wrote).
PERSIST_WRITER = "pulse persist"


class InputPosition(NamedTuple):
    """How far one source was consumed: events on lines <= ``line`` were applied; ``done``: read to its end.
    ``size``/``mtime_ns`` identify the file as it was read (a rewritten file is not the same input)."""

    line: int
    done: bool
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a writer stands, committed with the windows it produced: enough to resume exactly.

    ``config``: the window configuration (a store is continued only with the same one). ``state``: JSON-able
    input positions and cumulative counters (the pipeline's business). ``engine``: the window engine's open
    state as named arrays (``WindowEngine.snapshot``). ``inputs``: the sources whose position changed since
    the last checkpoint (the store keeps the others).
    """

    config: Json
    state: Json
    engine: Mapping[str, np.ndarray]
    inputs: Mapping[str, InputPosition] = field(default_factory=dict)


class Store(Protocol):
    def write(
        self,
        windows: Sequence[Window],
        logins: Sequence[str],
        stats: Mapping[str, Any],
        *,
        checkpoint: Checkpoint | None = None,
        provisional: Sequence[Window] = (),
        analytics: Sequence[WindowAnalytics | None] | None = None,
    ) -> list[int]:
        """Persist ``windows`` in one transaction (all or nothing) and return the ids of those newly stored.

        Idempotent: a window whose bounds are already stored (as a final window) is skipped. Every write first
        drops the provisional windows of the last run, then stores ``windows`` as final and ``provisional``
        (windows emitted at the end of a run whose panes may still grow) as provisional. ``logins[i]`` is the
        login of engine vertex id ``i`` (the interner's whole table; only ids not seen before need
        persisting). ``stats`` replaces the stored pipeline stats (shape of ``Stats`` in docs/api.md).
        ``checkpoint`` replaces the stored one. Applies retention afterwards. ``analytics``: one annotation per
        window of ``[*windows, *provisional]`` (``networkpulse.analytics.annotate``), stored with the windows it
        belongs to (those skipped as stored already drop theirs); None stores the windows without any.
        """
        ...

    def checkpoint(self) -> Checkpoint | None:
        """The last committed checkpoint, or None."""
        ...

    def inputs(self) -> dict[str, InputPosition]:
        """How far every source ever read was consumed."""
        ...

    def logins(self) -> list[str]:
        """Every stored account's login in account-id order (to rebuild an interner that continues). O(A)."""
        ...

    def start_over(self) -> None:
        """Delete every window, checkpoint and stat (accounts stay: ids never change meaning)."""
        ...

    #: Whether :meth:`wait_for_change` is told of commits (PostgreSQL: LISTEN/NOTIFY) or just waits (SQLite).
    notifies: bool

    def wait_for_change(self, timeout_s: float) -> bool:
        """The change feed: block until a writer may have committed windows (True) or ``timeout_s`` passes
        (False). With ``notifies`` False it sleeps ``timeout_s`` and returns True: the caller polls."""
        ...

    def max_window_id(self) -> int | None: ...
    def windows(self, *, limit: int = 50, before: int | None = None) -> list[Json]: ...
    def window(self, window_id: int, *, max_clusters: int = 50) -> Json | None: ...
    def latest(self, *, max_clusters: int = 50) -> Json | None: ...
    def windows_after(self, window_id: int, *, limit: int = 100, max_clusters: int = 20) -> list[Json]: ...
    def cluster(self, window_id: int, rank: int) -> Json | None: ...
    def login_history(self, login: str, *, limit: int = 100) -> list[Json]: ...
    def stats(self) -> Json: ...
    def close(self) -> None: ...

    # Clusters with a life (store/lives.py, docs/analytics.md): JSON-ready dicts, None when not stored.
    def window_lineage(self, window_id: int) -> Json | None: ...
    def cluster_life(self, cluster_id: int, *, limit: int = 500) -> Json | None: ...
    def cluster_brokers(self, window_id: int, rank: int) -> Json | None: ...
    def login_influence(self, login: str, *, limit: int = 50) -> list[Json]: ...
    def recommendations(self, login: str, *, windows: int = 10, k: int = 10) -> Json | None: ...
    def growing_clusters(self, window_id: int | None = None, *, limit: int = 20) -> Json | None: ...
    def bridge_suggestions(
        self, window_id: int | None = None, *, clusters: int = 4, k: int = 3, history: int = 10
    ) -> Json | None: ...
    def window_clusters(self, after: int = 0, *, limit: int = 100) -> list[Json]: ...
