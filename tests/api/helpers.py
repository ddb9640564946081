"""Shared by the api and metrics tests: the real GH Archive files and `pulse` run as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "gharchive"
HOUR_2015 = DATA / "2015-01-01-12.json.gz"
#: Every real file, one per GH Archive era (2011 events-API, 2013-14 timeline, 2015, 2025).
REAL_FILES = sorted(DATA.glob("*.json.gz"))


def pulse_executable() -> str:
    beside = Path(sys.executable).with_name("pulse")
    found = str(beside) if beside.exists() else shutil.which("pulse")
    if not found:
        pytest.fail("the `pulse` command is not installed: run bash scripts/setup.sh")
    return found


def pulse(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``pulse ARGS`` in a subprocess with no PULSE_* variables inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    return subprocess.run([pulse_executable(), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def require_data() -> None:
    if not HOUR_2015.is_file():
        pytest.fail(f"real GH Archive data missing: {HOUR_2015} (tests read ../shared/data/gharchive beside the repo)")
