"""Schemathesis against the app's own /openapi.json: every generated request gets a documented answer.

Checks every response against its declared model and status codes (no 500, 4xx bodies are ErrorDetail),
over a real SQLite store holding windows, clusters and logins for the generator to hit.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from networkpulse.analytics import AnalyticsConfig, AnalyticsState, annotate
from networkpulse.serve import create_app
from networkpulse.store import open_store
from tests.serve.helpers import LOGINS, MINUTE_MS, STATS, busy_window, cluster, window

# schemathesis collects tests from a schema loaded at import; the app opens its store lazily, so the file can
# be created and filled by the fixture below, before the first request.
_DIR = Path(tempfile.mkdtemp(prefix="pulse-schema-"))
_URL = f"sqlite:///{_DIR / 'pulse.db'}"
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_URL))


@pytest.fixture(scope="module", autouse=True)
def stored_windows() -> Iterator[None]:
    store = open_store(_URL)
    # Small ids (0, 1, 2 …) are what the generator tries first, so they exist and have clusters; the analytics
    # stage annotates them, so the lives routes answer with their full models too.
    windows = [window(0, (cluster([0, 1, 2], [(0, 1), (1, 2)]),)), busy_window(1, n_clusters=3, size=4), window(2)]
    _, notes = annotate(AnalyticsState(), windows, AnalyticsConfig(step_ms=MINUTE_MS))
    store.write(windows, LOGINS, STATS, analytics=notes)
    store.close()
    yield
    shutil.rmtree(_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate()
