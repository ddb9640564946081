"""Stage 5, store: persists the engine's windows transactionally and serves the read model of docs/api.md.

Chosen by URL with :func:`open_store`: ``sqlite:///path.db`` (the embedded default) or ``postgresql://…`` (the
server store, LISTEN/NOTIFY as change feed; needs ``pip install 'networkpulse[postgres]'``). Both keep the same
contract (``base.Store``), checked by one test suite over both.
"""

from __future__ import annotations

import re

from networkpulse.errors import ConfigError
from networkpulse.store.base import Checkpoint, InputPosition, Store
from networkpulse.store.sqlite import SQLiteStore

__all__ = [
    "Checkpoint",
    "InputPosition",
    "SQLiteStore",
    "Store",
    "check_store_url",
    "open_store",
    "redact_url",
]

_EXPECTED = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db, sqlite:///:memory: or "
    "postgresql://user:password@host:port/database"
)
_POSTGRES_SCHEMES = ("postgresql", "postgres")


def redact_url(url: str) -> str:
    """``url`` with its password (in the user-info, up to its last ``@``, or a ``password=`` parameter) replaced
    by ``***``, for messages."""
    shown = re.sub(r"(//[^/?#@:]*):[^?#]*@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", shown)


def check_store_url(url: str) -> str:
    """The SQLite path of a ``sqlite:///`` URL, or the libpq URL of a ``postgresql://`` one (a SQLAlchemy-style
    ``+driver`` suffix dropped). Raises :class:`ConfigError` (a bad flag) for a URL we cannot use; never echoes a
    password."""
    shown = redact_url(url)
    scheme, sep, rest = url.partition("://")
    base = scheme.lower().split("+")[0]
    if base in _POSTGRES_SCHEMES and sep:
        return _check_postgres_url(f"{base}://{rest}", shown)
    if scheme.lower() != "sqlite" or not sep or not rest.startswith("/") or len(rest) < 2:
        raise ConfigError("store URL", _EXPECTED, shown, "Note the three slashes before a relative SQLite path")
    path = rest[1:]
    if "?" in path:
        raise ConfigError("store URL", f"no query parameters in a SQLite URL ({_EXPECTED})", shown)
    return path


def _check_postgres_url(url: str, shown: str) -> str:
    """libpq's own parser decides (hosts, ports, parameters) when psycopg is installed; without it, opening the
    store says which extra to install, so the URL is let through here."""
    try:
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return url
    try:
        conninfo_to_dict(url)
    except ProgrammingError as exc:
        reason = " ".join(str(exc).split())
        password = re.search(r"//[^/?#@:]*:([^?#]*)@", url)
        if password and password[1]:
            reason = reason.replace(password[1], "***")  # libpq quotes a badly encoded value back
        raise ConfigError("store URL", f"a libpq connection URL ({reason})", shown) from None
    return url


def open_store(url: str, *, retention: int | None = None, readonly: bool = False) -> Store:
    """Open (creating if needed, unless ``readonly``) the store at ``url``.

    ``retention``: keep at most that many newest windows (None keeps all). ``readonly``: read an existing
    store another process writes (the web server); never creates anything.

    Raises :class:`ConfigError` for URLs or retention values we cannot use,
    :class:`~networkpulse.errors.MissingExtraError` for a PostgreSQL URL without psycopg, and
    :class:`~networkpulse.errors.StoreError` for stores we cannot use.
    """
    if retention is not None and (
        isinstance(retention, bool) or not isinstance(retention, int) or retention < 1
    ):
        raise ConfigError(
            "store retention", "a whole number of windows >= 1, or none to keep every window", retention
        )
    target = check_store_url(url)
    if url.partition("://")[0].lower().split("+")[0] in _POSTGRES_SCHEMES:
        from networkpulse.store.postgres import PostgresStore  # psycopg is an extra: imported only when asked for

        return PostgresStore(target, retention=retention, readonly=readonly)
    return SQLiteStore(target, retention=retention, readonly=readonly)
