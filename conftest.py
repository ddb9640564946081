"""Session-wide test ordering.

Browser tests run last: their session-scoped Playwright (sync API) keeps an event loop running in the main
thread until the session ends, and any later test that calls ``asyncio.run()`` would fail with "cannot be
called from a running event loop". Order within each group is unchanged.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)  # stable: keeps the rest in order
