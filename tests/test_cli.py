"""The `pulse` command as a user runs it: the installed entry point in a subprocess, real GH Archive files.

Exit status contract (``networkpulse.cli``): 0 done, 3 done but input skipped, 1 fatal error, 2 bad flag.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gharchive"
HOUR_2015 = DATA / "2015-01-01-12.json.gz"
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _pulse_executable() -> str:
    beside = Path(sys.executable).with_name("pulse")
    found = str(beside) if beside.exists() else shutil.which("pulse")
    if not found:
        pytest.fail("the `pulse` command is not installed: run bash scripts/setup.sh")
    return found


PULSE = _pulse_executable()


def pulse(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``pulse ARGS`` with no PULSE_* variables inherited (so the user's environment cannot leak in)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    return subprocess.run(
        [PULSE, *map(str, args)], env={**base, **(env or {})}, cwd=cwd, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def stored_windows(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return con.execute("SELECT count(*) FROM windows").fetchone()[0]


@pytest.fixture(scope="module", autouse=True)
def _data() -> None:
    if not HOUR_2015.is_file():
        pytest.fail(f"real GH Archive data missing: {HOUR_2015} (tests read ../shared/data/gharchive beside the repo)")


@pytest.fixture(scope="module")
def hour_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One `pulse run` of a real 2015 hour into a fresh SQLite store (shared by the export tests)."""
    db = tmp_path_factory.mktemp("run") / "pulse.db"
    result = pulse("run", HOUR_2015, "--store", f"sqlite:///{db}", "--window", "10m", "--slide", "1m")
    return db, result


# ---------------------------------------------------------------------------------------------- help


def test_help_lists_the_commands() -> None:
    result = pulse("--help")
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("Commands:", 1)[1]
    for name in ("run", "demo", "serve", "export"):
        assert re.search(rf"^\s+{name}\s", commands, re.MULTILINE), result.stdout
    export = pulse("export", "--help")
    assert export.returncode == 0
    assert "interactions" in export.stdout and "windows" in export.stdout


def test_every_run_flag_names_its_env_var() -> None:
    out = pulse("run", "--help").stdout
    flags = re.findall(r"^\s+(--[a-z-]+)", out, re.MULTILINE)
    assert {"--window", "--slide", "--store", "--speed", "--rate", "--quarantine"} <= set(flags)
    for flag in ("window", "slide", "rolling", "lateness", "min_size", "retention", "quarantine", "store", "speed",
                 "rate", "loops"):
        assert f"PULSE_{flag.upper()}" in out, flag


# ---------------------------------------------------------------------------------------------- run + export


