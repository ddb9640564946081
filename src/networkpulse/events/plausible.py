"""Is an event's time plausible? One poisoned ``created_at`` (say 9999-12-31) in the middle of a real hour would
move the engine's watermark years ahead, and every later event of the hour would be dropped as late.

The rule, per source (a file, or stdin), on each decoded chunk (~450 events) at once:

- an event more than ``max_skew_ms`` (default :data:`DEFAULT_MAX_SKEW_MS`, one hour) ahead of the *median* time of
  the events around it is implausible. "Around it" is its chunk plus the last :data:`RECENT_EVENTS` accepted
  events of the same source, so a tiny last chunk (one line) still has a reference. The median ignores a few
  poisoned values however far off they are; a GH Archive hour spans one hour of event time in file order,
  so a real event is never far ahead of its neighbours;
- an event before :data:`GITHUB_EPOCH_MS` (2007-10-01T00:00:00Z, before GitHub existed) is implausible;
- an event more than ``max_skew_ms`` after the wall clock when its chunk is read is implausible (no source holds
  events from the future; this catches a poisoned event that has no neighbours, alone in its file).

The reference restarts with each source, so gaps of years *between* files (a run over every era) stay legal.
Events far *behind* their neighbours are left alone: they cannot move the watermark; the engine counts them as
late. Known limit: after a jump of years *inside* one file, events are rejected until they outnumber the accepted
ones in their reference, which is within about one chunk (~450 events) after the jump.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

#: Default ``max_skew_ms`` of :func:`~networkpulse.events.iter_event_batches`: one hour ahead of the neighbours.
DEFAULT_MAX_SKEW_MS = 3_600_000
#: 2007-10-01T00:00:00Z in epoch ms: GitHub's development started then; no GitHub event is older.
GITHUB_EPOCH_MS = 1_191_196_800_000
#: Accepted events of the source that join each chunk's median (the reference of a small chunk).
RECENT_EVENTS = 256


class TimeCheck:
    """The plausibility rule above for one source; :meth:`check` each chunk in order.

    O(n) per chunk of n events and no numpy call on the common path: the chunk's min and max (Python's, over
    ``tolist()``) prove it plausible without a median whenever it lies within ``max_skew_ms`` of the reference's
    minimum, as every GH Archive chunk does (it spans minutes). Measured here, even tiny numpy reductions between
    two msgspec decodes slow the next decode by ~0.2 ms each, so the hot path avoids them. Otherwise a median by
    partition over n + :data:`RECENT_EVENTS` values.
    """

    def __init__(self, max_skew_ms: int, clock: Callable[[], float] = time.time) -> None:
        if max_skew_ms < 0:
            raise ValueError(f"max_skew_ms: expected >= 0, got {max_skew_ms}")
        self.max_skew_ms = max_skew_ms
        self._clock = clock  # seconds since the epoch; read per chunk, so an endless stdin stream stays current
        self.now_ms = 0
        self.median_ms = 0
        self._recent: list[int] = []  # the last RECENT_EVENTS accepted times, oldest first
        self._recent_low = 0

    def check(self, times_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_] | None:
        """Mask of the implausible times of one chunk (epoch ms), or None when all are plausible (the norm); the
        accepted ones become part of the next chunk's reference."""
        stamps = times_ms.tolist()
        if not stamps:
            return None
        self.now_ms = int(self._clock() * 1000)
        low, high = min(stamps), max(stamps)
        if self._recent:
            low = min(low, self._recent_low)
        bad = None
        # The median is never below the reference's minimum, so this proves every time plausible.
        if high > min(low, self.now_ms) + self.max_skew_ms or low < GITHUB_EPOCH_MS:
            self.median_ms = int(np.median(np.array(self._recent + stamps, np.int64)))
            limit = min(self.median_ms, self.now_ms) + self.max_skew_ms
            mask = (times_ms < GITHUB_EPOCH_MS) | (times_ms > limit)
            if np.count_nonzero(mask):
                bad, stamps = mask, times_ms[~mask].tolist()
        self._recent = (self._recent + stamps)[-RECENT_EVENTS:]
        if self._recent:
            self._recent_low = min(self._recent)
        return bad

    def explain(self, created_at: datetime, ms: int) -> str:
        """Why ``created_at`` (``ms`` in epoch ms) was found implausible by the last :meth:`check`."""
        got = f"created_at {created_at.isoformat()}"
        if ms < GITHUB_EPOCH_MS:
            return f"{got} is before {_iso(GITHUB_EPOCH_MS)}, when GitHub did not exist yet; skipped"
        if self.now_ms < self.median_ms:
            return (
                f"{got} is more than max_skew_ms={self.max_skew_ms} after the time it was read, "
                f"{_iso(self.now_ms)}; skipped"
            )
        ahead = (ms - self.median_ms) / 3_600_000
        return (
            f"{got} is {ahead:,.1f} h ahead of {_iso(self.median_ms)}, the median time of the events around it "
            f"(expected at most max_skew_ms={self.max_skew_ms} ahead); skipped"
        )


def _iso(ms: int) -> str:
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):  # past 9999-12-31 in UTC (9999-12-31T23:59-14:00 is)
        return f"{ms} ms after 1970-01-01T00:00:00Z"
