"""Shared by the api and metrics tests: the real GH Archive files and `pulse` run as a user runs it."""

from __future__ import annotations

import json

import pytest

from tests.test_cli import DATA, HOUR_2015, PULSE, pulse

__all__ = ["DATA", "HOUR_2015", "PULSE", "REAL_FILES", "jsonl", "pulse", "require_data"]

#: Every real file, one per GH Archive era (2011 events-API, 2013-14 timeline, 2015, 2025).
REAL_FILES = sorted(DATA.glob("*.json.gz"))


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def require_data() -> None:
    if not HOUR_2015.is_file():
        pytest.fail(f"real GH Archive data missing: {HOUR_2015} (tests read ../shared/data/gharchive beside the repo)")
