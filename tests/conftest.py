"""Fixtures for every test folder: the PostgreSQL server of scripts/postgres.sh (PULSE_TEST_POSTGRES) and
a fresh store location per test (a schema of its own, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

ENV = "PULSE_TEST_POSTGRES"


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """An admin connection to the test server (scripts/test.sh exports its URL)."""
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"{ENV} is unset: run `bash scripts/postgres.sh start` and export its last line as {ENV}")
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        yield admin


@pytest.fixture
def store_url(server: Any) -> Iterator[str]:
    """A fresh, empty PostgreSQL store location (a schema of its own, dropped afterwards)."""
    base = os.environ[ENV]
    schema = f"pulse_test_{uuid.uuid4().hex[:12]}"
    server.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    server.execute("SET lock_timeout = '10s'")
    server.execute(f'DROP SCHEMA "{schema}" CASCADE')
