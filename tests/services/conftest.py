"""Fixtures for the service tests: the broker of scripts/kafka.sh (PULSE_TEST_KAFKA), fresh topics deleted after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture(autouse=True)
def _needs_kafka(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("kafka") and not os.environ.get("PULSE_TEST_KAFKA"):
        pytest.skip("PULSE_TEST_KAFKA is unset: run `bash scripts/kafka.sh start` and export its last line as it")


def _topics(kafka_url: str) -> Iterator[Callable[[str], str]]:
    """``make(name)`` gives a unique topic URL (not created: the services create their topics); every topic made,
    with its .dlq, is deleted afterwards (the broker keeps data forever)."""
    from confluent_kafka.admin import AdminClient

    from networkpulse.bus import BusUrl

    made: list[str] = []

    def make(name: str) -> str:
        url = f"{kafka_url}/test.{name}.{uuid.uuid4().hex[:10]}"
        made.append(BusUrl.parse(url).topic)
        return url

    yield make
    if made:
        admin = AdminClient({"bootstrap.servers": BusUrl.parse(kafka_url + "/x").servers})
        existing = admin.list_topics(timeout=30).topics
        doomed = [t + suffix for t in made for suffix in ("", ".dlq") if t + suffix in existing]
        for future in (admin.delete_topics(doomed).values() if doomed else ()):
            future.result(timeout=30)


@pytest.fixture(scope="module")
def kafka_url() -> str:
    """``kafka://HOST:PORT`` of the test broker ('' when unset: the tests using it are skipped)."""
    return os.environ.get("PULSE_TEST_KAFKA", "").rstrip("/")


@pytest.fixture
def new_topic(kafka_url: str) -> Iterator[Callable[[str], str]]:
    yield from _topics(kafka_url)


@pytest.fixture(scope="module")
def module_topic(kafka_url: str) -> Iterator[Callable[[str], str]]:
    """As ``new_topic``, for topics several tests of a module read (a raw topic replayed once)."""
    yield from _topics(kafka_url)
