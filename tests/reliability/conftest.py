"""Fixtures of the reliability tests: a day of real hour files named the official way, and its windows from one
undisturbed run (the reference every killed, split or PostgreSQL run must reproduce)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.helpers import WINDOW, day_folder, pulse, windows_of


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return day_folder(tmp_path_factory.mktemp("day") / "2015-01-01")


@pytest.fixture(scope="module")
def undisturbed(day: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[object, ...]]:
    """The day run once into SQLite, in the form of :func:`~tests.reliability.helpers.windows_of`."""
    db = tmp_path_factory.mktemp("ref") / "ref.db"
    result = pulse("run", day, "--store", f"sqlite:///{db}", *WINDOW, "--workers", "2")
    assert result.returncode == 0 and "late 0" in result.stderr, result.stderr
    windows = windows_of(db)
    assert len(windows) == 24 * 60 + 9 and sum(w[10] for w in windows) == 10  # the last 10 are provisional
    return windows