def test_run_then_export_windows(hour_store: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    db, run = hour_store
    assert run.returncode == 0, run.stderr
    stored = stored_windows(db)
    assert stored > 0
    assert re.search(rf"^{stored} windows stored in sqlite:///", run.stderr, re.MULTILINE), run.stderr
    assert "nothing skipped" in run.stderr

    result = pulse("export", "windows", "--store", f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr
    windows = jsonl(result.stdout)
    assert len(windows) == stored
    ids = [w["id"] for w in windows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for w in windows:
        for key in ("start", "end", "vertices", "edges", "components", "largest"):
            assert key in w, (key, w)
        assert ISO_Z.match(str(w["start"])) and ISO_Z.match(str(w["end"])), w
        assert isinstance(w["vertices"], int) and isinstance(w["edges"], int)
        assert 0 < w["largest"] <= w["vertices"], w  # type: ignore[operator]
        assert 0 < w["components"] <= w["vertices"], w  # type: ignore[operator]
        assert "cluster_list" not in w
    # 10-minute windows sliding by 1 minute over the 2015-01-01 12:00 hour
    assert all(w["start"].startswith("2015-01-01T1") for w in windows)  # type: ignore[union-attr]
    assert f"{stored} windows exported" in result.stderr


def test_export_windows_to_a_file_with_clusters(hour_store: tuple[Path, subprocess.CompletedProcess[str]],
                                                tmp_path: Path) -> None:
    db, _ = hour_store
    out = tmp_path / "windows.jsonl"
    result = pulse("export", "windows", "--store", f"sqlite:///{db}", "--clusters", "2", "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    windows = jsonl(out.read_text())
    assert len(windows) == stored_windows(db)
    assert any(w.get("cluster_list") for w in windows)


def test_export_interactions() -> None:
    result = pulse("export", "interactions", DATA / "2011-02-15-0.json.gz")
    assert result.returncode == 0, result.stderr
    rows = jsonl(result.stdout)
    assert len(rows) > 100
    for row in rows:
        assert {"src", "dst", "type", "created_at"} <= row.keys(), row
        assert row["src"] and row["dst"] and row["src"] != row["dst"], row
        assert str(row["created_at"]).startswith("2011-02-15T"), row
        assert ISO_Z.match(str(row["created_at"])), row
    m = re.search(r"^(\d+) interactions from (\d+) events", result.stderr, re.MULTILINE)
    assert m and int(m[1]) == len(rows), result.stderr


# ---------------------------------------------------------------------------------------------- bad flags: exit 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--window", "7x"], r"--window.*expected a duration such as 30s, 10m"),
        (["--window", "7m", "--slide", "2m"], r"--window/--slide.*must be a whole number of slides"),
        (["--speed", "fast"], r"--speed: expected a positive speed-up of event time such as 60x"),
        (["--speed", "2x", "--rate", "10/s"], r"expected at most one of --speed, --rate, --as-fast-as-possible"),
    ],
    ids=["window-unit", "window-not-multiple", "speed-word", "speed-and-rate"],
)
def test_bad_flags_exit_2(args: list[str], expected: str, tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    result = pulse("run", HOUR_2015, "--store", f"sqlite:///{db}", *args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert re.search(expected, result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()


def test_bad_env_var_exits_2_and_names_it(tmp_path: Path) -> None:
    result = pulse("run", HOUR_2015, "--store", f"sqlite:///{tmp_path / 'x.db'}", env={"PULSE_WINDOW": "ten"})
    assert result.returncode == 2
    assert "PULSE_WINDOW" in result.stderr and "'ten'" in result.stderr


# ---------------------------------------------------------------------------------------------- errors: exit 1


def test_missing_source_exits_1_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "2015-01-01-99.json.gz"
    result = pulse("run", missing, "--store", f"sqlite:///{tmp_path / 'p.db'}")
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert str(missing) in result.stderr
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------- skipped input: exit 3


def test_bad_lines_exit_3_with_file_line_and_quarantine(tmp_path: Path) -> None:
    with gzip.open(HOUR_2015, "rb") as f:
        lines = [next(f) for _ in range(200)]
    bad = tmp_path / "bad.json.gz"
    with gzip.open(bad, "wb") as f:
        f.writelines(lines[:20])
        f.write(b'{"id": "1", "type": "PushEvent", not json\n')  # line 21
        f.writelines(lines[20:])
    # The cut file holds the next hour (the same events an hour later would all be late after the first file).
    whole = gzip.compress(b"".join(lines).replace(b'"created_at":"2015-01-01T12:', b'"created_at":"2015-01-01T13:'))
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    quarantine = tmp_path / "quarantine.jsonl"
    db = tmp_path / "p.db"

    result = pulse("run", bad, cut, "--store", f"sqlite:///{db}", "--quarantine", quarantine)
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert f"{bad}:21:" in result.stderr, result.stderr
    assert re.search(rf"{re.escape(str(cut))}:\d+: truncated_gzip", result.stderr), result.stderr
    assert "skipped 2" in result.stderr
    quarantined = jsonl(quarantine.read_text())
    by_reason = {str(q["reason"]).split(":")[0]: q for q in quarantined}
    assert set(by_reason) == {"malformed_json", "truncated_gzip"}
    assert (by_reason["malformed_json"]["source"], by_reason["malformed_json"]["line"]) == (str(bad), 21)
    assert "not json" in str(by_reason["malformed_json"]["raw"])
    assert by_reason["truncated_gzip"]["source"] == str(cut)
    assert stored_windows(db) > 0  # the good lines around the bad ones still made windows


def test_export_interactions_bad_line_exits_3(tmp_path: Path) -> None:
    with gzip.open(HOUR_2015, "rb") as f:
        lines = [next(f) for _ in range(50)]
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"".join(lines[:5]) + b"{oops\n" + b"".join(lines[5:]))
    result = pulse("export", "interactions", bad)
    assert result.returncode == 3, result.stderr
    assert f"{bad}:6" in result.stderr
    assert len(jsonl(result.stdout)) > 0


# ---------------------------------------------------------------------------------------------- environment


def test_env_window_is_honoured(tmp_path: Path, hour_store: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    db = tmp_path / "p.db"
    result = pulse("run", HOUR_2015, "--store", f"sqlite:///{db}", env={"PULSE_WINDOW": "5m"})
    assert result.returncode == 0, result.stderr
    windows = jsonl(pulse("export", "windows", env={"PULSE_STORE": f"sqlite:///{db}"}).stdout)
    assert windows and all(w["end_ms"] - w["start_ms"] == 5 * 60_000 for w in windows)  # type: ignore[operator]
    default = jsonl(pulse("export", "windows", "--store", f"sqlite:///{hour_store[0]}").stdout)
    assert all(w["end_ms"] - w["start_ms"] == 10 * 60_000 for w in default)  # type: ignore[operator]


def test_flag_beats_env_var(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    result = pulse("run", HOUR_2015, "--store", f"sqlite:///{db}", "--window", "2m",
                   env={"PULSE_WINDOW": "5m", "PULSE_SLIDE": "1m"})
    assert result.returncode == 0, result.stderr
    windows = jsonl(pulse("export", "windows", "--store", f"sqlite:///{db}").stdout)
    assert windows and all(w["end_ms"] - w["start_ms"] == 2 * 60_000 for w in windows)  # type: ignore[operator]
