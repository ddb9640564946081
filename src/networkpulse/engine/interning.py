"""Intern account logins to dense ``int32`` vertex ids so the engine's hot loops work on plain arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from networkpulse.engine.types import IdArray


class Interner:
    """Append-only login → id table. GitHub logins are case-insensitive, so ``Alice`` and ``alice`` share an id
    and the spelling seen first is kept.

    ``ids`` costs one dict lookup per login (O(n)); ids are never reused, so the store can persist
    ``logins[known:]`` incrementally.
    """

    __slots__ = ("_ids", "logins")

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.logins: list[str] = []

    def __len__(self) -> int:
        return len(self.logins)

    @classmethod
    def from_logins(cls, logins: Sequence[str]) -> Interner:
        """An interner whose ids are the positions of ``logins`` (a table an earlier interner built). O(n)."""
        interner = cls()
        ids = interner.ids(logins)
        if len(interner) != len(logins) or not np.array_equal(ids, np.arange(len(logins))):
            raise ValueError("logins repeat (case-insensitively): not a table an Interner built")
        return interner

    def ids(self, logins: Sequence[str]) -> IdArray:
        table = self._ids
        get = table.get
        out = np.empty(len(logins), dtype=np.int32)
        for i, login in enumerate(logins):
            key = login.lower()
            vid = get(key)
            if vid is None:
                vid = len(self.logins)
                table[key] = vid
                self.logins.append(login)
            out[i] = vid
        return out

    def get(self, login: str) -> int | None:
        """The id of ``login`` (any case), or None if never seen."""
        return self._ids.get(login.lower())
