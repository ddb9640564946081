"""Intern account logins to dense ``int32`` vertex ids so the engine's hot loops work on plain arrays.

Ids are handed out in first-seen order and never reused, so everything downstream that orders by id (sorted
members, ties between equal clusters, pair keys) orders by first appearance. On an endless stream the table
would grow with every account ever seen; :meth:`Interner.retain` forgets the accounts nobody holds any more
(the engine's open panes say which ids are held, the store keeps the logins it was given). A forgotten login
seen again gets a *new* id: the store maps it to the same account by login, and no open state can hold the old
id, so no window changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import overload

import numpy as np

from networkpulse.engine.types import IdArray


class LoginTable(Sequence[str]):
    """The login of every id (``table[i]``), as a read-only sequence; ``len`` counts every id ever handed out.
    After :meth:`Interner.retain` the forgotten ids raise ``LookupError``: only held ids and those handed out
    since the last ``retain`` are still here (exactly what the store and the windows ask for)."""

    __slots__ = ("_interner",)

    def __init__(self, interner: Interner) -> None:
        self._interner = interner

    def __len__(self) -> int:
        return self._interner._next

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        of = self._interner._login_of
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"vertex id {index} was never handed out (0..{len(self) - 1})")
        try:
            return of[index]
        except KeyError:
            raise LookupError(f"vertex id {index} was forgotten by Interner.retain (no open pane held it)") from None

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


class Interner:
    """Login → id table. GitHub logins are case-insensitive, so ``Alice`` and ``alice`` share an id and the
    spelling seen first is kept.

    ``ids`` costs one dict lookup per login (O(n)). ``logins`` is the id → login table (a
    :class:`LoginTable`); ids are never reused, so the store can persist ``logins[known:]`` incrementally.
    Memory: two dict entries (~250 bytes with the strings) per account held, not per account ever seen, when
    the owner calls :meth:`retain` as the stream moves on.
    """

    __slots__ = ("_ids", "_kept", "_login_of", "_next", "logins")

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}  # lower-cased login -> id
        self._login_of: dict[int, str] = {}  # id -> login as first spelled
        self._next = 0
        self._kept = 0  # entries after the last retain: the next one pays off from twice that
        self.logins = LoginTable(self)

    def __len__(self) -> int:
        """Every id ever handed out (the next new login gets this id)."""
        return self._next

    @property
    def held(self) -> int:
        """Logins in memory now."""
        return len(self._ids)

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
                vid = self._next
                table[key] = vid
                self._login_of[vid] = login
                self._next = vid + 1
            out[i] = vid
        return out

    def get(self, login: str) -> int | None:
        """The id of ``login`` (any case), or None if never seen or forgotten."""
        return self._ids.get(login.lower())

    def due(self) -> bool:
        """Whether :meth:`retain` would pay off now: the table has doubled (and holds 64 k logins or more) since
        the last one, which keeps its cost amortised O(1) per login interned."""
        return len(self._ids) >= max(2 * self._kept, 1 << 16)

    def retain(self, held: IdArray, persisted: int) -> int:
        """Forget every login whose id is below ``persisted`` (the store has its login) and not in ``held``
        (ascending; e.g. :meth:`WindowEngine.live_ids` plus any ids the caller still keeps). Returns how many
        were forgotten. O(logins in memory)."""
        held_set = set(held.tolist())
        gone = [vid for vid in self._login_of if vid < persisted and vid not in held_set]
        for vid in gone:
            del self._ids[self._login_of.pop(vid).lower()]
        self._kept = len(self._ids)
        return len(gone)

    def table_arrays(self, ids: IdArray) -> dict[str, np.ndarray]:
        """The logins of ``ids`` (held ids, ascending) as checkpoint arrays: with ids renumbered ``0..n-1`` in
        that order (:func:`networkpulse.engine.windows.renumber`), :meth:`from_table_arrays` rebuilds an
        interner for exactly that state. O(n)."""
        of = self._login_of
        return {
            TABLE_KEY: np.frombuffer("\n".join(of[i] for i in ids.tolist()).encode(), np.uint8),
            TABLE_COUNT_KEY: np.array([len(ids)], np.int64),
        }

    @classmethod
    def from_table_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Interner | None:
        """The interner :meth:`table_arrays` saved, or None when ``arrays`` holds none (an older checkpoint)."""
        if TABLE_KEY not in arrays:
            return None
        n = int(arrays[TABLE_COUNT_KEY][0])
        return cls.from_logins(bytes(arrays[TABLE_KEY]).decode().split("\n") if n else [])


#: Checkpoint arrays of :meth:`Interner.table_arrays`.
TABLE_KEY = "interner.logins"
TABLE_COUNT_KEY = "interner.count"
