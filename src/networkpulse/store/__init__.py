"""Stage 5, store: persists the engine's windows transactionally and serves the read model of docs/api.md.

Chosen by URL with :func:`open_store`. SQLite is the embedded default; PostgreSQL (the server store, with
LISTEN/NOTIFY as change feed) is not built yet.
"""

from __future__ import annotations

import re

from networkpulse.errors import ConfigError
from networkpulse.store.base import Checkpoint, InputPosition, Store
from networkpulse.store.sqlite import SQLiteStore

__all__ = ["Checkpoint", "InputPosition", "SQLiteStore", "Store", "check_store_url", "open_store"]

_EXPECTED = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db or sqlite:///:memory: (postgresql://… later)"
)


def check_store_url(url: str) -> str:
    """The SQLite path of a store URL; raises :class:`ConfigError` (a bad flag) for a URL we cannot use."""
    # Never echo a password back in an error message.
    shown = re.sub(r"//[^/@]*@", "//***@", url)
    scheme, sep, rest = url.partition("://")
    if scheme.lower().split("+")[0] in ("postgresql", "postgres"):
        raise ConfigError(
            "store URL",
            "a sqlite:/// URL: the PostgreSQL store is not built yet",
            shown,
            "Use sqlite:///pulse.db until a release adds PostgreSQL",
        )
    if scheme.lower() != "sqlite" or not sep or not rest.startswith("/") or len(rest) < 2:
        raise ConfigError("store URL", _EXPECTED, shown, "Note the three slashes before a relative path")
    path = rest[1:]
    if "?" in path:
        raise ConfigError("store URL", f"no query parameters ({_EXPECTED})", shown)
    return path


def open_store(url: str, *, retention: int | None = None, readonly: bool = False) -> Store:
    """Open (creating if needed, unless ``readonly``) the store at ``url``.

    ``retention``: keep at most that many newest windows (None keeps all). ``readonly``: read an existing
    store another process writes (the web server); never creates the file.

    Raises :class:`ConfigError` for URLs or retention values we cannot use, and
    :class:`~networkpulse.errors.PulseError` for files we cannot use.
    """
    if retention is not None and (
        isinstance(retention, bool) or not isinstance(retention, int) or retention < 1
    ):
        raise ConfigError(
            "store retention", "a whole number of windows >= 1, or none to keep every window", retention
        )
    return SQLiteStore(check_store_url(url), retention=retention, readonly=readonly)
