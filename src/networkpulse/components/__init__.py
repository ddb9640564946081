"""The components stage split for scale-out: pane reduction per origin (forest workers) and the window merger.

Both are pure (no I/O, no clock: the merger is handed the time): :func:`reduce_panes` turns one origin's
interaction batches into :class:`PaneParts`, :class:`Merger` folds parts from every origin into the window engine
under per-origin watermarks and emits windows. The Kafka services in :mod:`networkpulse.services` wrap them.
"""

from networkpulse.components.merger import Merger, MergerState, WindowRecord, window_record
from networkpulse.components.panes import PaneParts, reduce_panes

__all__ = ["Merger", "MergerState", "PaneParts", "WindowRecord", "reduce_panes", "window_record"]
