"""The store contract: a transactional window sink with a change feed, and the read model the API serves.

Read methods return JSON-ready dicts shaped exactly as in ``docs/api.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from networkpulse.engine.types import Window

Json = dict[str, Any]


class Store(Protocol):
    def write(self, windows: Sequence[Window], logins: Sequence[str], stats: Mapping[str, Any]) -> list[int]:
        """Persist ``windows`` in one transaction (all or nothing) and return their new ids, in order.

        ``logins[i]`` is the login of engine vertex id ``i`` (the interner's whole table; only ids not seen
        before need persisting). ``stats`` replaces the stored pipeline stats (shape of ``Stats`` in
        docs/api.md).
        Applies retention afterwards.
        """
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
