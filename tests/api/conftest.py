"""Stores written by `pulse run` from real GH Archive files, once per test session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.api.helpers import HOUR_2015, pulse, require_data


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], str]:
    """``real_store(file)``: the URL of a SQLite store `pulse run FILE` wrote (each file run once per session)."""
    require_data()
    made: dict[Path, str] = {}

    def make(source: Path) -> str:
        if source not in made:
            db = tmp_path_factory.mktemp("store") / f"{source.name.split('.')[0]}.db"
            done = pulse("run", source, "--store", f"sqlite:///{db}", "--no-progress")
            assert done.returncode == 0, done.stderr
            made[source] = f"sqlite:///{db}"
        return made[source]

    return make


@pytest.fixture(scope="session")
def store_2015(real_store: Callable[[Path], str]) -> str:
    return real_store(HOUR_2015)
