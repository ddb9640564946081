"""The skinny interaction record batch that venturi emits and the engine consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class InteractionBatch:
    """Column-oriented interactions ``(src, dst, kind, event_type, created_at_ms, event_id)``.

    All interaction columns have the same length. ``event_times_ms`` holds the time of *every* valid event of
    the batch, kept or filtered, so windows can count raw events; ``event_lines`` (same length and order) the
    1-based line of each of those events in ``source``, the one file (or ``-``) the batch came from, so a late
    or odd event can be reported as file:line. ``src != dst`` always holds. On Kafka, ``origin`` is the raw-topic
    partition the batch's events came from (one time-ordered stream) and ``origins`` that topic's partition count;
    the window merger keeps a watermark per origin (-1 and 0 when not read from Kafka).
    """

    src: list[str] = field(default_factory=list)
    dst: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    event_type: list[str] = field(default_factory=list)
    created_at_ms: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    event_id: list[str] = field(default_factory=list)
    event_times_ms: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    source: str = ""
    event_lines: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    origin: int = -1
    origins: int = 0

    def __len__(self) -> int:
        return len(self.src)
