"""Replay interaction batches at a pace (speed-up of event time or events per second), looping with time shifted.

The 2016 system's "mock firehose". Pacing sleeps between batches, so a batch (a few thousand events, well under a
second of event time at GH Archive rates) is the granularity of the pace.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from networkpulse.settings import Pace
from networkpulse.venturi.types import InteractionBatch


class Pacer:
    """Sleeps so that batches leave no faster than the pace. O(1) per batch."""

    def __init__(self, pace: Pace, clock: Callable[[], float] = time.monotonic) -> None:
        self.pace = pace
        self._clock = clock
        self._wall0: float | None = None
        self._event0: int | None = None
        self._events = 0

    def wait(self, batch: InteractionBatch) -> None:
        if self.pace.unpaced or not len(batch.event_times_ms):
            return
        now = self._clock()
        if self._wall0 is None:
            self._wall0 = now
            self._event0 = int(batch.event_times_ms.min())
        if self.pace.speed is not None:
            assert self._event0 is not None
            due = self._wall0 + (int(batch.event_times_ms.max()) - self._event0) / 1000 / self.pace.speed
        else:
            assert self.pace.rate is not None
            self._events += len(batch.event_times_ms)
            due = self._wall0 + self._events / self.pace.rate
        if due > now:
            time.sleep(due - now)


def shifted(batch: InteractionBatch, offset_ms: int) -> InteractionBatch:
    """The same batch ``offset_ms`` later in event time (a loop of the replay); where each event came from
    (``source``, ``event_lines``) is unchanged."""
    if not offset_ms:
        return batch
    return InteractionBatch(
        src=batch.src,
        dst=batch.dst,
        kind=batch.kind,
        event_type=batch.event_type,
        created_at_ms=batch.created_at_ms + np.int64(offset_ms),
        event_id=batch.event_id,
        event_times_ms=batch.event_times_ms + np.int64(offset_ms),
        source=batch.source,
        event_lines=batch.event_lines,
    )


def replay(
    read: Callable[[int], Iterable[InteractionBatch]],
    loops: int,
    align_ms: int,
    *,
    first_loop: int = 0,
    span_ms: int | None = None,
    on_span: Callable[[int], None] | None = None,
) -> Iterator[InteractionBatch]:
    """Yield ``read(loop)``'s batches for loops ``first_loop, first_loop + 1, …`` up to ``loops`` (0 = forever).

    Each loop is shifted by the first loop's time span rounded up to ``align_ms``, so windows keep their alignment
    and the stream reads as one continuous history. A run that continues a replay (from a checkpoint) passes the
    loop it stopped in and the span it had found (``on_span`` is told the span once known). Stops when the first
    loop gives nothing, or when two loops in a row give nothing (nothing left to replay).
    """
    span = span_ms
    first = last = None
    empty_loops = 0
    for loop in itertools.count(first_loop):
        if loops and loop >= loops:
            return
        offset = 0 if span is None else span * loop
        yielded = False
        for batch in read(loop):
            yielded = True
            if span is None and len(batch.event_times_ms):
                lo, hi = int(batch.event_times_ms.min()), int(batch.event_times_ms.max())
                first = lo if first is None else min(first, lo)
                last = hi if last is None else max(last, hi)
            yield shifted(batch, offset)
        empty_loops = 0 if yielded else empty_loops + 1
        if span is None:
            if first is None or last is None:  # nothing to replay
                return
            span = -(-(last - first + 1) // align_ms) * align_ms
            if on_span is not None:
                on_span(span)
        if empty_loops >= 2:
            return
