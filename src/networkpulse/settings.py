"""One settings object for a pipeline run, and the parsers for the values users type (durations, paces).

Every CLI flag is also an environment variable ``PULSE_<FLAG>`` (see ``pulse run --help``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from networkpulse.engine.types import WindowConfig
from networkpulse.errors import ConfigError

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
# Units are lower case only: "10M" could mean months or mega-anything, so it is refused rather than guessed.
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)?\s*$")


def parse_duration(text: str, what: str = "duration") -> int:
    """``"10m"`` → 600000 ms. Units (lower case): ms, s, m (or min), h, d; a bare number means seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise ConfigError(what, "a duration such as 30s, 10m, 1h or 500ms (units ms, s, m, h, d in lower case)",
                          text)
    value, unit = float(match[1]), match[2] or "s"
    ms = round(value * _UNITS_MS[unit])
    return ms


def format_duration(ms: int) -> str:
    """The shortest spelling :func:`parse_duration` reads back: 600000 → ``"10m"``, 1500 → ``"1500ms"``."""
    if not ms:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        if ms % _UNITS_MS[unit] == 0:
            return f"{ms // _UNITS_MS[unit]}{unit}"
    return f"{ms}ms"


def describe_window(config: Mapping[str, Any]) -> str:
    """Window settings (a ``WindowConfig`` as a dict) as the flags that give them, for messages."""
    flags = [f"--window {format_duration(config['size_ms'])}"]
    flags.append("--rolling" if config["rolling"] else f"--slide {format_duration(config['slide_ms'])}")
    flags.append(f"--lateness {format_duration(config['lateness_ms'])}")
    flags.append(f"--min-size {config['min_size']}")
    return " ".join(flags)


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast to replay: ``speed`` × event time, or ``rate`` events per wall-clock second, or unpaced."""

    speed: float | None = None
    rate: float | None = None

    @property
    def unpaced(self) -> bool:
        return self.speed is None and self.rate is None

    def __str__(self) -> str:
        if self.speed is not None:
            return f"{self.speed:g}x event time"
        if self.rate is not None:
            return f"{self.rate:g} events/s"
        return "as fast as possible"


def parse_pace(speed: str | None, rate: str | None, fast: bool) -> Pace:
    """Exactly one of ``--speed 60x``, ``--rate 5000/s`` or ``--as-fast-as-possible`` (the default)."""
    given = [name for name, v in (("--speed", speed), ("--rate", rate), ("--as-fast-as-possible", fast)) if v]
    if len(given) > 1:
        raise ConfigError("pace", "at most one of --speed, --rate, --as-fast-as-possible", " and ".join(given))
    if speed:
        m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*x?\s*$", speed, re.IGNORECASE)
        if not m or float(m[1]) <= 0:
            raise ConfigError("--speed", "a positive speed-up of event time such as 60x", speed)
        return Pace(speed=float(m[1]))
    if rate:
        m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(?:/s|/sec|eps)?\s*$", rate, re.IGNORECASE)
        if not m or float(m[1]) <= 0:
            raise ConfigError("--rate", "a positive event rate such as 5000/s", rate)
        return Pace(rate=float(m[1]))
    return Pace()


def bundled_sources() -> list[str]:
    """The real GH Archive hour shipped inside the package (used when no SOURCE is given)."""
    data = resources.files("networkpulse") / "data"
    return [str(data / "2015-01-01-12.json.gz")]


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a pipeline run needs; built by the CLI from flags/env, or directly in code and tests."""

    sources: tuple[str, ...] = field(default_factory=lambda: tuple(bundled_sources()))
    window: WindowConfig = field(default_factory=WindowConfig)
    store_url: str = "sqlite:///pulse.db"
    retention: int | None = None
    pace: Pace = Pace()
    loops: int = 1  # 0 = forever (replay with time shifted by the data's span each loop)
    quarantine: str | None = None
    max_line_bytes: int = 16 << 20
    workers: int = 1  # parsing processes; > 1 parses several files at once (unpaced runs, no stdin/quarantine)
    start_over: bool = False  # delete the store's windows and checkpoint first instead of continuing them
