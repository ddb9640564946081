"""Fixtures for the bus tests: the real servers of scripts/kafka.sh and scripts/postgres.sh, by URL.

Tests marked ``kafka`` or ``postgres`` skip only when PULSE_TEST_KAFKA / PULSE_TEST_POSTGRES is unset
(scripts/test.sh starts both servers and sets them, so in CI they run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "gharchive"
SERVERS = {
    "kafka": ("PULSE_TEST_KAFKA", "bash scripts/kafka.sh start"),
    "postgres": ("PULSE_TEST_POSTGRES", "bash scripts/postgres.sh start"),
}


@pytest.fixture(autouse=True)
def _needs_server(request: pytest.FixtureRequest) -> None:
    for marker, (variable, command) in SERVERS.items():
        if request.node.get_closest_marker(marker) and not os.environ.get(variable):
            pytest.skip(f"{variable} is unset: run `{command}` and export its last line as {variable}")


@pytest.fixture
def kafka_url() -> str:
    """``kafka://HOST:PORT`` of the test broker."""
    return os.environ["PULSE_TEST_KAFKA"].rstrip("/")


@pytest.fixture
def postgres_url() -> str:
    return os.environ["PULSE_TEST_POSTGRES"]


@pytest.fixture
def new_topic(kafka_url: str) -> Iterator[Callable[[str, int], str]]:
    """``new_topic(name, partitions)`` creates a fresh topic (and its .dlq) and returns its URL; both are deleted
    after the test, so the broker's data dir does not grow with every run (retention is infinite)."""
    from confluent_kafka.admin import AdminClient

    from networkpulse.bus import BusUrl, create_topics

    made: list[str] = []

    def make(name: str, partitions: int = 1) -> str:
        url = f"{kafka_url}/test.{name}.{uuid.uuid4().hex[:10]}"
        create_topics(url, partitions)
        made.append(BusUrl.parse(url).topic)
        return url

    yield make
    if made:
        admin = AdminClient({"bootstrap.servers": BusUrl.parse(kafka_url + "/x").servers})
        for future in admin.delete_topics([t + suffix for t in made for suffix in ("", ".dlq")]).values():
            future.result(timeout=30)
