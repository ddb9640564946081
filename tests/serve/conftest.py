"""Fixtures for the serve tests: a real SQLite store filled with hand-built windows, and real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from networkpulse.serve import create_app
from networkpulse.store import open_store
from networkpulse.store.base import Store
from tests.serve.helpers import LOGINS, STATS, LiveServer, cluster, window


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'pulse.db'}"


@pytest.fixture
def writer(store_url: str) -> Iterator[Store]:
    """The pipeline side: a writable handle on the same file the server reads."""
    store = open_store(store_url)
    yield store
    store.close()


@pytest.fixture
def filled(writer: Store) -> list[int]:
    """Three windows: two clusters (sizes 4 and 3), then one of 3 with a bot, then none. Returns their ids."""
    w0 = window(0, (cluster([0, 1, 2, 3], [(0, 1), (1, 2), (1, 3)]), cluster([4, 5, 6], [(4, 6), (5, 6)])))
    w1 = window(1, (cluster([0, 4, 6], [(0, 4), (4, 6)]),), late_events=2)
    w2 = window(2, ())
    return writer.write([w0, w1, w2], LOGINS, STATS)


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(store_url)) as test_client:
        yield test_client


@pytest.fixture
def live_server(store_url: str) -> Iterator[LiveServer]:
    with LiveServer(store_url) as server:
        yield server
