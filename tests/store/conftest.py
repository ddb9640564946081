"""The store contract suite: every test that takes ``backend`` (or ``url``) runs once over SQLite and once over
PostgreSQL, with a fresh, empty store location per store it asks for.

PostgreSQL stores live in a fresh schema each (``pulse_test_<hex>``, dropped after the test) on the server named by
PULSE_TEST_POSTGRES, which scripts/test.sh starts and exports; those tests skip, saying how to run them, only when
that variable is unset. The backend objects also look *under* the store (row counts, the schema version, another
application's tables) so tests can check what the store API alone cannot show.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import networkpulse.store.sqlite as sqlite_module

POSTGRES_ENV = "PULSE_TEST_POSTGRES"


class SQLiteBackend:
    """Stores are files in the test's tmp_path."""

    name = "sqlite"
    module: ModuleType = sqlite_module
    unmigratable_version = 1  # v2 has a migration (tests/store/test_sqlite_store.py), v1 none

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._made = 0

    def new_url(self) -> str:
        self._made += 1
        return f"sqlite:///{self._folder}/store{self._made}.db"

    @staticmethod
    def _path(url: str) -> str:
        return url.removeprefix("sqlite:///")

    def count(self, url: str, table: str) -> int:
        with sqlite3.connect(self._path(url)) as con:
            return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def set_version(self, url: str, version: int) -> None:
        with sqlite3.connect(self._path(url)) as con:
            con.execute(f"PRAGMA user_version = {version}")

    def version(self, url: str) -> int:
        with sqlite3.connect(self._path(url)) as con:
            return int(con.execute("PRAGMA user_version").fetchone()[0])

    def make_foreign(self, url: str) -> None:
        with sqlite3.connect(self._path(url)) as con:
            con.execute("CREATE TABLE t (x)")
            con.execute("INSERT INTO t VALUES (1)")

    def exists(self, url: str) -> bool:
        return os.path.exists(self._path(url))

    def fingerprint(self, url: str) -> object:
        """The file's bytes and every file beside it (a -wal, -shm or lock file would show)."""
        path = Path(self._path(url))
        return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(p.name for p in path.parent.iterdir())

    def close(self) -> None:
        pass


class PostgresBackend:
    """Stores are fresh schemas of the test server's database, chosen by ``options=-csearch_path``."""

    name = "postgresql"
    unmigratable_version = 0  # the PostgreSQL schema starts at version 1

    def __init__(self, admin_url: str) -> None:
        import psycopg

        import networkpulse.store.postgres as postgres_module

        self.module: ModuleType = postgres_module
        self._admin_url = admin_url
        self._admin = psycopg.connect(admin_url, autocommit=True)
        self._schemas: dict[str, str] = {}

    def new_url(self) -> str:
        schema = f"pulse_test_{uuid.uuid4().hex[:12]}"
        self._admin.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{self._admin_url}{'&' if '?' in self._admin_url else '?'}options=-csearch_path%3D{schema}"
        self._schemas[url] = schema
        return url

    def _one(self, query: str, url: str) -> Any:
        row = self._admin.execute(query.format(s=f'"{self._schemas[url]}"')).fetchone()
        return row[0] if row else None

    def count(self, url: str, table: str) -> int:
        return int(self._one(f"SELECT count(*) FROM {{s}}.{table}", url))

    def set_version(self, url: str, version: int) -> None:
        self._admin.execute(f'UPDATE "{self._schemas[url]}".networkpulse_store SET version = %s', (version,))

    def version(self, url: str) -> int:
        return int(self._one("SELECT version FROM {s}.networkpulse_store", url))

    def make_foreign(self, url: str) -> None:
        self._admin.execute(f'CREATE TABLE "{self._schemas[url]}".t (x integer)')
        self._admin.execute(f'INSERT INTO "{self._schemas[url]}".t VALUES (1)')

    def exists(self, url: str) -> bool:
        return bool(
            self._admin.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
                (self._schemas[url],),
            ).fetchone()[0]  # type: ignore[index]
        )

    def fingerprint(self, url: str) -> object:
        """Every relation of the schema, and the foreign table's rows."""
        schema = self._schemas[url]
        relations = self._admin.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s ORDER BY 1",
            (schema,),
        ).fetchall()
        return relations, self._admin.execute(f'SELECT * FROM "{schema}".t ORDER BY 1').fetchall()

    def close(self) -> None:
        # A test that failed may have left a store open; a lock timeout keeps teardown from hanging on it.
        self._admin.execute("SET lock_timeout = '10s'")
        for schema in self._schemas.values():
            self._admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        self._admin.close()


Backend = SQLiteBackend | PostgresBackend


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """One store backend per run of the test: SQLite files, or PostgreSQL schemas."""
    made: Backend
    if request.param == "sqlite":
        made = SQLiteBackend(tmp_path)
    else:
        admin_url = os.environ.get(POSTGRES_ENV)
        if not admin_url:
            pytest.skip(f"{POSTGRES_ENV} is unset: run `bash scripts/postgres.sh start` and export its last line as "
                        f"{POSTGRES_ENV} (scripts/test.sh does both)")
        made = PostgresBackend(admin_url)
    yield made
    made.close()


@pytest.fixture
def url(backend: Backend) -> str:
    """A fresh, empty store location of the backend under test."""
    return backend.new_url()
